"""``generate --pipeline retake|extend``: the options of the pipelines that edit an existing clip
in time, and their requests."""

from __future__ import annotations

import argparse

from ltx_core.model_spec import VersionSpec

EDIT_PIPELINES = ("retake", "extend")


def add_edit_arguments(parser: argparse.ArgumentParser) -> None:
    edit = parser.add_argument_group("editing a clip (--pipeline " + "|".join(EDIT_PIPELINES) + ")")
    edit.add_argument("--source", help="the clip to edit (an mp4; a generated one is checked against the model version)")
    edit.add_argument("--start", type=float, help="retake: the window's start in seconds")
    edit.add_argument("--end", type=float, help="retake: the window's end in seconds (exclusive)")
    edit.add_argument("--seconds", type=float, help="extend: seconds to add after the clip's end")
    edit.add_argument("--overlap", type=int, default=2, help="extend: latent frames of the clip the extension starts "
                      "from (2 = its last 9 frames)")  # fmt: skip
    keep = edit.add_mutually_exclusive_group()
    keep.add_argument("--keep-audio", action="store_true", help="retake: regenerate only the video in the window")
    keep.add_argument("--keep-video", action="store_true", help="retake: regenerate only the audio in the window")


def edit_request_from_args(args: argparse.Namespace, version: VersionSpec):
    """The retake or extend request the options describe (one sentence for what is missing)."""
    from ltx_core.cli_generate import guidance_from_args
    from ltx_core.pipelines.extend import ExtendRequest
    from ltx_core.pipelines.request import RequestError
    from ltx_core.pipelines.retake import RetakeRequest

    needed = ("source", "start", "end") if args.pipeline == "retake" else ("source", "seconds")
    missing = [f"--{name}" for name in needed if getattr(args, name) is None]
    if missing:
        raise RequestError(f"--pipeline {args.pipeline} needs {', '.join(missing)}.")
    video, audio = guidance_from_args(args, version)
    if args.pipeline == "extend":
        return ExtendRequest(
            args.source, args.seconds, prompt=args.prompt, negative_prompt=args.negative_prompt, seed=args.seed,
            overlap=args.overlap, steps=args.steps_stage1 or args.steps, video_guidance=video, audio_guidance=audio,
            enhance_prompt=args.enhance_prompt,
        )  # fmt: skip
    return RetakeRequest(
        args.source, args.start, args.end, prompt=args.prompt, negative_prompt=args.negative_prompt, seed=args.seed,
        regenerate_video=not args.keep_video, regenerate_audio=not args.keep_audio, steps=args.steps_stage1 or args.steps,
        video_guidance=video, audio_guidance=audio, enhance_prompt=args.enhance_prompt,
    )  # fmt: skip
