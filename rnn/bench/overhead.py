"""Per-op overhead of autograd_lite beside PyTorch eager, HIPS autograd and bare NumPy.

The workload is a chain `h = tanh(h); h = h * w; h = h + b` on 4-element float64 arrays, run
forward and backward: with arrays this small the time is all bookkeeping, none arithmetic.
Every engine runs in the same process, repeats are interleaved, and medians are reported.
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


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, SIZE)
    w = rng.uniform(0.5, 1.0, SIZE)
    b = rng.uniform(-0.1, 0.1, SIZE)
    return x, w, b


def _steps(n_ops: int) -> int:
    return max(1, n_ops // 3)  # each step is three ops: tanh, mul, add


def run_numpy(n_ops: int):
    """The floor: the same chain with a hand-written backward and no graph at all."""
    x, w, b = _inputs()
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
            gb += g
            gw += g * t
            g = g * w * (1.0 - t * t)  # backprop through tanh
        return g, gw, gb

    return once


def run_autograd_lite(n_ops: int):
    """autograd_lite: build the graph, then one backward pass."""
    x0, w0, b0 = _inputs()
    steps = _steps(n_ops)

    def once():
        x = al.Tensor(x0, requires_grad=True)
        w = al.Tensor(w0, requires_grad=True)
        b = al.Tensor(b0, requires_grad=True)
        h = x
        for _ in range(steps):
            h = al.tanh(h) * w + b
        h.sum().backward()
        return x.grad, w.grad, b.grad

    return once


def run_torch(n_ops: int):
    """PyTorch eager on CPU in float64, default settings (None when torch is not installed)."""
    if torch is None:
        return None
    x0, w0, b0 = (torch.from_numpy(a) for a in _inputs())
    steps = _steps(n_ops)

    def once():
        x = x0.clone().requires_grad_(True)
        w = w0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        h = x
        for _ in range(steps):
            h = torch.tanh(h) * w + b
        h.sum().backward()
        return x.grad, w.grad, b.grad

    return once


def run_hips_autograd(n_ops: int):
    """HIPS autograd (`pip install autograd`; None when it is not installed)."""
    if autograd is None:
        return None
    x0, w0, b0 = _inputs()
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


def measure(n_ops: int, repeats: int) -> dict[str, list[float] | None]:
    """Seconds per run of each engine; repeats interleaved so drift hits all alike."""
    runners = {name: make(n_ops) for name, make in ENGINES.items()}
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
    ours = run_autograd_lite(n_ops)()
    floor = run_numpy(n_ops)()
    return max(float(np.max(np.abs(a - b))) for a, b in zip(ours, floor))


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
    times = measure(n_ops, args.repeats)
    print(f"chain of {n_ops} ops (tanh, mul, add) on {SIZE}-element float64 arrays, "
          f"forward + backward, median of {args.repeats} interleaved runs")
    print(f"autograd_lite gradients vs the hand-written NumPy backward: max |diff| {error:.1e}")
    print(f"{'engine':<18} {'us/op':>9}  {'vs pytorch':>10}")
    medians = {name: None if t is None else statistics.median(t) / n_ops * 1e6
               for name, t in times.items()}
    torch_us = medians.get("pytorch eager")
    for name, us in medians.items():
        if us is None:
            print(f"{name:<18} {'not installed':>9}")
            continue
        ratio = f"{us / torch_us:.2f}x" if torch_us else "-"
        print(f"{name:<18} {us:>9.2f}  {ratio:>10}")
    if torch_us and medians["autograd_lite"] is not None:
        print(f"ratio autograd_lite / pytorch eager: {medians['autograd_lite'] / torch_us:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
