"""Refusing a job that would not fit: the machine's usable memory and the per-stage check."""

from __future__ import annotations

from typing import Any

from ltx_core.errors import LTXError
from ltx_core.memory.common import GIB, gib
from ltx_core.memory.estimate import MemoryEstimate, estimate_for_preset, estimate_memory


class InsufficientMemoryError(LTXError):
    """A stage of the requested generation is predicted not to fit in the available memory."""


def default_margin(total_bytes: int) -> int:
    """Headroom left to macOS and other apps: 20% of RAM, at least 4 GiB (Metal's wired limit and
    the system's own use make the last GBs unusable; running into them kills the process)."""
    return max(4 * GIB, int(0.2 * total_bytes))


def available_memory(total_bytes: int | None = None, margin_bytes: int | None = None) -> int:
    """Memory a generation may use: total RAM minus ``margin_bytes`` (default ``default_margin``)."""
    if total_bytes is None:
        from ltx_core.presets import system_memory_bytes

        total_bytes = system_memory_bytes()
    margin = default_margin(total_bytes) if margin_bytes is None else margin_bytes
    return max(0, total_bytes - margin)


def check_fits(
    estimate: MemoryEstimate,
    available_bytes: int,
    presets: list[Any] | None = None,
    preset_name: str | None = None,
) -> None:
    """Raise ``InsufficientMemoryError`` naming the first stage predicted above ``available_bytes``,
    both figures, and what would fit: a smaller preset (from ``presets``) and/or a smaller size."""
    over = [stage for stage in estimate.stages if stage.peak > available_bytes]
    if not over:
        return
    stage = over[0]
    message = (
        f"not enough memory for {stage.stage}: it needs about {gib(stage.peak)} "
        f"({gib(stage.weights)} weights + {gib(stage.activations)} working memory) but "
        f"{gib(available_bytes)} is available."
    )
    advice = _suggestions(estimate, available_bytes, presets, preset_name)
    if stage.lora_side_path:
        bits = estimate.settings.get("quantization")
        advice += (
            f" Its LoRAs ride as side paths ({gib(stage.lora_side_path)}): fusing them once with python -m "
            f"ltx_core convert CHECKPOINT OUT --bits {bits.bits if bits else 4} --lora FILE:STRENGTH costs no memory."
        )
    raise InsufficientMemoryError(message + (" " + advice.strip() if advice else ""))


def _suggestions(estimate: MemoryEstimate, available: int, presets: list[Any] | None, preset_name: str | None) -> str:
    settings = dict(estimate.settings)
    if not settings:
        return "Try a smaller size or fewer frames."
    parts = []
    smaller = _fitting_preset(settings, available, presets, preset_name)
    if smaller is not None:
        parts.append(f"the '{smaller}' preset")
    size = _fitting_size(settings, available)
    if size is not None:
        parts.append(f"{size[1]}x{size[0]}" + (f" with {size[2]} frames" if size[2] != settings["frames"] else ""))
    if not parts:
        return "No preset or smaller size fits this machine's memory: close other apps or use a machine with more RAM."
    return "Try " + " or ".join(parts) + "."


def _fitting_preset(settings: dict, available: int, presets: list[Any] | None, current: str | None) -> str | None:
    if not presets:
        return None
    request = {k: settings[k] for k in ("height", "width", "frames", "fps", "audio", "stages", "guidance",
                                        "gemma_config", "upsampler_config", "text_tokens", "text_encoder",
                                        "encode_frames", "encode_tiled")}  # fmt: skip
    backend = settings["backend"]
    for preset in sorted(presets, key=lambda p: -p.min_ram_gb):
        if preset.name == current:
            continue
        if estimate_for_preset(settings["checkpoint_config"], preset, backend=backend, **request).peak <= available:
            return preset.name
    return None


def _fitting_size(settings: dict, available: int) -> tuple[int, int, int] | None:
    """The largest smaller size (same aspect, multiples of 64) that fits, then fewer frames."""
    height, width, frames = settings["height"], settings["width"], settings["frames"]
    candidates = []
    for factor in (0.875, 0.75, 0.625, 0.5, 0.375, 0.25):
        h, w = (max(64, int(v * factor) // 64 * 64) for v in (height, width))
        if (h, w) != (height, width) and (h, w, frames) not in candidates:
            candidates.append((h, w, frames))
    for f in (frames // 2, frames // 4):
        f = max(9, (f - 1) // 8 * 8 + 1)
        if f < frames:
            candidates.append((height, width, f))
    for h, w, f in candidates:
        if estimate_memory(**{**settings, "height": h, "width": w, "frames": f}).peak <= available:
            return h, w, f
    return None
