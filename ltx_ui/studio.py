"""The studio page: a banner, the tabs, and how it is launched (allowed paths, auth, share)."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ltx_core import __version__
from ltx_ui.context import Studio
from ltx_ui.lora_picker import CSS as LORA_CSS
from ltx_ui.tab_audio import AudioToVideoTab
from ltx_ui.tab_extend import ExtendTab
from ltx_ui.tab_gallery import GalleryTab
from ltx_ui.tab_generate import GenerateTab
from ltx_ui.tab_iclora import ICLoraTab
from ltx_ui.tab_keyframes import KeyframesTab
from ltx_ui.tab_models import ModelsTab, inspect_checkpoint  # noqa: F401  (public: the CLI-free inspector)
from ltx_ui.tab_retake import RetakeTab
from ltx_ui.tab_timeline import TimelineTab
from ltx_ui.tab_upscale import UpscaleTab

ASSETS = Path(__file__).resolve().parent / "assets"
CSS = """
#studio-banner { border-left: 6px solid #d97706; padding: 0.4em 1em; background: rgba(217,119,6,0.10); }
.result-column { position: sticky; top: 8px; align-self: flex-start; }
#gallery-grid .caption-label, #keyframes-gallery .caption-label, [id$="-batch"] .caption-label {
  white-space: normal; max-width: calc(100% - 8px); opacity: 0.9; line-height: 1.25; }
[id$="-preview"] img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
""" + LORA_CSS


def build_studio(studio: Studio | None = None) -> gr.Blocks:
    """The studio page (with no ``studio``: defaults, i.e. ./outputs and the demo models unless
    LTX_WEIGHTS_DIR points at weights)."""
    if studio is None:
        import os

        weights = os.environ.get("LTX_WEIGHTS_DIR")
        studio = Studio.create(Path(os.environ.get("LTX_OUTPUTS_DIR", "outputs")), Path(weights) if weights else None,
                               None, None)  # fmt: skip
    with gr.Blocks(title="LTX Studio for MLX") as blocks:
        gr.Markdown(f"# LTX Studio for MLX <small>ltx_core {__version__}</small>")
        banner = gr.Markdown(studio.banner(), elem_id="studio-banner")
        generate, keyframes, ic_lora = GenerateTab(studio), KeyframesTab(studio), ICLoraTab(studio)
        upscale, gallery, models = UpscaleTab(studio), GalleryTab(studio), ModelsTab(studio)
        audio, retake, extend = AudioToVideoTab(studio), RetakeTab(studio), ExtendTab(studio)
        timeline = TimelineTab(studio)
        with gr.Tabs() as tabs:
            with gr.Tab("Text / Image to Video", id="generate") as generate_tab:
                generate.build()
            with gr.Tab("Keyframe Interpolation", id="keyframes") as keyframes_tab:
                keyframes.build()
            with gr.Tab("IC-LoRA Control", id="ic-lora") as ic_lora_tab:
                ic_lora.build()
            with gr.Tab("Audio to Video", id="audio-to-video") as audio_tab:
                audio.build()
            with gr.Tab("Upscaling", id="upscale"):
                upscale.build()
            with gr.Tab("Retake", id="retake") as retake_tab:
                retake.build()
            with gr.Tab("Extend", id="extend") as extend_tab:
                extend.build()
            with gr.Tab("Long Video", id="timeline") as timeline_tab:
                timeline.build()
            with gr.Tab("Gallery", id="gallery"):
                gallery.build()
            with gr.Tab("Models & Settings", id="models"):
                models.build()
        gallery.wire(tabs, {"generate": generate, "keyframes": keyframes, "ic-lora": ic_lora, "upscale": upscale,
                            "audio-to-video": audio, "retake": retake, "extend": extend, "timeline": timeline},
                     upscale.choice,
                     {"retake": retake.picker.choice, "extend": extend.picker.choice}, extend.direction)  # fmt: skip
        listing = gallery.listing()
        libraries = [generate.lora_picker, keyframes.lora_picker, ic_lora.lora_picker, audio.lora_picker]
        pickers = [component for library in libraries for component in (library.cards, library.pick)]

        def models_changed(*queries):
            preselected = studio.models.ic_lora()
            ic = gr.Dropdown(choices=ic_lora.control_choices(), value=str(preselected) if preselected else None)
            refreshed = [part for library, query in zip(libraries, queries) for part in library.refresh(query)]
            return studio.banner(), *refreshed, ic

        for event in models.changed:
            event.success(models_changed, [library.query for library in libraries], [banner, *pickers, ic_lora.lora],
                          queue=False, api_visibility="private")  # fmt: skip
        blocks.load(gallery.refresh, gallery.filters, listing, queue=False, api_visibility="private")
        blocks.load(upscale.on_load, None, upscale.choice, queue=False, api_visibility="private")
        for edit in (retake, extend):
            blocks.load(edit.on_load, None, edit.picker.choice, queue=False, api_visibility="private")
        blocks.load(timeline.on_load, None, timeline.resume, queue=False, api_visibility="private")
        timeline_tab.select(timeline.on_load, None, timeline.resume, queue=False, api_visibility="private")
        for tab, page in ((generate, generate_tab), (keyframes, keyframes_tab), (ic_lora, ic_lora_tab), (audio, audio_tab),
                          (retake, retake_tab), (extend, extend_tab), (timeline, timeline_tab)):
            tab.refresh_estimate_on(page.select)
            tab.refresh_estimate_on(blocks.load)
        for tab in (generate, keyframes, ic_lora, audio, upscale, retake, extend, timeline):
            tab.finished.then(gallery.refresh, gallery.filters, listing, queue=False, api_visibility="private")
            tab.finished.then(lambda: gr.Dropdown(choices=upscale.choices()), None, upscale.choice, queue=False,
                              api_visibility="private")  # fmt: skip
            for edit in (retake, extend):
                tab.finished.then(edit.on_load, None, edit.picker.choice, queue=False, api_visibility="private")
    one_line_input_errors(blocks)
    return blocks


def one_line_input_errors(blocks: gr.Blocks) -> None:
    """A value a component cannot take (an API client sending text to a slider, say) is refused in
    one sentence naming the field, instead of Gradio's multi-line report with the Python error."""
    for block in blocks.blocks.values():
        if not isinstance(block, gr.components.Component) or block.stateful:
            continue
        original = block.preprocess

        def preprocess(payload, original=original, block=block):
            try:
                return original(payload)
            except gr.Error as exc:  # Gradio's own bounds check ("Value -1 is less than minimum value 0.")
                if block.label and isinstance(block, (gr.Number, gr.Slider)):
                    raise gr.Error(f"{block.label}: {exc.message}", print_exception=False) from None
                raise
            except Exception:
                raise gr.Error(_refusal(block, payload), print_exception=False) from None

        block.preprocess = preprocess


def _refusal(block: gr.components.Component, payload) -> str:
    from pathlib import PurePath

    path = getattr(payload, "path", None) or (payload.get("path") if isinstance(payload, dict) else None)
    if path:  # an upload: its own name (the server's temporary copy is no business of the user)
        name = getattr(payload, "orig_name", None) or PurePath(str(path)).name
        if isinstance(block, gr.Image):
            return f"{name} is not an image the studio can read (PNG, JPEG, WebP...)."
        return f"{name} cannot be used for {block.label or 'this field'}: choose another file."
    label = block.label or type(block).__name__
    kind = "a number" if isinstance(block, (gr.Number, gr.Slider)) else "a valid value"
    return f"{label}: {repr(payload)[:40]} is not accepted; enter {kind}."


@dataclass(frozen=True)
class LaunchOptions:
    host: str = "127.0.0.1"
    port: int | None = 7860
    share: bool = False
    auth: tuple[str, str] | None = None
    share_without_auth: bool = False
    max_file_size: str | int = "4gb"


def parse_auth(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth takes user:password (both non-empty)")
    return user, password


def check_share(options: LaunchOptions) -> None:
    """A public link without a password exposes the machine: refuse unless asked explicitly."""
    if options.share and options.auth is None and not options.share_without_auth:
        raise ValueError(
            "--share makes the studio reachable from the internet: add --auth user:password, or pass "
            "--share-without-auth if you really want a public link without a password."
        )


def launch(blocks: gr.Blocks, studio: Studio, options: LaunchOptions, block: bool = True) -> tuple:
    """Start serving. Only the outputs folder and the app's own assets may be served as files."""
    check_share(options)
    blocks.queue(default_concurrency_limit=1, max_size=64)
    allowed = [str(studio.outputs.resolve())] + ([str(ASSETS)] if ASSETS.is_dir() else [])
    blocked = [str(p) for p in (studio.weights_dir, Path(studio.models.paths.checkpoint).parent) if p]
    result = blocks.launch(
        server_name=options.host, server_port=options.port, share=options.share, auth=options.auth,
        show_error=True, allowed_paths=allowed, blocked_paths=blocked, max_file_size=options.max_file_size,
        prevent_thread_lock=True, quiet=True, css=CSS, footer_links=["api"],
    )  # fmt: skip
    if block:
        hint = "" if options.share else " (for a public link: --share --auth user:password)"
        print(f"LTX Studio is running at {blocks.local_url}{hint}", flush=True)
    # The ledger calls gc.collect() at every model release; with Gradio's (and pandas') objects in
    # the heap each full collection took tens of ms and a tiny demo job ran 2x slower. Startup
    # objects live as long as the app, so move them out of the collector's sight.
    gc.collect()
    gc.freeze()
    if options.share:
        if getattr(blocks, "share_url", None):
            print(f"Public link (login required unless --share-without-auth): {blocks.share_url}", flush=True)
        else:
            print("Could not create a public share link (no connection to Gradio's share service); the studio "
                  f"keeps running locally at {blocks.local_url}", flush=True)  # fmt: skip
    if block:
        blocks.block_thread()
    return result
