"""Text / Image to Video."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.request import ImageCondition
from ltx_ui.context import (
    JOB_EVENT,
    Studio,
    Update,
    cancel_handler,
    submit_seeds,
    session_of,
    user_message,
)
from ltx_ui.controls import (
    Outputs,
    Settings,
    base_request,
    lora_choices,
    loras_from,
    output_controls,
    seeds,
    settings_controls,
    wire_size_note,
)
from ltx_ui.inputs import InputProblem, check_image, check_prompt
from ltx_ui.jobs import Done, Failed, run_job
from ltx_ui.outputs import keep_input

PIPELINES = ("distilled", "one-stage", "two-stage")
TAB = "generate"


class GenerateTab:
    def __init__(self, studio: Studio):
        self.studio = studio

    def build(self) -> None:
        studio = self.studio
        with gr.Row():
            with gr.Column(scale=3):
                self.settings: Settings = settings_controls(TAB)
                with gr.Row():
                    self.enhance = gr.Checkbox(label="Enhance prompt with Gemma (the rewrite is shown below)", value=False)
                    enhance_now = gr.Button("Enhance now", size="sm")
                self.rewritten = gr.Textbox(label="Rewritten prompt", interactive=True, visible=True, lines=2)
                use_rewrite = gr.Button("Use the rewritten prompt", size="sm")
            with gr.Column(scale=2):
                self.pipeline = gr.Radio(list(PIPELINES), value="distilled", label="Pipeline", elem_id="generate-pipeline")
                self.image = gr.Image(label="Start image (optional: drop an image for image-to-video)", type="filepath",
                                      sources=["upload", "clipboard"], height=200, elem_id="generate-image")  # fmt: skip
                self.image_strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Start image strength")
                choices = lora_choices(studio.models.loras())
                with gr.Row():
                    self.lora_1 = gr.Dropdown(choices, value="", label="LoRA 1", allow_custom_value=False)
                    self.lora_1_strength = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Strength")
                with gr.Row():
                    self.lora_2 = gr.Dropdown(choices, value="", label="LoRA 2", allow_custom_value=False)
                    self.lora_2_strength = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Strength")
        self.out: Outputs = output_controls(TAB)
        wire_size_note(self.settings, self.pipeline)

        inputs = [self.pipeline, self.enhance, self.image, self.image_strength, self.lora_1, self.lora_1_strength,
                  self.lora_2, self.lora_2_strength, *self.settings.inputs()]  # fmt: skip
        self.out.generate.click(self.generate, inputs, self.out.components(), api_name="generate",
                                **JOB_EVENT, show_progress_on=[self.out.status])  # fmt: skip
        self.out.cancel.click(cancel_handler(studio), None, self.out.status, api_name="cancel", queue=False)
        enhance_now.click(self.enhance_now, [self.settings.prompt, self.image, self.settings.seed], self.rewritten,
                          api_name="enhance_prompt", **JOB_EVENT)  # fmt: skip
        use_rewrite.click(lambda text: text or gr.skip(), self.rewritten, self.settings.prompt, queue=False,
                          api_visibility="private")  # fmt: skip
        self.fields = {
            "pipeline": self.pipeline, "enhance": self.enhance, "image": self.image,
            "image_strength": self.image_strength, "lora_1": self.lora_1, "lora_1_strength": self.lora_1_strength,
            "lora_2": self.lora_2, "lora_2_strength": self.lora_2_strength, **_settings_fields(self.settings),
        }  # fmt: skip

    def generate(self, pipeline: str, enhance: bool, image: str | None, image_strength: float, lora_1: str,
                 lora_1_strength: float, lora_2: str, lora_2_strength: float, prompt: str, negative_prompt: str,
                 width: float, height: float, frames: float, fps: float, steps: float, cfg: float, stg: float,
                 seed: float, randomize_seed: bool, seed_count: float, audio: bool, request: gr.Request = None,
                 progress: gr.Progress = gr.Progress()) -> Iterator[Update]:  # fmt: skip
        values = {k: v for k, v in locals().items() if k not in ("self", "request", "progress")}
        try:
            if pipeline not in PIPELINES:
                raise InputProblem(f"choose a pipeline: {', '.join(PIPELINES)}.")
            images = ()
            if image:
                kept = keep_input(self.studio.outputs, check_image(image))
                values["image"] = str(kept)
                images = (ImageCondition(str(kept), 0, float(image_strength)),)
            base, snapped = base_request(
                pipeline, prompt, negative_prompt, width, height, frames, fps, steps, cfg, stg, audio, enhance,
                images=images, loras=loras_from(lora_1, lora_1_strength, lora_2, lora_2_strength),
            )  # fmt: skip
            base.validate(64 if pipeline == "two-stage" else 32)
            chosen = seeds(seed, randomize_seed, seed_count)
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        extra = {"tab": TAB, "ui": values}
        yield from submit_seeds(self.studio, pipeline, base, chosen, extra, values, request, progress, snapped.note)

    def enhance_now(self, prompt: str, image: str | None, seed: float, request: gr.Request = None) -> str:
        try:
            prompt = check_prompt(prompt)
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        studio = self.studio

        def work(report, cancel) -> str:
            ledger = studio.ledger()
            try:
                return ledger.get("prompt_encoder").enhance(prompt, image_to_video=bool(image), seed=int(seed or 0))
            finally:
                ledger.release("prompt_encoder", force=True)

        for update in run_job(studio.jobs, session_of(request), "enhance prompt", work):
            if isinstance(update, Done):
                return update.result
            if isinstance(update, Failed):
                raise gr.Error(user_message(update.error), print_exception=False)
        raise gr.Error("the prompt enhancement did not finish.")

    def reuse(self, ui: dict[str, Any]) -> dict:
        return {component: ui[name] for name, component in self.fields.items() if name in ui}


def _settings_fields(settings: Settings) -> dict[str, Any]:
    return {
        "prompt": settings.prompt, "negative_prompt": settings.negative, "width": settings.width,
        "height": settings.height, "frames": settings.frames, "fps": settings.fps, "steps": settings.steps,
        "cfg": settings.cfg, "stg": settings.stg, "seed": settings.seed, "randomize_seed": settings.randomize,
        "seed_count": settings.count, "audio": settings.audio,
    }  # fmt: skip


settings_fields = _settings_fields
