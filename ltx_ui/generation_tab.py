"""What every generation tab shares: the settings controls, the outputs, the Generate/Cancel
wiring, one handler whose parameters are the tab's own fields followed by the settings (the API
names), validation against the pipeline descriptor, one job per seed, and "reuse settings"."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.registry import PIPELINES, pipeline_descriptor
from ltx_core.pipelines.request import GenerationRequest
from ltx_ui.context import JOB_EVENT, Studio, Update, cancel_handler, submit_seeds, user_message
from ltx_ui.controls import Outputs, Settings, base_request, output_controls, seeds, settings_controls, wire_size_note
from ltx_ui.inputs import prompt_length_notes

# The settings every tab's handler receives after its own fields (names = API parameter names).
SETTINGS_FIELDS = ("prompt", "negative_prompt", "width", "height", "frames", "fps", "steps", "cfg", "stg", "seed",
                   "randomize_seed", "seed_count", "audio")  # fmt: skip


class GenerationTab:
    tab = ""  # the tab's id (sidecars record it for "reuse settings")
    api_name = ""  # the Generate endpoint
    cancel_api_name: str | None = None  # the Cancel endpoint (None: not in the API)

    def __init__(self, studio: Studio):
        self.studio = studio
        self.fields: dict[str, Any] = {}
        self.loras_field: Any = None  # the tab's LoRA list (a LoraPicker's), counted in the estimate
        self.control_lora_field: Any = None  # the tab's IC-LoRA choice, counted in the estimate

    # -- for subclasses ---------------------------------------------------------------------
    def own_fields(self) -> dict[str, Any]:
        """The tab's own inputs, by name, in the order the handler receives them."""
        return {}

    def estimate_extras(self) -> dict[str, Any]:
        """The tab's own inputs the estimate follows, by field name (after the shared settings): here
        the LoRA list and the IC-LoRA choice where the tab has them; subclasses add theirs."""
        fields = {"loras": self.loras_field, "ic_lora": self.control_lora_field}
        return {name: component for name, component in fields.items() if component is not None}

    def estimate_request(self, pipeline: str, **extras: Any) -> dict[str, Any]:
        """Request values from ``estimate_extras``' values (the LoRAs; e.g. the spatial upscale)."""
        from ltx_ui.lora_library import request_loras

        own: dict[str, Any] = {}
        if "loras" in extras:
            own["loras"] = request_loras(self.studio, extras["loras"])
        if extras.get("ic_lora"):  # IC-LoRAs act in stage 1 only
            own["control_loras"] = request_loras(self.studio, [{"file": extras["ic_lora"], "stage2_strength": 0.0}])
        return own

    def make_request(self, values: dict[str, Any]) -> tuple[str, GenerationRequest, str]:
        """(pipeline name, request without seed, note about snapped sizes) from the UI values;
        may update ``values`` (what the sidecar records for "reuse settings")."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def settings_controls(self, **size: int) -> Settings:
        """The shared settings at the tab's default size (a trained demo set's own prompt and size)."""
        demo, prompt = self.studio.models.demo_defaults, ""
        if demo is not None:
            size, prompt = {"width": demo.width, "height": demo.height, "frames": demo.frames}, demo.prompt
        self.settings = settings_controls(self.tab, self.studio.models.version, prompt=prompt, **size)
        return self.settings

    def base_request(self, pipeline: str, values: dict[str, Any], **extra: Any):
        v = values
        return base_request(
            self.studio.models.version, pipeline, v["prompt"], v["negative_prompt"], v["width"], v["height"],
            v["frames"], v["fps"], v["steps"], v["cfg"], v["stg"], v["audio"], **extra,
        )  # fmt: skip

    def result_column(self, label: str = "Generate") -> Outputs:
        """The right-hand column: the action and the result where the eye is (sticky while the
        settings on the left scroll)."""
        with gr.Column(scale=4, elem_classes="result-column"):
            self.out = output_controls(self.tab, label)
        return self.out

    def finish_build(self, pipeline: Any, upscale: Any = None) -> None:
        """Size note, estimate, Generate and Cancel wiring, after the tab's own layout."""
        wire_size_note(self.settings, pipeline, upscale)
        self._wire_estimate(pipeline)
        self._show_used_controls(pipeline)
        own = self.own_fields()
        settings = dict(zip(SETTINGS_FIELDS, self.settings.inputs()))
        self.fields = {**own, **settings}
        # ``finished``: what runs after a job (success or not) hangs on it, not on the result video's
        # change event, which the browser re-fires whenever the video re-renders (a refresh loop).
        self.finished = self.out.generate.click(self.handler(list(self.fields)), list(self.fields.values()),
                                                self.out.components(), api_name=self.api_name, **JOB_EVENT,
                                                show_progress="hidden")  # fmt: skip
        # A finished job taught the speed model: estimate again.
        self.finished.then(self.estimate, self.estimate_inputs, self.out.estimate, queue=False, api_visibility="private",
                           show_progress="hidden")  # fmt: skip
        visibility = {"api_name": self.cancel_api_name} if self.cancel_api_name else {"api_visibility": "private"}
        self.out.cancel.click(cancel_handler(self.studio), None, self.out.status, queue=False, show_progress="hidden",
                              **visibility)  # fmt: skip

    def _wire_estimate(self, pipeline: Any) -> None:
        """The duration and memory of the job as set, next to Generate, kept current."""
        s = self.settings
        extras = self.estimate_extras()
        inputs = [pipeline, s.width, s.height, s.frames, s.fps, s.steps, s.cfg, s.stg, s.audio, s.count, *extras.values()]
        self.estimate_inputs = inputs
        self.out.estimate.value = self.estimate(pipeline.value, s.width.value, s.height.value, s.frames.value,
                                                s.fps.value, s.steps.value, s.cfg.value, s.stg.value, s.audio.value, 1,
                                                *(c.value for c in extras.values()))  # fmt: skip
        private = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        for box in (s.width, s.height, s.frames, s.fps, s.count):
            box.blur(self.estimate, inputs, self.out.estimate, **private)
            box.submit(self.estimate, inputs, self.out.estimate, **private)
        for control in (s.steps, s.cfg, s.stg, s.audio, *extras.values()):
            control.change(self.estimate, inputs, self.out.estimate, **private)
        if isinstance(pipeline, gr.components.Component) and not isinstance(pipeline, gr.State):
            pipeline.change(self.estimate, inputs, self.out.estimate, **private)

    def refresh_estimate_on(self, event: Any) -> None:
        """Recompute the estimate on ``event`` (a tab selected: the speed model may have learned since)."""
        event(self.estimate, self.estimate_inputs, self.out.estimate, queue=False, api_visibility="private",
              show_progress="hidden")  # fmt: skip

    def estimate(self, pipeline: str, width, height, frames, fps, steps, cfg, stg, audio, count, *extra) -> str:
        """Duration and peak memory of the job as set (its LoRAs included)."""
        from ltx_ui.estimates import describe_generation

        values = {"prompt": "estimate", "negative_prompt": "", "width": width, "height": height, "frames": frames,
                  "fps": fps, "steps": steps, "cfg": cfg, "stg": stg, "audio": audio}  # fmt: skip
        try:
            own = self.estimate_request(pipeline, **dict(zip(self.estimate_extras(), extra)))
            request, _ = self.base_request(pipeline, values, **own)
            jobs = int(count or 1)
        except (LTXError, TypeError, ValueError) as exc:
            return f"⚠️ {user_message(exc)}" if isinstance(exc, LTXError) else ""
        return describe_generation(self.studio, pipeline, request, max(1, min(jobs, 16)))

    def _show_used_controls(self, pipeline: Any) -> None:
        """Guidance controls (negative prompt, steps, CFG, STG) only for pipelines that use them."""
        guided = [self.settings.negative, self.settings.steps, self.settings.cfg, self.settings.stg]

        def visibility(name: str) -> list:
            used = name in PIPELINES and PIPELINES[name].guided
            return [gr.update(visible=used) for _ in guided]

        initial = PIPELINES.get(pipeline.value)
        for component in guided:
            component.visible = bool(initial and initial.guided)
        if isinstance(pipeline, gr.components.Component) and not isinstance(pipeline, gr.State):
            pipeline.change(visibility, pipeline, guided, queue=False, api_visibility="private")

    def handler(self, names: list[str]):
        """A generator function whose signature names each input (Gradio reads it for the API)."""

        def generate(*args: Any, **kwargs: Any) -> Iterator[Update]:
            values = dict(zip(names, args))
            rest = list(args[len(names) :])
            request = kwargs.get("request", rest[0] if rest else None)
            progress = kwargs.get("progress", rest[1] if len(rest) > 1 else None)
            yield from self.submit(values, request, progress)

        parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names]
        parameters += [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request),
            inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress()),
        ]
        generate.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        generate.__annotations__ = {"request": gr.Request}  # Gradio finds the request by type hint
        generate.__name__ = self.api_name
        return generate

    def submit(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None) -> Iterator[Update]:
        try:
            pipeline, base, note = self.make_request(values)
            base.validate(pipeline_descriptor(pipeline).size_multiple_for(base.spatial_upscale))
            chosen = seeds(values["seed"], values["randomize_seed"], values["seed_count"])
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        negative = base.negative_prompt if pipeline_descriptor(pipeline).guided else ""
        for long in prompt_length_notes(self.studio.models.paths.gemma, base.prompt, negative):
            gr.Warning(long[0].upper() + long[1:])
            note = f"{note}\n\nNote: {long}" if note else long
        yield from submit_seeds(self.studio, pipeline, base, chosen, {"tab": self.tab}, values, request, progress, note)

    def fixed_pipeline(self) -> str | None:
        """The tab's one pipeline (None: the user picks it, in the ``pipeline`` field)."""
        return None

    def reuse_targets(self) -> list[Any]:
        """What "reuse settings" may update: the fields, and what is derived from them."""
        return [*self.fields.values(), self.settings.size_note, self.out.estimate]

    def reuse(self, ui: dict[str, Any]) -> dict:
        """Updates that load a sidecar's UI values; the size note and the estimate follow them."""
        from ltx_ui.inputs import size_note, snap

        updates = {component: ui[name] for name, component in self.fields.items() if name in ui}
        pipeline = self.fixed_pipeline() or str(ui.get("pipeline") or "")
        s = self.settings
        values = [ui.get(name, getattr(s, attr).value) for name, attr in
                  (("width", "width"), ("height", "height"), ("frames", "frames"), ("fps", "fps"))]  # fmt: skip
        try:
            upscale = float(ui.get("spatial_upscale") or 2)
            updates[s.size_note] = size_note(snap(pipeline, *values[:3], upscale), float(values[3] or 24))
        except (LTXError, TypeError, ValueError):
            updates[s.size_note] = ""
        extra = [ui.get(name, getattr(s, name).value) for name in ("steps", "cfg", "stg")]
        own = (ui.get(name, component.value) for name, component in self.estimate_extras().items())
        updates[self.out.estimate] = self.estimate(pipeline, *values, *extra, ui.get("audio", True), 1, *own)
        return updates
