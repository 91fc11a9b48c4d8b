"""``python -m ltx_core.demo.evaluate [MODEL_FOLDER]``: how often the demo models make what the
prompt says.

Each held-out caption (never seen in training, ``ltx_core.demo.train.data``) goes through the
normal path - ``ModelPaths`` of the folder, ``build_ledger``, ``run_job`` of the ``one-stage``
pipeline with CFG and an empty negative prompt (the unconditional branch training drops captions
to) - at the demo geometry; ``describe_video`` reads colour, shape, motion and background back
from the written mp4 and the hit rate of each is reported. Then (``placement.py``): whether
keyframe images and IC-LoRA edges put the shape where they show it, against text-only jobs, and
what the spatial upsampler gains over resizing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIELDS = ("colour", "shape", "motion", "background")


@dataclass(frozen=True)
class EvaluationResult:
    captions: int
    hit_rates: dict[str, float]
    rows: list[dict]
    seconds_per_job: float


def evaluate(
    model_folder: Path,
    limit: int | None = None,
    steps: int = 20,
    cfg: float = 3.0,
    seed: int = 0,
    pipeline: str = "one-stage",
    log=print,
) -> EvaluationResult:
    from ltx_core.demo import demo_paths
    from ltx_core.demo.placement import demo_request, run_demo_job
    from ltx_core.demo.synthetic import ClipSpec, describe_video
    from ltx_core.demo.train.data import held_out_captions
    from ltx_core.pipelines.ledger import build_ledger
    from ltx_core.presets import load_presets, pick_preset, system_memory_bytes

    paths = demo_paths(Path(model_folder))
    ledger = build_ledger(paths, pick_preset(system_memory_bytes(), load_presets()), demo=True)
    captions = held_out_captions()[:limit] if limit else held_out_captions()
    rows, seconds = [], 0.0
    with tempfile.TemporaryDirectory(prefix="ltx-demo-eval-") as folder:
        for index, caption in enumerate(captions):
            request = demo_request(ledger, pipeline, caption, seed + index, steps, cfg)
            record, frames = run_demo_job(ledger, pipeline, request, Path(folder) / f"{index}.mp4")
            seconds += record.seconds
            seen = describe_video(frames)
            hits = seen.matches(ClipSpec.from_caption(caption))
            rows.append({"caption": caption, "seen": vars(seen), **hits})
            log(f"{caption!r}: saw {vars(seen)} ({record.seconds:.1f} s)")
    rates = {name: sum(row[name] for row in rows) / len(rows) for name in FIELDS}
    return EvaluationResult(len(rows), rates, rows, seconds / max(len(rows), 1))


def reconstruction(model_folder: Path, clips: int = 8) -> tuple[float, float]:
    """The video VAE on clips of held-out captions, encoder and decoder loaded from the folder's
    checkpoint by the normal loaders: PSNR (dB, pixels in [-1, 1]) and the share of shapes read
    back (``vae_stage.held_out_reconstruction``)."""
    from ltx_core.demo import CHECKPOINT
    from ltx_core.demo.train.data import ClipGeometry
    from ltx_core.demo.train.vae_stage import held_out_reconstruction
    from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder

    checkpoint = Path(model_folder) / CHECKPOINT
    encoder, decoder = load_video_encoder(checkpoint), load_video_decoder(checkpoint)
    return held_out_reconstruction(encoder, decoder, ClipGeometry(), clips)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_core.demo.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "model", type=Path, nargs="?", default=Path(".demo-training/model"), help="a trained demo set folder"
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N held-out captions")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the per-caption results here")
    parser.add_argument("--captions-only", action="store_true", help="skip the keyframe, IC-LoRA and upsampler checks")
    args = parser.parse_args(argv)
    if not (args.model / "VERSION").exists():
        print(f"{args.model} holds no demo set: give a training run's model/ folder.", file=sys.stderr)
        return 2
    psnr_db, shapes = reconstruction(args.model)
    print(f"video VAE on held-out clips: reconstruction PSNR {psnr_db:.2f} dB, shapes read back {shapes:.0%}")
    result = evaluate(args.model, args.limit, args.steps, args.cfg)
    print(f"{result.captions} held-out captions, {result.seconds_per_job:.1f} s per job")
    for name, rate in result.hit_rates.items():
        print(f"  {name:<10} {rate:.0%}")
    report = {"hit_rates": result.hit_rates, "rows": result.rows}
    if not args.captions_only:
        report["placement"] = placement_checks(args.model, args.limit, args.steps, args.cfg)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def placement_checks(model_folder: Path, limit: int | None, steps: int, cfg: float, log=print) -> dict:
    """The ``placement`` checks on the held-out captions, printed and returned as a dict."""
    from dataclasses import asdict

    from ltx_core.demo import demo_ic_lora, demo_paths
    from ltx_core.demo.placement import control_placement, keyframe_placement, upsampler_gain
    from ltx_core.demo.train.data import held_out_captions
    from ltx_core.pipelines.ledger import build_ledger
    from ltx_core.presets import load_presets, pick_preset, system_memory_bytes

    captions = held_out_captions()[:limit] if limit else held_out_captions()
    paths = demo_paths(Path(model_folder))
    ledger = build_ledger(paths, pick_preset(system_memory_bytes(), load_presets()), demo=True)
    results = [keyframe_placement(ledger, captions, steps, cfg, log=log)]
    results.append(control_placement(ledger, demo_ic_lora(paths), captions, log=log))
    for r in results:
        log(f"{r.what}: shape placed on {r.hit_rate:.0%} of {r.jobs} jobs; mean distance {r.mean_distance:.3f} "
            f"of the frame (text only {r.text_only_distance:.3f})")  # fmt: skip
    upsampled, resized = upsampler_gain(Path(model_folder), captions[:8])
    log(f"spatial upsampler, 64 -> 128 pixels: {upsampled:.2f} dB (decoding at 64 and resizing: {resized:.2f} dB)")
    return {"placements": [asdict(r) for r in results], "upsampled_psnr": upsampled, "resized_psnr": resized}


if __name__ == "__main__":
    sys.exit(main())
