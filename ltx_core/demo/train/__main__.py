"""``python -m ltx_core.demo.train --stage vae|transformer [--steps N] [--folder F] [--resume]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ltx_core.demo.train import DEFAULT_FOLDER, STAGES, build_stage, prepare_folder
from ltx_core.demo.train.loop import TrainingError, TrainOptions, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_core.demo.train", description="Train the demo model family.")
    parser.add_argument("--stage", required=True, choices=sorted(STAGES))
    parser.add_argument(
        "--steps", type=int, default=None, help="the stage's total step budget (default: the stage's own)"
    )
    parser.add_argument("--folder", type=Path, default=Path(DEFAULT_FOLDER), help="run folder (default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the stage's run in --folder")
    parser.add_argument("--batch", type=int, default=None, help="clips per step (default: the stage's own)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the stage's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--log-every", type=int, default=10)
    args = parser.parse_args(argv)
    defaults = STAGES[args.stage]
    steps = args.steps if args.steps is not None else defaults.steps
    if steps < 1 or args.checkpoint_every < 1 or args.log_every < 1:
        print("--steps, --checkpoint-every and --log-every must be at least 1.", file=sys.stderr)
        return 2
    try:
        model_folder = prepare_folder(args.folder)
        stage = build_stage(args.stage, model_folder, batch_size=args.batch, seed=args.seed)
        options = TrainOptions(
            steps=steps, seed=args.seed, learning_rate=args.lr or defaults.learning_rate,
            checkpoint_every=args.checkpoint_every, log_every=args.log_every, resume=args.resume,
        )  # fmt: skip
        run(stage, args.folder, options)
    except TrainingError as error:
        print(str(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
