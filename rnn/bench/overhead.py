"""Per-op overhead of autograd_lite beside PyTorch eager, HIPS autograd and bare NumPy.

The workload is a chain `h = tanh(h); h = h * w; h = h + b` on 4-element float64 arrays, run
forward and backward: with arrays this small the time is all bookkeeping, none arithmetic.
It runs twice: with w and b tensors (tensor operands), and with w = 0.5 and b = 0.1 Python
numbers (number operands, which need no tensor and no gradient). Every engine runs in the
same process, repeats are interleaved, and medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import autograd_lite as al
from rnn.argtypes import Parser, int_between, positive_int

try:  # the engines compared, when installed
    import torch
except ImportError:
    torch = None
try:
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = anp = None

SIZE = 4
MAX_OPS = 300_000  # the graph of the chain is held in memory: about 1 kB per op


OPERANDS = ("tensors", "numbers")
_W, _B = 0.5, 0.1  # the operands of the number chain


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, SIZE)
    w = rng.uniform(0.5, 1.0, SIZE)
    b = rng.uniform(-0.1, 0.1, SIZE)
    return x, w, b


def _steps(n_ops: int) -> int:
    return max(1, n_ops // 3)  # each step is three ops: tanh, mul, add


def run_numpy(n_ops: int, operands: str = "tensors"):
    """The floor: the same chain with a hand-written backward and no graph at all."""
    x, w, b = _inputs()
    numbers = operands == "numbers"
    if numbers:
        w, b = _W, _B
    steps = _steps(n_ops)

    def once():
        h, ts = x, []
        for _ in range(steps):
            t = np.tanh(h)
            ts.append(t)
            h = t * w + b
        g = np.ones(SIZE)
        gw, gb = np.zeros(SIZE), np.zeros(SIZE)
        for t in reversed(ts):
            if not numbers:  # (numbers need no gradient)
                gb += g
                gw += g * t
            g = g * w * (1.0 - t * t)  # backprop through tanh
        return (g,) if numbers else (g, gw, gb)

    return once


def run_autograd_lite(n_ops: int, operands: str = "tensors"):
    """autograd_lite: build the graph, then one backward pass."""
    x0, w0, b0 = _inputs()
    steps = _steps(n_ops)

    def once():
        x = al.Tensor(x0, requires_grad=True)
        if operands == "numbers":
            w, b = _W, _B
        else:
            w = al.Tensor(w0, requires_grad=True)
            b = al.Tensor(b0, requires_grad=True)
        h = x
        for _ in range(steps):
            h = al.tanh(h) * w + b
        h.sum().backward()
        return (x.grad,) if operands == "numbers" else (x.grad, w.grad, b.grad)

    return once


def run_torch(n_ops: int, operands: str = "tensors"):
    """PyTorch eager on CPU in float64, default settings (None when torch is not installed)."""
    if torch is None:
        return None
    x0, w0, b0 = (torch.from_numpy(a) for a in _inputs())
    steps = _steps(n_ops)

    def once():
        x = x0.clone().requires_grad_(True)
        if operands == "numbers":
            w, b = _W, _B
        else:
            w = w0.clone().requires_grad_(True)
            b = b0.clone().requires_grad_(True)
        h = x
        for _ in range(steps):
            h = torch.tanh(h) * w + b
        h.sum().backward()
        return x.grad

    return once


def run_hips_autograd(n_ops: int, operands: str = "tensors"):
    """HIPS autograd (`pip install autograd`; None when it is not installed)."""
    if autograd is None:
        return None
    x0, w0, b0 = _inputs()
    if operands == "numbers":
        w0, b0 = _W, _B
    steps = _steps(n_ops)

    def loss(x, w, b):
        h = x
        for _ in range(steps):
            h = anp.tanh(h) * w + b
        return anp.sum(h)

    gradient = autograd.grad(loss, argnum=(0, 1, 2))

    def once():
        return gradient(x0, w0, b0)

    return once


ENGINES = {
    "numpy (no graph)": run_numpy,
    "autograd_lite": run_autograd_lite,
    "pytorch eager": run_torch,
    "hips autograd": run_hips_autograd,
}


def measure(n_ops: int, repeats: int, operands: str = "tensors") -> dict[str, list | None]:
    """Seconds per run of each engine; repeats interleaved so drift hits all alike."""
    runners = {name: make(n_ops, operands) for name, make in ENGINES.items()}
    times: dict[str, list[float] | None] = {
        name: (None if fn is None else []) for name, fn in runners.items()
    }
    for fn in runners.values():  # warm up: imports, caches, allocator
        if fn is not None:
            fn()
    for _ in range(repeats):
        for name, fn in runners.items():
            if fn is None:
                continue
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def check_agreement(n_ops: int) -> float:
    """Largest difference between autograd_lite's gradients and the NumPy floor's."""
    worst = 0.0
    for operands in OPERANDS:
        ours = run_autograd_lite(n_ops, operands)()
        floor = run_numpy(n_ops, operands)()
        worst = max(worst, *(float(np.max(np.abs(a - b))) for a, b in zip(ours, floor)))
    return worst


def build_parser() -> argparse.ArgumentParser:
    """The options of this benchmark."""
    parser = Parser(
        prog="rnn-lab bench overhead",
        description="Microseconds per op (forward + backward) on a tanh/mul/add chain of "
        "4-element arrays: autograd_lite beside PyTorch eager, HIPS autograd and NumPy.",
        epilog="Example: rnn-lab bench overhead --ops 3000 --repeats 15",
    )
    parser.add_argument("--ops", type=int_between(3, MAX_OPS), default=3000,
                        help=f"chain length in ops, 3 to {MAX_OPS} (default 3000)")
    parser.add_argument("--repeats", type=positive_int, default=15,
                        help="timed runs per engine, interleaved (default 15)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; returns an exit status."""
    args = build_parser().parse_args(argv)
    n_ops = 3 * _steps(args.ops)
    error = check_agreement(min(n_ops, 300))
    medians = {}
    for operands in OPERANDS:
        times = measure(n_ops, args.repeats, operands)
        medians[operands] = {name: None if t is None else statistics.median(t) / n_ops * 1e6
                             for name, t in times.items()}
    print(f"chain of {n_ops} ops (tanh, mul, add) on {SIZE}-element float64 arrays, "
          f"forward + backward, median of {args.repeats} interleaved runs; the mul and add "
          f"operands w, b are tensors, then the numbers {_W} and {_B}")
    print(f"autograd_lite gradients vs the hand-written NumPy backward: max |diff| {error:.1e}")
    print(f"{'engine':<18} {'tensors us/op':>13}  {'vs pytorch':>10}  "
          f"{'numbers us/op':>13}  {'vs pytorch':>10}")
    torch_us = {k: medians[k].get("pytorch eager") for k in OPERANDS}
    for name in ENGINES:
        cells = []
        for k in OPERANDS:
            us = medians[k][name]
            if us is None:
                cells.append(f"{'not installed':>13}")
            else:
                ratio = f"{us / torch_us[k]:.2f}x" if torch_us[k] else "-"
                cells.append(f"{us:>13.2f}  {ratio:>10}")
        print(f"{name:<18} " + "  ".join(cells).rstrip())
    ours = {k: medians[k]["autograd_lite"] for k in OPERANDS}
    if all(torch_us.values()):
        print(f"ratio autograd_lite / pytorch eager: {ours['tensors'] / torch_us['tensors']:.2f} "
              f"(tensor operands), {ours['numbers'] / torch_us['numbers']:.2f} (number operands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
