"""`rnn-lab gradcheck`: every primitive in the op table against central finite differences."""

from __future__ import annotations

import argparse

from rnn.argtypes import LazyChoices, positive_float

EPILOG = """\
Each primitive in autograd_lite.ops.OPS runs on small float64 inputs chosen inside its domain
and away from kinks; its full Jacobian by reverse mode is compared with central differences.
A check passes when |analytic - numeric| <= atol + rtol * |numeric| everywhere.

Examples:
  rnn-lab gradcheck
  rnn-lab gradcheck --op matmul --op softmax
"""


def register(subparsers) -> None:
    """Add the `gradcheck` subcommand."""
    parser = subparsers.add_parser(
        "gradcheck",
        help="check every autodiff primitive against finite differences",
        description="Check the gradient of every autograd_lite primitive against central\n"
        "finite differences in float64 and print a table; exit status 1 if any fails.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--op", action="append", metavar="NAME", choices=LazyChoices(_op_names),
                        help="check only this op (repeatable; default: all)")
    parser.add_argument("--eps", type=positive_float, default=1e-6,
                        help="finite-difference step (default 1e-6)")
    parser.add_argument("--atol", type=positive_float, default=1e-7,
                        help="absolute tolerance (default 1e-7)")
    parser.add_argument("--rtol", type=positive_float, default=1e-5,
                        help="relative tolerance (default 1e-5)")
    parser.set_defaults(func=run)


def _op_names() -> list:
    """Every registered op, the fused kernels' included (importing rnn.kernels adds them)."""
    import autograd_lite as al
    import rnn.kernels  # noqa: F401 - registers the kernels' ops

    return list(al.OPS)


def cases():
    """(op name, expression, function, float64 inputs) for every primitive, in table order."""
    from autograd_lite.testing import cases as engine_cases

    return engine_cases()


def _errors(fn, arrays, eps):
    """Largest absolute and relative differences between the two Jacobians."""
    import numpy as np

    from autograd_lite.gradcheck import analytic_jacobian, numeric_jacobian

    analytic = analytic_jacobian(fn, arrays)
    worst_abs, worst_rel = 0.0, 0.0
    for i in range(len(arrays)):
        for j, num in enumerate(numeric_jacobian(fn, arrays, i, eps)):
            diff = np.abs(analytic[j][i] - num)
            if diff.size:
                worst_abs = max(worst_abs, float(diff.max()))
                scale = np.abs(num)
                big = scale > 1e-7  # relative error means little where the value is ~0
                if big.any():
                    worst_rel = max(worst_rel, float((diff[big] / scale[big]).max()))
    return worst_abs, worst_rel


def run(args) -> int:
    """Check each case, print the table, return 1 if any check failed."""
    import warnings

    import autograd_lite as al
    from rnn.kernels.testing import kernel_cases

    table = cases() + kernel_cases()  # importing rnn.kernels registers its ops in OPS
    covered = {name for name, *_ in table}
    wanted = args.op or list(dict.fromkeys([name for name, *_ in table] + list(al.OPS)))

    rows = []
    for name, expr, fn, arrays in table:
        if name not in wanted:
            continue
        shapes = [("x".join(map(str, a.shape)) or "()") for a in arrays]
        shapes = " ".join(shapes if len(shapes) <= 4 else [*shapes[:3], f"+{len(shapes) - 3}"])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a NumPy warning here is a bug too
                al.gradcheck(fn, arrays, eps=args.eps, atol=args.atol, rtol=args.rtol)
            verdict = "pass"
        except (al.GradcheckError, ArithmeticError, RuntimeWarning) as exc:
            verdict = f"FAIL: {exc}"
        abs_err, rel_err = _errors(fn, arrays, args.eps)
        rows.append((name, expr, shapes, f"{abs_err:.1e}", f"{rel_err:.1e}", verdict))
    for name in wanted:  # an op registered without a case here is a gap, not a pass
        if name not in covered:
            rows.append((name, "-", "-", "-", "-", "FAIL: no gradcheck case for this op"))
    failures = sum(row[-1] != "pass" for row in rows)

    header = ("op", "case", "shapes", "max abs err", "max rel err", "result")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    print(f"\n{len(rows) - failures} of {len(rows)} checks passed "
          f"(eps {args.eps:g}, atol {args.atol:g}, rtol {args.rtol:g}; float64)")
    return 1 if failures else 0
