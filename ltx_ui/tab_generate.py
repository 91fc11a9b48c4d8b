"""Text / Image to Video."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.model_spec import Role
from ltx_core.pipelines.ledger import Component
from ltx_core.pipelines.registry import GENERATION_PIPELINES, PIPELINES
from ltx_core.pipelines.request import AUTO_FRAMES, ImageCondition
from ltx_ui.context import JOB_EVENT, session_of, user_message
from ltx_ui.controls import output_controls, pipeline_defaults
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import InputProblem, check_image, check_prompt
from ltx_ui.jobs import Done, Failed, run_job
from ltx_ui.lora_library import normalise, request_loras
from ltx_ui.lora_picker import LoraPicker
from ltx_ui.outputs import keep_input

UPSCALE_CHOICES = [("x2 (stage 1 at half size)", "2"), ("x1.5 (stage 1 at two thirds; sizes in multiples of 96)", "1.5")]
# Text/image-to-video recipes of this tab (keyframes, IC-LoRA and audio-to-video have their own tabs),
# then the audio-only recipe: a prompt and a length give a WAV.
VIDEO_CHOICES = tuple(name for name in GENERATION_PIPELINES if PIPELINES[name].min_images == 0
                      and not PIPELINES[name].uses("control_video") and not PIPELINES[name].uses("audio")
                      and PIPELINES[name].uses("height"))  # fmt: skip
AUDIO_ONLY = "text-to-audio"
PIPELINE_CHOICES = (*VIDEO_CHOICES, AUDIO_ONLY)
# Shown only for pipelines that make a video.
VIDEO_ONLY_FIELDS = ("width", "height", "audio")


class GenerateTab(GenerationTab):
    tab = "generate"
    api_name = "generate"
    cancel_api_name = "cancel"

    def build(self) -> None:
        studio = self.studio
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.settings_controls()
                self.auto_length = gr.Checkbox(
                    label="Auto length: the duration head predicts 1-20 s from the prompt (the frames above are ignored)",
                    value=False, visible=self.offers_auto_length(), elem_id="generate-auto-length",
                )
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
                self.pipeline = gr.Radio([(PIPELINES[n].title, n) for n in self.pipeline_choices()], value="distilled",
                                         label="Pipeline", elem_id="generate-pipeline")  # fmt: skip
                self.upscale = gr.Radio(UPSCALE_CHOICES, value="2", label="Spatial upscaler between the two stages",
                                        visible=self.offers_upscale("distilled"), elem_id="generate-upscale")  # fmt: skip
                with gr.Row() as self.image_row:
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
                self.lora_picker = LoraPicker(studio, self.tab, self.api_name, "LoRAs (library)")
                self.loras_field = self.lora_picker.build()
            self.result_column()
        self.finish_build(self.pipeline, self.upscale)
        per_pipeline = {"generated_keyframes": self.generated_keyframes, "temporal_rounds": self.temporal_rounds}
        settings = self.settings
        video_only = [self.image_row, self.out.video, *(getattr(settings, name) for name in VIDEO_ONLY_FIELDS)]
        self.pipeline.change(
            lambda name: [gr.update(visible=self.offers_upscale(name)),
                          *(gr.update(visible=PIPELINES[name].uses(field)) for field in per_pipeline),
                          *(gr.update(visible=name != AUDIO_ONLY) for _ in video_only),
                          gr.update(visible=name == AUDIO_ONLY)],
            self.pipeline, [self.upscale, *per_pipeline.values(), *video_only, self.out.audio], queue=False,
            api_visibility="private",
        )  # fmt: skip
        self.auto_length.change(lambda on: gr.update(interactive=not on), self.auto_length, settings.frames,
                                queue=False, api_visibility="private")  # fmt: skip
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

    def pipeline_choices(self) -> tuple[str, ...]:
        """The video recipes, and audio only where the model version offers it."""
        return VIDEO_CHOICES + ((AUDIO_ONLY,) if PIPELINES[AUDIO_ONLY].offered_by(self.studio.models.version) else ())

    def result_column(self, label: str = "Generate"):
        """The shared result column plus the player of an audio-only result."""
        with gr.Column(scale=4, elem_classes="result-column"):
            self.out = output_controls(self.tab, label)
            self.out.audio = gr.Audio(label="Result (audio only)", type="filepath", interactive=False, visible=False,
                                      elem_id="generate-audio")  # fmt: skip
        return self.out

    def submit(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None):
        """The shared job loop; an audio-only result goes to the audio player (the video player and the
        batch grid show videos only)."""
        audio_only = values.get("pipeline") == AUDIO_ONLY
        for status, preview, video, prompt, seed, grid in super().submit(values, request, progress):
            if audio_only:
                yield (status, preview, None, prompt, seed, gr.Gallery(visible=False),
                       gr.Audio(value=video, visible=True) if video else gr.skip())  # fmt: skip
            else:
                yield status, preview, video, prompt, seed, grid, gr.skip()

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

    def estimate_extras(self) -> dict[str, Any]:
        return {**super().estimate_extras(), "spatial_upscale": self.upscale}

    def estimate_request(self, pipeline: str, **extras: Any) -> dict[str, Any]:
        return {**super().estimate_request(pipeline, **extras),
                "spatial_upscale": self.spatial_upscale(pipeline, extras.get("spatial_upscale"))}  # fmt: skip

    def spatial_upscale(self, pipeline: str, choice: Any) -> float:
        """The x2 / x1.5 choice as a number (x2 for pipelines without a second stage)."""
        descriptor = PIPELINES.get(pipeline)
        if descriptor is None or not descriptor.uses("spatial_upscale"):
            return 2.0
        try:
            return float(choice or 2)
        except (TypeError, ValueError):
            raise InputProblem(f"the spatial upscale must be 2 or 1.5, got {choice!r}.") from None

    def offers_auto_length(self) -> bool:
        """The length can be left to the model: its version has a duration head and the file is here."""
        models = self.studio.models
        head = models.paths.duration_head
        return models.version.file_for(Role.DURATION_HEAD) is not None and head is not None and Path(head).is_file()

    def offers_upscale(self, pipeline: str) -> bool:
        """The x2 / x1.5 choice: a two-stage recipe, and the x1.5 upsampler file is present."""
        descriptor = PIPELINES.get(pipeline)
        return bool(descriptor and descriptor.uses("spatial_upscale") and 1.5 in self.studio.models.paths.spatial_upscales)

    def own_fields(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline, "spatial_upscale": self.upscale, "auto_length": self.auto_length,
            "enhance": self.enhance, "image": self.image,
            "image_strength": self.image_strength, "loras": self.loras_field,
            "generated_keyframes": self.generated_keyframes, "temporal_rounds": self.temporal_rounds,
        }  # fmt: skip

    def make_request(self, values: dict[str, Any]):
        pipeline = values["pipeline"]
        if pipeline not in self.pipeline_choices():
            raise InputProblem(f"choose a pipeline: {', '.join(self.pipeline_choices())}.")
        loras = request_loras(self.studio, values["loras"])
        values["loras"] = normalise(values["loras"])  # as the sidecar records it for "reuse settings"
        image = check_image(values["image"]) if values["image"] else None
        descriptor = PIPELINES[pipeline]
        per_pipeline = {field: int(values.get(field) or 0) for field in ("generated_keyframes", "temporal_rounds")
                        if descriptor.uses(field)}  # fmt: skip
        upscale = self.spatial_upscale(pipeline, values.get("spatial_upscale"))
        base, snapped = self.base_request(pipeline, values, enhance=values["enhance"], loras=loras, spatial_upscale=upscale,
                                          **per_pipeline)  # fmt: skip
        if values.get("auto_length"):
            base = replace(base, frames=AUTO_FRAMES)  # the core refuses it, before loading, without a duration head
        base.validate(descriptor.size_multiple_for(upscale))
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
                return ledger.prompt_enhancer().enhance(prompt, image_to_video=bool(image), seed=int(seed or 0))
            finally:
                ledger.release(Component.PROMPT_ENHANCER, Component.PROMPT_ENCODER, force=True)

        for update in run_job(studio.jobs, session_of(request), "enhance prompt", work):
            if isinstance(update, Done):
                return update.result
            if isinstance(update, Failed):
                raise gr.Error(user_message(update.error), print_exception=False)
        raise gr.Error("the prompt enhancement did not finish.")

    def reuse(self, ui: dict[str, Any]) -> dict:
        """Outputs made before the LoRA library recorded two slots (``lora_1``, ``lora_2``): they
        come back as the job's LoRA list."""
        if "loras" not in ui:
            slots = [(ui.get(f"lora_{n}"), ui.get(f"lora_{n}_strength", 1.0)) for n in (1, 2)]
            ui = {**ui, "loras": [{"file": path, "strength": s, "stage2_strength": s} for path, s in slots if path]}
        return super().reuse(ui)
