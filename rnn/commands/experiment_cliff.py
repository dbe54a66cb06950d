"""`rnn-lab experiment cliff`: the exploding side. Pascanu, Mikolov & Bengio's (2013) one-unit
RNN, whose loss surface over (w, b) has a cliff, and gradient descent over it with and without
clipping the gradient's norm."""

from __future__ import annotations

import argparse
import math
import os

from rnn.argtypes import file_name, int_between, positive_float

EXAMPLE = """\
examples:
  rnn-lab experiment cliff --out /tmp/cliff                  # the default run, a few seconds
  rnn-lab experiment cliff --quick --out /tmp/cliff-quick    # a coarser surface, 100 steps
  rnn-lab experiment cliff --start 5.65,-3.4 --clip 0.5 --out /tmp/cliff-b
  rnn-lab experiment cliff --lr 0.5 --steps 400 --grid 400 --out /tmp/cliff-c
  rnn-lab experiment cliff --start=-6,4 --out /tmp/cliff-d   # w < 0: its own cliff

The model is eq. (8) of Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent
neural networks" (ICML 2013): x_t = w sigmoid(x_{t-1}) + b, x_0 = 0.5, 50 steps, loss
(sigmoid(x_50) - 0.7)^2. Gradient descent on (w, b) runs from --start twice, once plain and
once with the gradient rescaled to norm --clip when it is longer, so that no clipped step is
longer than lr x clip. It writes cliff.png (the loss surface, log scale, with the cliff and
both paths), trajectories.csv, summary.json and results.md into --out, and checks SymPy's
closed-form gradient against the engine and against finite differences.
"""

START_LIMIT = 100.0


def start_point(text: str) -> tuple[float, float]:
    """argparse type: "W,B", two finite numbers from -100 to 100 ("5.3,-0.9")."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers W,B (such as 5.3,-0.9), "
                                         f"got {text!r}")
    values = []
    for name, part in zip("wb", parts):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} is not a number: {part.strip()!r}") \
                from None
        if not math.isfinite(value) or abs(value) > START_LIMIT:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number from "
                                             f"-{START_LIMIT:g} to {START_LIMIT:g}, "
                                             f"got {part.strip()!r}")
        values.append(value)
    return values[0], values[1]


def register(names) -> None:
    """Add `cliff` to the experiment's sub-commands."""
    p = names.add_parser(
        "cliff", help="Pascanu et al.'s one-unit RNN: a cliff in the loss, gradient descent "
                      "with and without clipping",
        description="The one-unit RNN of Pascanu, Mikolov & Bengio (2013) whose loss over "
                    "(w, b) has a cliff:\nthe surface, and gradient descent over it with and "
                    "without clipping the gradient's norm.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=file_name, default="cliff-results", metavar="DIR",
                   help="folder for the figure and tables (default ./cliff-results)")
    p.add_argument("--start", type=start_point, metavar="W,B",
                   help="where both runs start (default 5.3,-0.9: the unclipped run hits the "
                        "cliff there); a negative W is written --start=-5,3")
    p.add_argument("--lr", type=positive_float, metavar="X",
                   help="learning rate of plain gradient descent (default 1)")
    p.add_argument("--clip", type=positive_float, metavar="C",
                   help="the clipped run's largest gradient norm, > 0 (default 0.3)")
    p.add_argument("--steps", type=int_between(1, 100_000), metavar="N",
                   help="gradient-descent iterations, 1 to 100000 (default 200; 100 with "
                        "--quick)")
    p.add_argument("--grid", type=int_between(10, 1000), metavar="N",
                   help="the surface is drawn on N x N points, 10 to 1000 (default 300; "
                        "120 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="fewer iterations, a coarser surface, a smaller sweep and check")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from rnn.io import output_folder
    from rnn.reports_cliff import CliffConfig, cliff

    chosen = {"start": args.start, "lr": args.lr, "clip": args.clip, "steps": args.steps,
              "grid": args.grid}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    cfg = CliffConfig.quick(**chosen) if args.quick else CliffConfig(**chosen)
    output_folder(args.out)  # a bad --out fails before the work

    def log(line):
        print(line, flush=True)

    log(f"cliff: x_t = w sigmoid(x_(t-1)) + b, x_0 = 0.5, 50 steps; gradient descent from "
        f"({cfg.start[0]:g}, {cfg.start[1]:g}), lr {cfg.lr:g}, {cfg.steps} iterations, "
        f"unclipped and clipped at {cfg.clip:g}")
    s = cliff(args.out, cfg, progress=False if args.no_progress else None)
    for name, r in s["runs"].items():
        log(f"  {name:>9}: longest step {r['largest_step']:.4g} (iteration "
            f"{r['largest_step_iteration']}), final loss {r['final_loss']:.4g}"
            + (f"; stopped: {r['stopped']}" if r["stopped"] else ""))
    sw, g = s["sweep"], s["gradient_check"]
    log(f"  sweep: {sw['thrown']} of {sw['starts']} unclipped starts take a step longer than "
        f"{sw['threshold']:g}")
    log(f"  gradient check: SymPy vs engine {g['max_rel_engine']:.2g} relative at "
        f"{g['points']} points (gradient norms up to {g['largest_gradient']:.2g}), vs finite "
        f"differences {g['max_fd_ratio']:.2g} of the tolerance "
        f"({'ok' if g['ok'] else 'FAILED'})")
    log(f"wrote {os.path.join(args.out, 'results.md')} and cliff.png "
        f"(wall time {s['wall_seconds']:.1f} s)")
    return 0 if g["ok"] else 1  # the figures are written; a failed check is still a failure
