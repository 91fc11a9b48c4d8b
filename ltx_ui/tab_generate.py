"""Text / Image to Video."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gradio as gr

from ltx_core.pipelines.ledger import Component
from ltx_core.pipelines.registry import GENERATION_PIPELINES, PIPELINES
from ltx_core.pipelines.request import ImageCondition
from ltx_ui.context import JOB_EVENT, session_of, user_message
from ltx_ui.controls import lora_choices, loras_from, pipeline_defaults
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import InputProblem, check_image, check_prompt
from ltx_ui.jobs import Done, Failed, run_job
from ltx_ui.outputs import keep_input

# Text/image-to-video recipes of this tab (keyframes and IC-LoRA have their own tabs).
PIPELINE_CHOICES = tuple(name for name in GENERATION_PIPELINES if PIPELINES[name].min_images == 0
                         and not PIPELINES[name].uses("control_video"))  # fmt: skip


class GenerateTab(GenerationTab):
    tab = "generate"
    api_name = "generate"
    cancel_api_name = "cancel"

    def build(self) -> None:
        studio = self.studio
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.settings_controls()
                with gr.Row():
                    self.enhance = gr.Checkbox(label="Enhance prompt with Gemma before generating", value=False,
                                               elem_id="generate-enhance", scale=3)  # fmt: skip
                    enhance_now = gr.Button("Enhance now", size="sm", scale=1, elem_id="generate-enhance-now")
                with gr.Group(visible=False, elem_id="generate-rewrite") as rewrite:
                    self.rewritten = gr.Textbox(label="Rewritten prompt", interactive=True, lines=2,
                                                elem_id="generate-rewritten")  # fmt: skip
                    if studio.models.demo:
                        gr.Markdown("The demo models have random weights, so their rewrite is gibberish; with the real "
                                    "Gemma weights it is a detailed prompt.", elem_id="generate-rewrite-note")  # fmt: skip
                    use_rewrite = gr.Button("Use the rewritten prompt", size="sm")
                self.pipeline = gr.Radio([(PIPELINES[n].title, n) for n in PIPELINE_CHOICES], value="distilled",
                                         label="Pipeline", elem_id="generate-pipeline")  # fmt: skip
                with gr.Row():
                    self.image = gr.Image(label="Start image (optional: drop one for image-to-video)", type="filepath",
                                          sources=["upload", "clipboard"], height=160, elem_id="generate-image",
                                          scale=2)  # fmt: skip
                    self.image_strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Start image strength", scale=1)
                with gr.Row():
                    # Per-pipeline fields, shown for the pipelines whose descriptor reads them.
                    self.generated_keyframes = gr.Number(
                        0, precision=0, minimum=0, label="Generated keyframes (LTX-2.5: sharp frames the first stage "
                        "generates at evenly spaced frames)", elem_id="generate-generated-keyframes",
                        visible=PIPELINES["distilled"].uses("generated_keyframes"),
                    )  # fmt: skip
                    self.temporal_rounds = gr.Radio(
                        [0, 1, 2], value=0, label="Temporal rounds (x2 frames and fps each; needs the temporal upsampler)",
                        elem_id="generate-temporal-rounds", visible=PIPELINES["distilled"].uses("temporal_rounds"),
                    )  # fmt: skip
                choices = lora_choices(studio.models.loras())
                with gr.Accordion("LoRAs", open=False, elem_id="generate-loras"):
                    with gr.Row():
                        self.lora_1 = gr.Dropdown(choices, value="", label="LoRA 1", allow_custom_value=False)
                        self.lora_1_strength = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Strength")
                    with gr.Row():
                        self.lora_2 = gr.Dropdown(choices, value="", label="LoRA 2", allow_custom_value=False)
                        self.lora_2_strength = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Strength")
            self.result_column()
        self.finish_build(self.pipeline)
        per_pipeline = {"generated_keyframes": self.generated_keyframes, "temporal_rounds": self.temporal_rounds}
        self.pipeline.change(
            lambda name: [gr.update(visible=PIPELINES[name].uses(field)) for field in per_pipeline],
            self.pipeline, list(per_pipeline.values()), queue=False, api_visibility="private",
        )  # fmt: skip
        settings = self.settings
        sampling = [settings.steps, settings.cfg, settings.stg]
        self.pipeline.change(self.sampling_defaults, [self.pipeline, *sampling], sampling, queue=False,
                             api_visibility="private")  # fmt: skip
        self.enhance.change(lambda on, text: gr.Group(visible=bool(on or text)), [self.enhance, self.rewritten], rewrite,
                            queue=False, api_visibility="private")  # fmt: skip
        enhance_now.click(self.enhance_now, [self.settings.prompt, self.image, self.settings.seed], self.rewritten,
                          api_name="enhance_prompt", **JOB_EVENT).success(
            lambda: gr.Group(visible=True), None, rewrite, queue=False, api_visibility="private")  # fmt: skip
        use_rewrite.click(lambda text: text or gr.skip(), self.rewritten, self.settings.prompt, queue=False,
                          api_visibility="private")  # fmt: skip

    def sampling_defaults(self, pipeline: str, steps: float, cfg: float, stg: float):
        """Steps, CFG and STG when the pipeline changes: a recipe with its own defaults (HQ: 15
        steps, STG 0) sets them; leaving such defaults untouched restores the version's; any
        other values the user set are kept."""
        version = self.studio.models.version

        def sampling(name: str) -> tuple:
            d = pipeline_defaults(version, name)
            return d["steps"], d["video_guidance"].cfg_scale, d["video_guidance"].stg_scale

        own = [n for n in PIPELINE_CHOICES if PIPELINES[n].defaults is not None and PIPELINES[n].offered_by(version)]
        current = (int(steps or 0), float(cfg or 0), float(stg or 0))
        if pipeline in own or any(current == sampling(n) for n in own):
            return sampling(pipeline)
        return gr.skip(), gr.skip(), gr.skip()

    def own_fields(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline, "enhance": self.enhance, "image": self.image,
            "image_strength": self.image_strength, "lora_1": self.lora_1, "lora_1_strength": self.lora_1_strength,
            "lora_2": self.lora_2, "lora_2_strength": self.lora_2_strength,
            "generated_keyframes": self.generated_keyframes, "temporal_rounds": self.temporal_rounds,
        }  # fmt: skip

    def make_request(self, values: dict[str, Any]):
        pipeline = values["pipeline"]
        if pipeline not in PIPELINE_CHOICES:
            raise InputProblem(f"choose a pipeline: {', '.join(PIPELINE_CHOICES)}.")
        loras = loras_from(values["lora_1"], values["lora_1_strength"], values["lora_2"], values["lora_2_strength"])
        image = check_image(values["image"]) if values["image"] else None
        descriptor = PIPELINES[pipeline]
        per_pipeline = {field: int(values.get(field) or 0) for field in ("generated_keyframes", "temporal_rounds")
                        if descriptor.uses(field)}  # fmt: skip
        base, snapped = self.base_request(pipeline, values, enhance=values["enhance"], loras=loras, **per_pipeline)
        base.validate(PIPELINES[pipeline].size_multiple)
        if image is not None:  # kept in outputs/inputs only once everything else passed
            kept = keep_input(self.studio.outputs, image)
            values["image"] = str(kept)
            base = replace(base, images=(ImageCondition(str(kept), 0, float(values["image_strength"])),))
        return pipeline, base, snapped.note

    def enhance_now(self, prompt: str, image: str | None, seed: float, request: gr.Request = None) -> str:
        try:
            prompt = check_prompt(prompt)
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        studio = self.studio

        def work(report, cancel) -> str:
            ledger = studio.ledger()
            try:
                return ledger.prompt_encoder().enhance(prompt, image_to_video=bool(image), seed=int(seed or 0))
            finally:
                ledger.release(Component.PROMPT_ENCODER, force=True)

        for update in run_job(studio.jobs, session_of(request), "enhance prompt", work):
            if isinstance(update, Done):
                return update.result
            if isinstance(update, Failed):
                raise gr.Error(user_message(update.error), print_exception=False)
        raise gr.Error("the prompt enhancement did not finish.")
