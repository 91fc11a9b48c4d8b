"""The studio page. For now: system facts and a checkpoint inspector (generation tabs come with
the pipelines)."""

from __future__ import annotations

import json
import os

import gradio as gr

from ltx_core import __version__
from ltx_core.backend import backend_name, default_compute_dtype, loaded_blas
from ltx_core.errors import LTXError
from ltx_core.info import describe_checkpoint

NOTICE = (
    "**Generation is not available yet.** This build has the LTX-2 transformer, its loader and the "
    "diffusion components; the VAEs, the text encoder and the pipelines are still being ported. "
    "Use the inspector below to check that a checkpoint is complete and readable."
)


def system_facts() -> str:
    blas = loaded_blas() or "bundled (slow) BLAS"
    return (
        f"ltx_core {__version__} · MLX backend: **{backend_name()}** · compute dtype: "
        f"**{str(default_compute_dtype()).split('.')[-1]}** · BLAS: {blas}"
    )


def inspect_checkpoint(path: str) -> tuple[str, str]:
    """(status markdown, JSON summary) for a checkpoint path; never raises on bad input."""
    path = (path or "").strip()
    if not path:
        return "Enter the path of an LTX-2 `.safetensors` checkpoint.", ""
    try:
        summary = describe_checkpoint(os.path.expanduser(path))
    except LTXError as exc:
        return f"**Cannot use this file.** {exc}", ""
    except OSError as exc:
        return f"**Cannot read this file.** {exc}", ""
    size_gb = summary["bytes"] / 1e9
    t = summary["transformer"]
    status = (
        f"**{summary['file']}** ({size_gb:.2f} GB): {t['layers']} transformer blocks, video width "
        f"{t['video_width']}, audio width {t['audio_width']}; components: {', '.join(summary['components'])}."
    )
    return status, json.dumps(summary, indent=2)


def build_studio(default_weights: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="LTX Studio for MLX") as studio:
        gr.Markdown("# LTX Studio for MLX")
        gr.Markdown(system_facts())
        gr.Markdown(NOTICE)
        with gr.Tab("Models & Settings"):
            path = gr.Textbox(label="Checkpoint path", value=default_weights or "", placeholder="/path/to/ltx-2-19b-distilled.safetensors")
            button = gr.Button("Inspect", variant="primary")
            status = gr.Markdown()
            details = gr.Code(label="Summary", language="json")
            button.click(inspect_checkpoint, inputs=path, outputs=[status, details], api_name="inspect")
            if default_weights:
                studio.load(inspect_checkpoint, inputs=path, outputs=[status, details])
    return studio
