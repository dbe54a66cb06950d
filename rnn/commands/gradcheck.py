"""`rnn-lab gradcheck`: every primitive in the op table against central finite differences."""

from __future__ import annotations

import argparse

from rnn.argtypes import positive_float
from rnn.errors import UserError

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
    parser.add_argument("--op", action="append", metavar="NAME",
                        help="check only this op (repeatable; default: all)")
    parser.add_argument("--eps", type=positive_float, default=1e-6,
                        help="finite-difference step (default 1e-6)")
    parser.add_argument("--atol", type=positive_float, default=1e-7,
                        help="absolute tolerance (default 1e-7)")
    parser.add_argument("--rtol", type=positive_float, default=1e-5,
                        help="relative tolerance (default 1e-5)")
    parser.set_defaults(func=run)


def cases():
    """(op name, expression, function, float64 inputs) for every primitive, in table order."""
    import numpy as np

    import autograd_lite as al
    from autograd_lite import ops

    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape)

    def positive(*shape):
        return rng.uniform(0.5, 2.0, shape)

    def away_from_zero(*shape):
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    def distinct(*shape):  # max needs a unique maximum: no ties
        return rng.permutation(np.arange(int(np.prod(shape)), dtype=float)).reshape(shape) / 3

    ids = np.array([[0, 2], [2, 4]])
    return [
        ("add", "a + b", lambda a, b: a + b, [normal(3, 4), normal(4)]),
        ("sub", "a - b", lambda a, b: a - b, [normal(2, 3), normal(2, 1)]),
        ("mul", "a * b", lambda a, b: a * b, [normal(2, 3), normal(3)]),
        ("div", "a / b", lambda a, b: a / b, [normal(2, 3), away_from_zero(1, 3)]),
        ("neg", "-a", lambda a: -a, [normal(3)]),
        ("pow", "a ** 3", lambda a: a**3, [normal(2, 3)]),
        ("pow", "a ** -1.5", lambda a: a**-1.5, [positive(4)]),
        ("pow_tensor", "a ** b", lambda a, b: a**b, [positive(2, 3), normal(3)]),
        ("exp", "exp(a)", al.exp, [normal(2, 3)]),
        ("log", "log(a)", al.log, [positive(2, 3)]),
        ("sigmoid", "sigmoid(a)", al.sigmoid, [normal(2, 3)]),
        ("tanh", "tanh(a)", al.tanh, [normal(2, 3)]),
        ("relu", "relu(a)", al.relu, [away_from_zero(2, 3)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 3), normal(3, 4)]),
        ("matmul", "a @ b", al.matmul, [normal(3), normal(2, 3, 2)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 2, 3), normal(3)]),
        ("matmul", "a @ b", al.matmul, [normal(2, 1, 2, 3), normal(3, 3, 2)]),
        ("sum", "a.sum(axis=1)", lambda a: a.sum(axis=1), [normal(2, 3, 2)]),
        ("mean", "a.mean((0, 2), keepdims)", lambda a: a.mean(axis=(0, 2), keepdims=True),
         [normal(2, 3, 2)]),
        ("max", "a.max(axis=-1)", lambda a: a.max(axis=-1), [distinct(3, 4)]),
        ("reshape", "a.reshape(3, 2)", lambda a: a.reshape(3, 2), [normal(2, 3)]),
        ("transpose", "transpose(a, (2, 0, 1))", lambda a: al.transpose(a, (2, 0, 1)),
         [normal(2, 3, 4)]),
        ("getitem", "a[1:, ::2]", lambda a: a[1:, ::2], [normal(3, 4)]),
        ("getitem", "a[[0, 2, 0]]", lambda a: a[np.array([0, 2, 0])], [normal(3, 2)]),
        ("scatter", "scatter(g, (4,2), [1,3,1]) (getitem's VJP)",
         lambda g: ops.apply(ops.SCATTER, g, shape=(4, 2), index=np.array([1, 3, 1])),
         [normal(3, 2)]),
        ("embedding", "embedding(W, ids 2x2)", lambda w: al.embedding(w, ids), [normal(5, 3)]),
        ("broadcast_to", "broadcast_to(a, (2, 3, 4))",
         lambda a: al.broadcast_to(a, (2, 3, 4)), [normal(3, 1)]),
        ("sum_to", "sum_to(a, (3, 1)) (un-broadcast)", lambda a: ops.sum_to(a, (3, 1)),
         [normal(2, 3, 4)]),
        ("astype", "a.astype(float64)", lambda a: a.astype(np.float64), [normal(2, 3)]),
        ("concat", "concat([a, b], axis=1)", lambda a, b: al.concat([a, b], axis=1),
         [normal(2, 3), normal(2, 2)]),
        ("stack", "stack([a, b], axis=-1)", lambda a, b: al.stack([a, b], axis=-1),
         [normal(2, 3), normal(2, 3)]),
        ("where", "where(cond, a, b)",
         lambda a, b: al.where(np.array([[True, False, True], [False, True, True]]), a, b),
         [normal(2, 3), normal(3)]),
        ("softmax", "softmax(a, axis=-1)", al.softmax, [normal(2, 4)]),
        ("log_softmax", "log_softmax(a, axis=0)", lambda a: al.log_softmax(a, axis=0),
         [normal(3, 2)]),
        ("logsumexp", "logsumexp(a, axis=-1)", al.logsumexp, [normal(2, 4)]),
    ]


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
    unknown = [name for name in wanted if name not in al.OPS]
    if unknown:
        raise UserError(f"unknown op {', '.join(unknown)}; the ops are: {', '.join(al.OPS)}")

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
