"""Controls every generation tab shares (prompt, size, steps, guidance, seed, LoRAs, queue of
seeds, progress outputs) and the request built from their values."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from dataclasses import replace

from ltx_core.model_spec import VersionSpec
from ltx_core.pipelines.request import MAX_STEPS, GenerationRequest, LoraChoice
from ltx_ui.inputs import InputProblem, Snapped, check_prompt, size_note, snap

MAX_SEED = 2**31 - 1
MAX_QUEUED_SEEDS = 16


@dataclass
class Settings:
    """Components of one tab's settings, in the order handlers receive them."""

    prompt: gr.Textbox
    negative: gr.Textbox
    width: gr.Number
    height: gr.Number
    frames: gr.Number
    fps: gr.Number
    size_note: gr.Markdown
    steps: gr.Slider
    cfg: gr.Slider
    stg: gr.Slider
    seed: gr.Number
    randomize: gr.Checkbox
    count: gr.Number
    audio: gr.Checkbox

    def inputs(self) -> list[gr.components.Component]:
        return [self.prompt, self.negative, self.width, self.height, self.frames, self.fps, self.steps, self.cfg,
                self.stg, self.seed, self.randomize, self.count, self.audio]  # fmt: skip


@dataclass
class Outputs:
    status: gr.Markdown
    preview: gr.Image
    video: gr.Video
    prompt_used: gr.Textbox
    seed_used: gr.Number
    batch: gr.Gallery
    generate: gr.Button
    cancel: gr.Button
    estimate: gr.Markdown
    audio: gr.Audio | None = None  # the player of an audio-only result (tabs that offer one)

    def components(self) -> list[gr.components.Component]:
        extra = [self.audio] if self.audio is not None else []
        return [self.status, self.preview, self.video, self.prompt_used, self.seed_used, self.batch, *extra]


def settings_controls(prefix: str, version: VersionSpec, width: int = 768, height: int = 512, frames: int = 121,
                      prompt: str = "") -> Settings:  # fmt: skip
    """The shared settings; sampling defaults are the model version's."""
    prompt = gr.Textbox(prompt, label="Prompt", lines=3, elem_id=f"{prefix}-prompt",
                        placeholder="Describe the video: subject, action, camera, light, sound…")  # fmt: skip
    negative = gr.Textbox(label="Negative prompt (guided pipelines)", lines=1)
    with gr.Row():
        w = gr.Number(label="Width", value=width, precision=0, elem_id=f"{prefix}-width")
        h = gr.Number(label="Height", value=height, precision=0, elem_id=f"{prefix}-height")
        f = gr.Number(label="Frames (8k+1)", value=frames, precision=0, elem_id=f"{prefix}-frames")
        fps = gr.Number(label="FPS", value=version.fps, minimum=1, maximum=60)
    note = gr.Markdown(size_note(snap("distilled", width, height, frames), version.fps), elem_id=f"{prefix}-size-note")
    with gr.Accordion("Sampling", open=False, elem_id=f"{prefix}-sampling"):
        steps = gr.Slider(1, MAX_STEPS, value=version.steps, step=1,
                          label="Steps (guided stage; distilled stages use their fixed schedule)",
                          elem_id=f"{prefix}-steps")  # fmt: skip
        cfg = gr.Slider(1.0, 10.0, value=version.video_guidance.cfg_scale, step=0.1,
                        label="CFG (video; audio keeps its default)")  # fmt: skip
        stg = gr.Slider(0.0, 3.0, value=version.video_guidance.stg_scale, step=0.1, label="STG")
        with gr.Row():
            seed = gr.Number(label="Seed (used when Randomize is off)", value=42, precision=0, minimum=0,
                             maximum=MAX_SEED, interactive=False)  # fmt: skip
            randomize = gr.Checkbox(label="Randomize seed", value=True)
            randomize.change(lambda on: gr.update(interactive=not on), randomize, seed, queue=False,
                             api_visibility="private")  # fmt: skip
            count = gr.Number(label="Queue N seeds", value=1, precision=0, minimum=1, maximum=MAX_QUEUED_SEEDS)
        audio = gr.Checkbox(label="Generate audio", value=True)
    return Settings(prompt, negative, w, h, f, fps, note, steps, cfg, stg, seed, randomize, count, audio)


def output_controls(prefix: str, label: str = "Generate") -> Outputs:
    """The action and the result, meant for the right-hand column: Generate, the estimate, the
    status line, the preview and the video, the batch grid, the prompt and seed used."""
    with gr.Row():
        generate = gr.Button(label, variant="primary", elem_id=f"{prefix}-generate", scale=3)
        cancel = gr.Button("Cancel", variant="stop", elem_id=f"{prefix}-cancel", scale=1)
    estimate = gr.Markdown(elem_id=f"{prefix}-estimate")
    status = gr.Markdown(elem_id=f"{prefix}-status")
    with gr.Row():
        preview = gr.Image(label="Live preview", interactive=False, height=200, elem_id=f"{prefix}-preview")
        video = gr.Video(label="Result", interactive=False, height=200, elem_id=f"{prefix}-video")
    batch = gr.Gallery(label="This batch (one video per seed, filled in as each finishes)", columns=4, height=220, fit_columns=False,
                       visible=False, allow_preview=True, object_fit="contain", elem_id=f"{prefix}-batch")  # fmt: skip
    with gr.Row():
        prompt_used = gr.Textbox(label="Prompt used (the rewritten one when enhanced)", interactive=False, lines=2,
                                 max_lines=4, scale=3)  # fmt: skip
        seed_used = gr.Number(label="Seed used", value=None, interactive=False, precision=0, scale=1)
    return Outputs(status, preview, video, prompt_used, seed_used, batch, generate, cancel, estimate)


def wire_size_note(settings: Settings, pipeline: Any, upscale: Any = None) -> None:
    """Show the snapped size and the duration whenever a size field is left or the pipeline (or the
    spatial upscale ``upscale``, where the tab has that choice) changes."""

    def describe(pipeline_name: str, width, height, frames, fps, spatial_upscale="2"):
        try:
            snapped = snap(pipeline_name, width, height, frames, float(spatial_upscale or 2))
        except InputProblem as exc:
            return width, height, frames, f"⚠️ {exc}"
        return snapped.width, snapped.height, snapped.frames, size_note(snapped, float(fps or 24))

    inputs = [pipeline, settings.width, settings.height, settings.frames, settings.fps]
    if upscale is not None:
        inputs.append(upscale)
    boxes = (settings.width, settings.height, settings.frames)
    # Each field rewrites only itself: a reply must not overwrite a field the user is typing in.
    for position, box in enumerate(boxes):
        def one(*values, position=position):
            *snapped, note = describe(*values)
            return snapped[position], note

        box.blur(one, inputs, [box, settings.size_note], queue=False, api_visibility="private")
        box.submit(one, inputs, [box, settings.size_note], queue=False, api_visibility="private")

    def note_only(*values):
        return describe(*values)[-1]

    settings.fps.blur(note_only, inputs, settings.size_note, queue=False, api_visibility="private")
    for control in (pipeline, upscale):
        if isinstance(control, gr.components.Component):
            control.change(describe, inputs, [*boxes, settings.size_note], queue=False, api_visibility="private")


def seeds(seed: float | None, randomize: bool, count: float | None) -> list[int]:
    n = int(count or 1)
    if not 1 <= n <= MAX_QUEUED_SEEDS:
        raise InputProblem(f"queue 1 to {MAX_QUEUED_SEEDS} seeds, not {n}.")
    first = random.randint(0, MAX_SEED) if randomize or seed is None else int(seed)
    if not 0 <= first <= MAX_SEED:
        raise InputProblem(f"the seed must be between 0 and {MAX_SEED}.")
    return [(first + i) % (MAX_SEED + 1) for i in range(n)]


def pipeline_defaults(version: VersionSpec, pipeline: str) -> dict[str, Any]:
    """The request defaults of ``pipeline`` on ``version`` (the HQ recipe has its own steps and guidance)."""
    from ltx_core.pipelines.registry import PIPELINES

    descriptor = PIPELINES.get(pipeline)
    if descriptor is None:
        return dict(steps=version.steps, video_guidance=version.video_guidance, audio_guidance=version.audio_guidance)
    return descriptor.request_defaults(version)


def base_request(version: VersionSpec, pipeline: str, prompt: str, negative: str, width, height, frames, fps,
                 steps, cfg, stg, audio: bool, enhance: bool = False, **extra: Any) -> tuple[GenerationRequest, Snapped]:  # fmt: skip
    """The request common to every tab (seed 0: set per queued seed), with sizes snapped and the
    model version's guidance defaults where the tab has no control."""
    snapped = snap(pipeline, width, height, frames, float(extra.get("spatial_upscale", 2.0)))
    fps = float(fps or version.fps)
    if fps <= 0:
        raise InputProblem("FPS must be positive.")
    defaults = pipeline_defaults(version, pipeline)
    request = GenerationRequest.for_version(
        version, prompt=check_prompt(prompt), negative_prompt=negative or "", height=snapped.height,
        width=snapped.width, frames=snapped.frames, fps=fps, steps=int(steps),
        video_guidance=replace(defaults["video_guidance"], cfg_scale=float(cfg), stg_scale=float(stg)),
        audio_guidance=replace(defaults["audio_guidance"], stg_scale=float(stg)),
        generate_audio=bool(audio), enhance_prompt=bool(enhance), **extra,
    )  # fmt: skip
    return request, snapped
