"""Benchmark of the symbolic route: per-unit derivation + compile of the LSTM closed forms, the
full cross-check at H=8, and the naive route (`sympy.diff` of an expanded cell) for comparison.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sympy.core.cache import clear_cache

from rnn.argtypes import Parser, int_between, positive_int
from rnn.symbolic import (
    CompiledCell,
    clear_caches,
    compiled,
    cross_check,
    derive_cell,
    lstm_backward_step,
    naive_route,
    param_shapes,
)


def _fresh():
    """Forget every cached derivation, SymPy's own cache included, so each run starts cold."""
    clear_caches()
    clear_cache()


def _timed(fn, repeat: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        _fresh()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def derive_and_compile(cell: str = "lstm"):
    """(a): derive (incl. the simplify checks of every local derivative), cse and lambdify."""
    d = derive_cell(cell)
    assert all(ld.verified for ld in d.local), "a local derivative failed its textbook check"
    return CompiledCell(d)


def structured_check(H: int, D: int):
    """(b): the structured derivation, compile, and the full cross-check (engine, fused, fd)."""
    compiled("lstm")
    return cross_check("lstm", H=H, D=D, B=4, T=5)


def naive_error(H: int, D: int, fn) -> float:
    """Max |naive - closed form| of the parameter gradients of one step (sanity check)."""
    rng = np.random.default_rng(0)
    params = {k: rng.normal(0, 0.5, s) for k, s in param_shapes("lstm", H, D).items()}
    x, h0, c0 = rng.normal(size=(1, D)), rng.normal(size=(1, H)), rng.normal(size=(1, H))
    dh, dc = rng.normal(size=(1, H)), rng.normal(size=(1, H))
    ours = lstm_backward_step(params, x, h0, c0, dh, dc)
    args = [v for k in params for v in params[k].ravel()]
    args += [v for a in (x, h0, c0, dh, dc) for v in a.ravel()]
    naive = np.array(fn(*args), dtype=float)
    flat = np.concatenate([ours[k].ravel() for k in params])
    return float(np.max(np.abs(naive - flat)))


def main(argv=None) -> int:
    """Run the three timings and print them with the speed-up of the per-unit route."""
    parser = Parser(
        prog="rnn-lab bench symbolic",
        description="Time the SymPy derivations: per-unit route vs sympy.diff of a whole cell.",
        epilog="Example: rnn-lab bench symbolic --repeat 5 --naive-hidden 3",
    )
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="runs of each timing (median)")
    parser.add_argument("--naive-hidden", type=int_between(1, 8), default=3,
                        help="H of the naive route, 1 to 8 (3; minutes at 8)")
    parser.add_argument("--naive-inputs", type=int_between(1, 8), default=2,
                        help="D of the naive route, 1 to 8 (2)")
    parser.add_argument("--naive-repeat", type=positive_int, default=None,
                        help="runs of the naive route (default: --repeat)")
    args = parser.parse_args(argv)
    repeat = args.repeat
    print("symbolic benchmark (medians of cold runs: every cache cleared before each run)")

    t_a, runs_a, _ = _timed(derive_and_compile, repeat)
    print(f"(a) derive + simplify checks + cse + lambdify, all LSTM closed forms: "
          f"{t_a:.3f} s  (target <= 1 s; runs {', '.join(f'{t:.3f}' for t in runs_a)})")

    t_b, _, check = _timed(lambda: structured_check(8, 4), repeat)
    worst = ", ".join(f"{ref} {check.max_error(ref):.1e}"
                      for ref in dict.fromkeys(row.reference for row in check.rows))
    skipped = "".join(f"; skipped {ref}: {why}" for ref, why in check.skipped.items())
    print(f"(b) structured derivation + compile + cross-check at H=8, D=4, B=4, T=5: "
          f"{t_b:.3f} s  ({'OK' if check.ok else 'FAILED'}; worst error: {worst}{skipped})")

    H, D = args.naive_hidden, args.naive_inputs
    t_c, _, naive = _timed(lambda: naive_route("lstm", H, D),
                                args.naive_repeat or repeat)
    err = naive_error(H, D, naive[2])
    print(f"(c) naive route at H={H}, D={D}: expand the cell's scalar loss, sympy.diff by all "
          f"{len(naive[0])} parameters, cse + lambdify: {t_c:.3f} s  "
          f"(agrees with the closed forms to {err:.1e})")
    print(f"speed-up of the per-unit route, (c)/(a): {t_c / t_a:.1f}x at H={H}, D={D}; "
          f"(c)/(b), the naive derivation against the structured derivation plus the full "
          f"cross-check at H=8, D=4: {t_c / t_b:.1f}x. The per-unit derivation does not "
          "depend on H; the naive one grows with it (try --naive-hidden 8 --naive-inputs 4 "
          "--naive-repeat 1).")
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
