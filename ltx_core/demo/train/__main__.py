"""``python -m ltx_core.demo.train (--stage NAME | --all) [--state-dir DIR] [--resume] [--steps N]``.

``--all`` trains every stage in turn (``STAGE_ORDER``), each to its own step budget; with
``--resume`` a stopped run continues where it stopped, finished stages are skipped. Progress lines
(loss, the stage's metrics, steps per second, ETA; held-out metrics at checkpoints) go to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ltx_core.demo.train import DEFAULT_FOLDER, STAGE_ORDER, STAGES, build_stage, prepare_folder
from ltx_core.demo.train.loop import TrainingError, TrainOptions, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx_core.demo.train", description="Train the demo model family.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", choices=sorted(STAGES))
    which.add_argument("--all", action="store_true", help="every stage in turn: " + ", ".join(STAGE_ORDER))
    parser.add_argument("--steps", type=int, default=None, help="the stage's total step budget (--stage only)")
    parser.add_argument(
        "--state-dir", "--folder", dest="folder", metavar="DIR", type=Path, default=Path(DEFAULT_FOLDER),
        help="run folder: model/ and one state folder per stage; may be outside the repository (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue the run in --state-dir")
    parser.add_argument("--batch", type=int, default=None, help="clips per step (default: the stage's own)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the stage's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument(
        "--validate-every", type=int, default=250, help="steps between held-out evaluations, at checkpoints (0: never)"
    )
    args = parser.parse_args(argv)
    if args.all and args.steps is not None:
        print("--steps applies to one stage: give it with --stage, not --all.", file=sys.stderr)
        return 2
    if (args.steps is not None and args.steps < 1) or args.checkpoint_every < 1 or args.log_every < 1:
        print("--steps, --checkpoint-every and --log-every must be at least 1.", file=sys.stderr)
        return 2
    if args.validate_every < 0:
        print("--validate-every must be 0 (never) or more.", file=sys.stderr)
        return 2
    try:
        model_folder = prepare_folder(args.folder)
        for name in STAGE_ORDER if args.all else (args.stage,):
            defaults = STAGES[name]
            stage = build_stage(name, model_folder, batch_size=args.batch, seed=args.seed)
            options = TrainOptions(
                steps=args.steps or defaults.steps, seed=args.seed, learning_rate=args.lr or defaults.learning_rate,
                checkpoint_every=args.checkpoint_every, log_every=args.log_every, resume=args.resume,
                validate_every=args.validate_every, decay_to=defaults.decay_to,
                matrix_learning_rate=defaults.matrix_learning_rate, warmup_steps=defaults.warmup_steps,
                adamw_only=defaults.adamw_only,
            )  # fmt: skip
            run(stage, args.folder, options)
    except TrainingError as error:
        print(str(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
