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
                      "from (forward, 2 = its last 9 frames) or runs into (backward, 2 = its first 17 frames)")  # fmt: skip
    edit.add_argument("--direction", choices=("forward", "backward"), default="forward",
                      help="extend: add the seconds after the clip's end (forward) or before its start (backward)")  # fmt: skip
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
            enhance_prompt=args.enhance_prompt, direction=args.direction,
        )  # fmt: skip
    return RetakeRequest(
        args.source, args.start, args.end, prompt=args.prompt, negative_prompt=args.negative_prompt, seed=args.seed,
        regenerate_video=not args.keep_video, regenerate_audio=not args.keep_audio, steps=args.steps_stage1 or args.steps,
        video_guidance=video, audio_guidance=audio, enhance_prompt=args.enhance_prompt,
    )  # fmt: skip


def add_timeline_parser(commands) -> None:
    from ltx_core.cli_generate import add_model_arguments

    parser = commands.add_parser("timeline", help="a long video from several prompts, window by window (resumable)")
    parser.add_argument("--segment", action="append", default=[], metavar="PROMPT::SECONDS", required=True,
                        help="one segment of the timeline, in order (repeat)")  # fmt: skip
    parser.add_argument("--output-dir", required=True, help="folder of the windows (window-01.mp4, ...); the last "
                        "one is the whole video; running again resumes after the last finished window")  # fmt: skip
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--fps", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overlap", type=int, default=2, help="latent frames each window starts from")
    parser.add_argument("--generate-audio", action=argparse.BooleanOptionalAction, default=True)
    add_model_arguments(parser)


def run_timeline_command(args: argparse.Namespace) -> int:
    import sys

    from ltx_core.cli_generate import build_ledger
    from ltx_core.pipelines.request import RequestError
    from ltx_core.pipelines.timeline import Segment, TimelineRequest, check_timeline, run_timeline, window_path

    segments = []
    for spec in args.segment:
        prompt, sep, seconds = spec.rpartition("::")
        try:
            segments.append(Segment(prompt.strip(), float(seconds)))
        except ValueError:
            raise RequestError(f"--segment {spec!r}: write PROMPT::SECONDS, e.g. 'a boat at dawn::4'.") from None
        if not sep:
            raise RequestError(f"--segment {spec!r}: write PROMPT::SECONDS, e.g. 'a boat at dawn::4'.")
    request = TimelineRequest(tuple(segments), args.height, args.width, args.fps, args.seed, args.overlap,
                              args.generate_audio)  # fmt: skip
    check_timeline(request)
    ledger, _ = build_ledger(args)

    def progress(event) -> None:
        print(f"\r{event.stage}: {event.step}/{event.total}".ljust(60), end="", file=sys.stderr, flush=True)

    records = run_timeline(ledger, request, args.output_dir, progress)
    print(file=sys.stderr)
    for record in records:
        print(f"wrote {record.video} ({record.seconds:.1f} s)")
    print(f"the whole video: {window_path(args.output_dir, len(segments))}")
    return 0
