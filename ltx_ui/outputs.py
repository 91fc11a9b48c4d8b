"""The outputs folder: names for new videos, the gallery read back from the JSON sidecars the
runner writes (so it survives restarts), thumbnails, and copies of the inputs a job used so
"reuse settings" still finds them later."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.media import thumbnail_png, write_json_atomic
from ltx_core.pipelines.runner import OutputRecord

INPUTS = "inputs"
THUMBS = ".thumbs"


@dataclass(frozen=True)
class Entry:
    video: Path
    sidecar: Path
    created: str
    settings: dict[str, Any]
    info: dict[str, Any]  # the sidecar's "video" section
    problem: str = ""  # non-empty: the sidecar could not be read (the video is still listed)

    @property
    def name(self) -> str:
        return self.video.name

    @property
    def is_audio(self) -> bool:
        """An audio-only output (text-to-audio: a WAV; ``video`` is its path, ``info`` its audio section)."""
        return self.video.suffix.lower() == ".wav"

    @property
    def pipeline(self) -> str:
        return str(self.settings.get("pipeline", "?"))

    @property
    def prompt(self) -> str:
        return str(self.settings.get("prompt_used") or self.request.get("prompt") or "")

    @property
    def request(self) -> dict[str, Any]:
        request = self.settings.get("request")
        return request if isinstance(request, dict) else {}

    @property
    def model_version(self) -> str:
        models = self.settings.get("models")
        version = models.get("model_version") if isinstance(models, dict) else None
        return str(version) if version else ""

    @property
    def seed(self) -> int | None:
        seed = self.request.get("seed", self.settings.get("seed"))
        return int(seed) if isinstance(seed, (int, float)) else None

    @property
    def seconds(self) -> float | None:
        studio = self.settings.get("studio", {})
        if isinstance(studio, dict) and "seconds" in studio:
            return float(studio["seconds"])
        stages = self.settings.get("stages") or []
        return sum(float(s.get("seconds", 0)) for s in stages if isinstance(s, dict)) or None

    @property
    def peak_memory(self) -> int | None:
        studio = self.settings.get("studio", {})
        if isinstance(studio, dict) and "peak_memory" in studio:
            return int(studio["peak_memory"])
        stages = self.settings.get("stages") or []
        return max((int(s.get("peak_bytes", 0)) for s in stages if isinstance(s, dict)), default=None)

    def caption(self) -> str:
        """The grid's caption: the seed and the start of the prompt (the file name is in the details)."""
        if self.problem:
            return f"⚠️ settings unreadable · {self.name}"
        seed = f"seed {self.seed}" if self.seed is not None else self.pipeline
        prompt = " ".join(self.prompt.split())
        return f"{seed} · {prompt[:48] + '…' if len(prompt) > 48 else prompt or '(no prompt)'}"

    def summary(self) -> str:
        if self.problem:
            return (f"**{self.name}** · ⚠️ settings unreadable: `{self.sidecar.name}` {self.problem}. The video plays "
                    "and can be deleted; its settings cannot be reused.")  # fmt: skip
        version = f"LTX-{self.model_version} · " if self.model_version else ""
        seconds = f"{self.seconds:.1f} s" if self.seconds is not None else "?"
        peak = f"{self.peak_memory / 2**20:.0f} MiB" if self.peak_memory else "?"
        size = f"{self.info.get('width', '?')}x{self.info.get('height', '?')}, {self.info.get('frames', '?')} frames"
        if self.is_audio:
            rate, samples = self.info.get("sample_rate"), self.info.get("samples")
            length = f"{samples / rate:.2f} s" if rate and samples else "?"
            size = f"audio only, {length} at {rate or '?'} Hz, {self.info.get('channels', '?')} channel(s)"
        parent = f"\n\nMade from `{Path(str(self.parent)).name}`" if self.parent else ""
        windows = self.request.get("windows")
        if isinstance(windows, list) and windows:  # a long video: the windows of its timeline folder
            folder = Path(str(windows[0])).parent
            parent = f"\n\nMade from {len(windows)} window(s) in `{folder.parent.name}/{folder.name}`: " + ", ".join(
                f"`{Path(str(w)).name}`" for w in windows)
        return (
            f"**{self.name}** · {self.pipeline} · {version}seed {self.seed if self.seed is not None else '-'} · {size} · "
            f"{seconds} · peak {peak} · {self.created}\n\n> {self.prompt or '(no prompt)'}{parent}"
        )

    @property
    def parent(self) -> str | None:
        """The clip this output was made from (retake, extend, upscale), as its sidecar records it."""
        source = self.request.get("source")
        return str(source) if source else None


def new_output_path(folder: Path, pipeline: str, seed: int | None) -> Path:
    """A fresh, sortable name: ``20261125-230101-distilled-s42.mp4`` (with a counter if taken)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}-{pipeline}" + (f"-s{seed}" if seed is not None else "")
    candidate = folder / f"{stem}.mp4"
    counter = 2
    while candidate.exists() or candidate.with_suffix(".json").exists():
        candidate = folder / f"{stem}-{counter}.mp4"
        counter += 1
    return candidate


def finish_sidecar(record: OutputRecord, extra: dict[str, Any]) -> None:
    """Add what only the finished job knows (total time and peak memory, decode included) to the
    sidecar, atomically."""
    if record.sidecar is None:
        return
    data = json.loads(Path(record.sidecar).read_text())
    studio = dict(data["settings"].get("studio") or {})
    studio.update(extra, seconds=round(record.seconds, 3), peak_memory=int(record.peak_memory))
    data["settings"]["studio"] = studio
    write_json_atomic(record.sidecar, data)


def keep_input(folder: Path, source: str | Path) -> Path:
    """Copy an uploaded input into ``<outputs>/inputs`` under its content hash (uploads live in a
    temporary folder that does not survive a restart)."""
    source = Path(source)
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    target = folder / INPUTS / f"{digest.hexdigest()[:16]}{source.suffix.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target


def list_entries(folder: Path, audio: bool = True) -> list[Entry]:
    """Every finished output (a video, or with ``audio`` a WAV, with its sidecar), newest first. An
    output whose sidecar is unreadable is listed with its problem; links are left out (the studio
    serves only files that really are in the outputs folder)."""
    entries = []
    if not folder.is_dir():
        return entries
    for sidecar in folder.glob("*.json"):
        video = sidecar.with_suffix(".mp4")
        if audio and not video.is_file() and sidecar.with_suffix(".wav").is_file():
            video = sidecar.with_suffix(".wav")
        if sidecar.is_symlink() or video.is_symlink() or not video.is_file():
            continue
        try:
            data = json.loads(sidecar.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
                raise ValueError("has no settings section")
        except (OSError, ValueError) as exc:
            problem = "is truncated or not JSON" if isinstance(exc, json.JSONDecodeError) else "cannot be read"
            stamp = datetime.datetime.fromtimestamp(video.stat().st_mtime).isoformat(timespec="seconds")
            entries.append(Entry(video, sidecar, stamp, {}, {}, problem))
            continue
        section = data.get("audio" if video.suffix == ".wav" else "video")
        info = section if isinstance(section, dict) else {}
        entries.append(Entry(video, sidecar, str(data.get("created", "")), data["settings"], info))
    return sorted(entries, key=lambda e: (e.created, e.video.stat().st_mtime, e.name), reverse=True)


SORTS = {
    "newest first": (lambda e: (e.created, e.name), True),
    "oldest first": (lambda e: (e.created, e.name), False),
    "pipeline": (lambda e: (e.pipeline, e.created), False),
    "model version": (lambda e: (e.model_version, e.created), False),
    "prompt A-Z": (lambda e: (e.prompt.lower(), e.created), False),
}
ALL = "(all)"


def filter_entries(entries: list[Entry], text: str = "", pipeline: str = ALL, version: str = ALL,
                   sort: str = "newest first") -> list[Entry]:  # fmt: skip
    """Entries whose prompt or name contains ``text``, of ``pipeline`` and ``version``, sorted."""
    words = (text or "").lower().split()
    chosen = [
        e for e in entries
        if all(w in f"{e.prompt} {e.name}".lower() for w in words)
        and pipeline in (ALL, "", None, e.pipeline) and version in (ALL, "", None, e.model_version)
    ]  # fmt: skip
    key, reverse = SORTS.get(sort, SORTS["newest first"])
    return sorted(chosen, key=key, reverse=reverse)


def video_names(folder: Path) -> list[str]:
    """The videos of the outputs folder, newest first (what upscaling, retake and extend take)."""
    return [entry.name for entry in list_entries(folder, audio=False)]


def find_entry(folder: Path, name: str) -> Entry | None:
    for entry in list_entries(folder):
        if entry.name == name:
            return entry
    return None


def thumbnail_for(entry: Entry) -> Path:
    """A cached PNG of the first frame (an audio output: its waveform), written atomically beside
    the outputs; a placeholder when the file cannot be read, so the item stays visible (and deletable)."""
    try:
        return _waveform(entry) if entry.is_audio else _first_frame(entry)
    except Exception:  # noqa: BLE001 - any unreadable video gets the placeholder
        return _placeholder(entry.video.parent / THUMBS)


def _placeholder(folder: Path) -> Path:
    target = folder / "_unreadable.png"
    if not target.exists():
        from PIL import Image, ImageDraw

        folder.mkdir(exist_ok=True)
        image = Image.new("RGB", (160, 120), (60, 60, 60))
        ImageDraw.Draw(image).text((20, 52), "unreadable video", fill=(230, 230, 230))
        partial = target.with_name(target.name + ".part")
        image.save(partial, format="PNG")
        partial.replace(target)
    return target


def _waveform(entry: Entry) -> Path:
    """The WAV's peak envelope drawn on a dark card."""
    import wave

    import numpy as np
    from PIL import Image, ImageDraw

    folder = entry.video.parent / THUMBS
    target = folder / f"{entry.video.stem}.png"
    if not target.exists() or target.stat().st_mtime < entry.video.stat().st_mtime:
        with wave.open(str(entry.video)) as handle:
            pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
        width, height = 160, 120
        columns = np.array_split(np.abs(pcm.astype(np.float32)) / 32768.0, width) if pcm.size else []
        image = Image.new("RGB", (width, height), (30, 41, 59))
        draw = ImageDraw.Draw(image)
        for x, column in enumerate(columns):
            half = (float(column.max()) if column.size else 0.0) * (height / 2 - 14)
            draw.line([(x, height / 2 - half), (x, height / 2 + half)], fill=(251, 191, 36))
        draw.text((6, 4), "audio", fill=(230, 230, 230))
        folder.mkdir(exist_ok=True)
        partial = target.with_name(target.name + ".part")
        image.save(partial, format="PNG")
        partial.replace(target)
    return target


def _first_frame(entry: Entry) -> Path:
    folder = entry.video.parent / THUMBS
    target = folder / f"{entry.video.stem}.png"
    if not target.exists() or target.stat().st_mtime < entry.video.stat().st_mtime:
        folder.mkdir(exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(thumbnail_png(entry.video))
        partial.replace(target)
    return target


def delete_entry(entry: Entry) -> None:
    for path in (entry.video, entry.sidecar, entry.video.parent / THUMBS / f"{entry.video.stem}.png"):
        path.unlink(missing_ok=True)
