"""Models & Settings: what was found (with sizes), what is missing and where to get it, downloads,
and the memory mode."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ltx_core.backend import backend_name, loaded_blas
from ltx_core.errors import LTXError
from ltx_core.info import describe_checkpoint
from ltx_core.pipelines.registry import GENERATION_PIPELINES, PIPELINES, pipeline_descriptor
from ltx_core.presets import load_presets, system_memory_bytes
from ltx_ui import models as model_files
from ltx_ui.context import Studio
from ltx_ui.lora_library import library, lora_table, pick_choices

AUTO = "auto"


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def inspectable_folders(studio: Studio) -> list[Path]:
    """Where the inspector may read: the weights folder and the folder of the models in use."""
    folders = [studio.weights_dir, Path(studio.models.paths.checkpoint).parent]
    return [Path(f).expanduser().resolve() for f in folders if f]


def inspect_checkpoint(path: str, folders: list[Path] | None = None) -> tuple[str, str]:
    """(status markdown, JSON summary) for a checkpoint path inside ``folders`` (None: any);
    never raises on bad input."""
    import json
    import os

    path = (path or "").strip()
    if not path:
        return "Enter the path of an LTX-2 `.safetensors` checkpoint.", ""
    resolved = Path(os.path.expanduser(path)).resolve()
    if folders is not None and not any(resolved.is_relative_to(folder) for folder in folders):
        where = " or ".join(f"`{f}`" for f in folders) or "the weights folder"
        return f"**Not inspected.** Only files in {where} can be inspected: put the file there, or set the weights folder above.", ""
    try:
        summary = describe_checkpoint(str(resolved))
    except LTXError as exc:
        return f"**Cannot use this file.** {exc}", ""
    except OSError as exc:
        return f"**Cannot read this file.** {exc}", ""
    t = summary["transformer"]
    status = (
        f"**{summary['file']}** ({summary['bytes'] / 1e9:.2f} GB): {t['layers']} transformer blocks, video width "
        f"{t['video_width']}, audio width {t['audio_width']}; components: {', '.join(summary['components'])}."
    )
    return status, json.dumps(summary, indent=2)


class ModelsTab:
    def __init__(self, studio: Studio):
        self.studio = studio

    def build(self) -> None:
        studio = self.studio
        with gr.Row(equal_height=True):
            self.folder = gr.Textbox(str(studio.weights_dir or ""), label="Weights folder (checkpoints, upsamplers, "
                                     "LoRAs and Gemma, scanned 3 levels deep)", placeholder="/path/to/ltx-weights",
                                     scale=4, elem_id="models-folder")  # fmt: skip
            rescan = gr.Button("Rescan", scale=1, elem_id="models-rescan")
        self.checkpoint = gr.Dropdown(self.checkpoint_choices(), value=self.checkpoint_value(),
                                      label="Model in use (when the folder holds several checkpoints)",
                                      allow_custom_value=True,  # checked by pick_checkpoint against the last scan
                                      elem_id="models-checkpoint")  # fmt: skip
        self.found = gr.Markdown(self.describe(), elem_id="models-found")
        with gr.Accordion("Download a missing file from Hugging Face", open=True):
            self.missing = gr.Dropdown(self.missing_choices(), label="File", elem_id="models-missing")
            download = gr.Button("Download", elem_id="models-download")
            self.download_status = gr.Markdown(elem_id="models-download-status")
        with gr.Row(equal_height=True):
            self.enhancer = gr.Textbox(self.enhancer_value(), label="Prompt enhancer: a Gemma 3 folder that rewrites "
                                       "prompts (LTX-2.5 needs one: its Gemma 4 text encoder cannot generate text; empty: "
                                       "a Gemma 3 folder of the weights folder, or on 2.0 / 2.3 the text encoder's Gemma)",
                                       placeholder="/path/to/gemma-3-12b-it", scale=4, elem_id="models-enhancer")  # fmt: skip
            set_enhancer = gr.Button("Use this enhancer", scale=1, elem_id="models-enhancer-set")
        self.enhancer_status = gr.Markdown(self.enhancer_text(), elem_id="models-enhancer-status")
        set_enhancer.click(self.set_enhancer, self.enhancer, [self.enhancer_status, self.found], api_name="models_enhancer",
                           queue=False)  # fmt: skip
        presets = load_presets()
        auto_name = model_files.auto_preset().name
        choices = [(f"auto ({auto_name}, picked from {system_memory_bytes() / 2**30:.0f} GiB RAM)", AUTO)]
        choices += [(f"{p.name}: {machine_text(p.description)}", p.name) for p in presets]
        self.preset = gr.Dropdown(choices, value=AUTO if studio.preset_auto else studio.preset.name,
                                  label="Memory mode", elem_id="models-preset")  # fmt: skip
        self.preset_status = gr.Markdown(self.preset_text())
        with gr.Accordion("LoRAs and what they cost per memory mode", open=False, elem_id="models-loras"):
            self.loras = gr.Markdown(lora_table(studio), elem_id="models-loras-table")
        with gr.Accordion("Memory estimate for a generation", open=False):
            with gr.Row():
                pipeline = gr.Dropdown([(PIPELINES[n].title, n) for n in GENERATION_PIPELINES], value="distilled",
                                       label="Pipeline")  # fmt: skip
                width = gr.Number(768, label="Width", precision=0)
                height = gr.Number(512, label="Height", precision=0)
                frames = gr.Number(121, label="Frames", precision=0)
                audio = gr.Checkbox(True, label="Audio")
            self.estimate_loras = gr.Dropdown(pick_choices(library(studio)), value=[], multiselect=True,
                                              label="With these LoRAs (strength 1 in every stage)",
                                              allow_custom_value=True, elem_id="models-estimate-loras")  # fmt: skip
            estimate = gr.Button("Estimate", elem_id="models-estimate")
            estimate_out = gr.Markdown(elem_id="models-estimate-result")
        estimate.click(self.estimate, [pipeline, width, height, frames, audio, self.estimate_loras], estimate_out,
                       api_name="models_estimate", queue=False)  # fmt: skip
        with gr.Accordion("Inspect a checkpoint", open=False):
            path = gr.Textbox(label="Checkpoint path", value=str(studio.models.paths.checkpoint))
            inspect = gr.Button("Inspect")
            status, details = gr.Markdown(elem_id="models-inspect-status"), gr.Code(label="Summary", language="json",
                                                                                   max_lines=24)  # fmt: skip
        inspect.click(lambda p: inspect_checkpoint(p, inspectable_folders(studio)), path, [status, details],
                      api_name="inspect", queue=False)  # fmt: skip
        with gr.Accordion("Pipelines", open=False, elem_id="models-pipelines"):
            gr.Markdown(self.pipelines_table(), elem_id="models-pipelines-table")
        choices = (lambda: gr.Dropdown(choices=self.checkpoint_choices(), value=self.checkpoint_value()), None,
                   self.checkpoint)  # fmt: skip
        private = {"queue": False, "api_visibility": "private"}
        self.changed = [
            rescan.click(self.rescan, self.folder, [self.found, self.missing], api_name="models_rescan",
                         queue=False).then(*choices, **private),
            download.click(self.download, self.missing, [self.download_status, self.found, self.missing, self.folder],
                           api_name="models_download", concurrency_limit=1,
                           show_progress_on=[self.download_status]).then(*choices, **private),
            self.checkpoint.input(self.pick_checkpoint, self.checkpoint, [self.found, self.missing],
                                  api_name="models_checkpoint", queue=False),
        ]  # fmt: skip
        for event in self.changed:
            event.success(lambda: (lora_table(studio), gr.Dropdown(choices=pick_choices(library(studio)), value=[])),
                          None, [self.loras, self.estimate_loras], queue=False, api_visibility="private")  # fmt: skip
        self.preset.change(lambda _: lora_table(studio), self.preset, self.loras, queue=False, api_visibility="private")
        self.preset.change(self.set_preset, self.preset, self.preset_status, api_name="models_preset", queue=False)

    def describe(self) -> str:
        studio, models = self.studio, self.studio.models
        lines = [f"Weights folder: `{studio.weights_dir or '(none: type one above and press Rescan)'}` · backend **{backend_name()}** · "
                 f"BLAS: {loaded_blas() or 'bundled'}", ""]  # fmt: skip
        if models.demo and models.demo_defaults is not None:
            lines.append("**In use: the built-in demo models** (tiny, trained on synthetic clips of coloured shapes).")
        elif models.demo:
            lines.append("**In use: the built-in demo models** (tiny random weights; outputs are not meaningful).")
        else:
            lines.append(f"**In use:** `{models.paths.checkpoint}`")
        lines += ["", "| Found | Role | Size |", "|---|---|---|"]
        lines += [f"| `{f.path.name}` | {_what(f, models)} | {_size(f.size)} |" for f in models.found]
        if not models.found:
            lines.append("| (nothing) | | |")
        missing = model_files.missing_files(models)
        if missing:
            lines += ["", "**Missing** (put them in the weights folder):", ""]
            lines += [f"- `{repo}` → `{file}`: {why}" for repo, file, why in missing]
        return "\n".join(lines)

    def enhancer_value(self) -> str:
        return str(self.studio.enhancer or "")

    def enhancer_text(self) -> str:
        models = self.studio.models
        if models.paths.enhancer is not None:
            return f"Prompt enhancement rewrites with `{models.paths.enhancer}`."
        if models.paths.split:
            return (f"Prompt enhancement is off for {models.version.title}: its Gemma 4 text encoder cannot generate "
                    "text; set a Gemma 3 folder above (e.g. google/gemma-3-12b-it).")  # fmt: skip
        return "Prompt enhancement rewrites with the text encoder's Gemma 3."

    def set_enhancer(self, folder: str | None) -> tuple[str, str]:
        """Use ``folder`` (a Gemma 3 folder) for prompt enhancement; empty: the default."""
        from ltx_core.loader.text_encoder import gemma_folder
        from ltx_core.model_spec import Role, recognise

        studio = self.studio
        chosen = Path(folder.strip()).expanduser() if folder and folder.strip() else None
        if chosen is not None:
            try:
                gemma_folder(chosen)
            except LTXError as exc:
                raise gr.Error(f"Not used as the prompt enhancer: {exc}", print_exception=False) from None
            found = recognise(chosen)
            if found.role != Role.GEMMA or not found.detail.startswith("Gemma folder (gemma3"):
                raise gr.Error(f"{chosen} is not a Gemma 3 folder ({found.problem or found.detail}): the prompt "
                               "enhancer must be a Gemma 3 chat model, e.g. google/gemma-3-12b-it.", print_exception=False)  # fmt: skip
        studio.enhancer = chosen
        checkpoint = None if studio.models.demo else Path(studio.models.paths.checkpoint)
        studio.set_models(model_files.resolve_models(studio.weights_dir, studio.gemma, checkpoint, chosen))
        return self.enhancer_text(), self.describe()

    def checkpoint_choices(self) -> list[tuple[str, str]]:
        return [(f"{f.path.name} ({f.detail})", str(f.path)) for f in self.studio.models.models()]

    def checkpoint_value(self) -> str | None:
        return None if self.studio.models.demo else str(self.studio.models.paths.checkpoint)

    def pick_checkpoint(self, path: str | None) -> tuple:
        """Use another checkpoint of the weights folder; its companions are picked by version."""
        studio = self.studio
        chosen = Path(path or "")
        if not any(f.path == chosen for f in studio.models.models()):
            raise gr.Error(f"{chosen.name or 'nothing'} is not a checkpoint found in the weights folder: press Rescan "
                           "and choose one of the list.", print_exception=False)  # fmt: skip
        studio.set_models(model_files.resolve_models(studio.weights_dir, studio.gemma, chosen, studio.enhancer))
        return self.describe(), gr.Dropdown(choices=self.missing_choices(), value=None)

    def missing_choices(self) -> list[tuple[str, str]]:
        return [(f"{repo}: {file}", f"{repo}|{file}") for repo, file, _ in model_files.missing_files(self.studio.models)]

    def preset_text(self) -> str:
        p = self.studio.preset
        note = " (not applied to the demo models: they run unquantized in float32)" if self.studio.models.demo else ""
        return f"Memory mode in use: **{p.name}**{note}: {machine_text(p.description)}"

    def pipelines_table(self) -> str:
        """Each pipeline: where it is in the studio, the files it needs, and the checkpoint kind it is meant for."""
        tabs = {"distilled": "Text / Image to Video", "one-stage": "Text / Image to Video", "two-stage":
                "Text / Image to Video", "two-stage-hq": "Text / Image to Video", "dfr": "Text / Image to Video", "keyframes": "Keyframe Interpolation", "ic-lora": "IC-LoRA Control",
                "audio-to-video": "Audio to Video", "upscale": "Upscaling", "retake": "Retake", "extend": "Extend",
                "text-to-audio": "Text / Image to Video (audio only)"}  # fmt: skip
        rows = ["| Pipeline | Tab | Needs | Meant for |", "|---|---|---|---|"]
        for name, d in PIPELINES.items():
            needs = ", ".join(role.value.replace("_", " ") for role in d.needs) or "the checkpoint only"
            rows.append(f"| **{d.title}** (`{name}`): {d.summary} | {tabs.get(name, '')} | {needs} | {d.variant} |")
        return "\n".join(rows)

    def rescan(self, folder: str | None = None) -> tuple:
        studio = self.studio
        moved = False
        if folder is not None and folder.strip() != str(studio.weights_dir or ""):
            chosen = Path(folder.strip()).expanduser() if folder.strip() else None
            if chosen is not None and not chosen.is_dir():
                raise gr.Error(f"{chosen} is not a folder: type the path of the folder that holds the .safetensors "
                               "files.", print_exception=False)  # fmt: skip
            studio.weights_dir, moved = chosen, True
        checkpoint = None if studio.models.demo else Path(studio.models.paths.checkpoint)
        if checkpoint is not None and not checkpoint.exists():
            checkpoint = None
        inside = checkpoint is not None and studio.weights_dir is not None and checkpoint.resolve().is_relative_to(
            studio.weights_dir.resolve()
        )
        if moved and not inside:  # another folder: its own models, unless the one in use is inside it
            checkpoint = None
        studio.set_models(model_files.resolve_models(studio.weights_dir, studio.gemma, checkpoint, studio.enhancer))
        return self.describe(), gr.Dropdown(choices=self.missing_choices(), value=None)

    def download(self, choice: str | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:
        if not choice or "|" not in choice:
            return "⚠️ Choose a missing file to download first.", gr.skip(), gr.skip(), gr.skip()
        repo, file = choice.split("|", 1)
        target = self.studio.weights_dir or Path.home() / ".cache" / "ltx-studio-mlx" / "weights"
        progress(0, desc=f"connecting to huggingface.co for {file}")
        try:
            path = model_files.download(repo, file, target)
        except Exception as exc:  # network, auth (gated Gemma), disk: all reported, none fatal
            # Shown in the status line only (a raised error would put "Error" over the file list too).
            return f"⚠️ Download of `{file}` failed: {exc}", gr.skip(), gr.skip(), gr.skip()
        self.studio.weights_dir = target  # scanned from now on
        found, missing = self.rescan()
        return f"Downloaded `{path}`.", found, missing, str(target)

    def estimate(self, pipeline: str, width: float, height: float, frames: float, audio: bool,
                 loras: list[str] | None = None) -> str:  # fmt: skip
        """Per-stage predicted peak memory of the checkpoint in use under the current memory mode;
        a job that would not fit gets the refusal a run would (naming the cheaper option)."""
        from ltx_core.memory import GIB, available_memory, gib
        from ltx_core.pipelines.request import GenerationRequest
        from ltx_ui.estimates import memory_estimate, refusal
        from ltx_ui.lora_library import request_loras

        studio = self.studio
        try:
            descriptor = pipeline_descriptor(pipeline)
            request = GenerationRequest.for_version(studio.models.version, prompt="estimate", height=int(height),
                                                    width=int(width), frames=int(frames), generate_audio=bool(audio),
                                                    loras=request_loras(studio, list(loras or [])))  # fmt: skip
            request.validate(descriptor.size_multiple)
            mode, result = memory_estimate(studio, pipeline, request)  # never touches a running job's ledger log
        except (LTXError, ValueError, KeyError, TypeError, OverflowError) as exc:
            raise gr.Error(f"Cannot estimate: {exc}", print_exception=False) from None
        available = available_memory(margin_bytes=studio.current_ledger().runtime.memory_margin)
        verdict = "fits" if result.peak <= available else "does **not** fit"
        rows = [f"| {s.stage} | {s.weights / GIB:.2f} | {s.lora_side_path / GIB:.3f} | {s.activations / GIB:.2f} | "
                f"{s.peak / GIB:.2f} |" for s in result.stages]  # fmt: skip
        why = refusal(studio, result)
        return "\n".join(
            [
                f"Memory mode **{mode}**: peak **{gib(result.peak)}**, {verdict} in the "
                f"{gib(available)} this machine can give a job.",
                *([f"", f"⚠️ A run would be refused: {why}"] if why else []),
                "",
                "| stage | weights GiB | of which LoRA side paths GiB | working GiB | peak GiB |",
                "|---|---|---|---|---|",
                *rows,
            ]
        )

    def set_preset(self, name: str) -> str:
        try:
            preset = model_files.choose_preset(None if name == AUTO else name)
        except Exception as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        self.studio.set_preset(preset, name == AUTO)
        return self.preset_text()


def machine_text(description: str) -> str:
    """Memory-mode descriptions speak of Macs; elsewhere they mean any machine with that memory."""
    import sys

    return description if sys.platform == "darwin" else description.replace(" Macs", " machines")


def _what(found: model_files.FoundFile, models: model_files.ModelSet | None = None) -> str:
    """Role, version and detail of a found file; a broken or refused one says why in bold, the
    model in use says so."""
    if found.problem:
        return f"**unusable: {found.problem}**"
    version = f"LTX-{found.version} " if found.version else ""
    what = f"{version}{found.detail or found.role.replace('_', ' ')}"
    if found.refused:
        return f"{what}: **not used**: {found.refused}"
    if models is not None and not models.demo and found.path == Path(models.paths.checkpoint):
        return f"{what} · **in use**"
    return what
