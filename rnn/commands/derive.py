"""`rnn-lab derive`: SymPy's closed-form gradients of a cell, as text, LaTeX or Markdown,
and a cross-check of those closed forms against the engine."""

from __future__ import annotations

import argparse
import sys

from rnn.argtypes import CELL_CHOICES, file_name, int_between, seed
from rnn.errors import UsageError, UserError
from rnn.io import output_target, write_text

EPILOG = """\
The derivation is per hidden unit: SymPy differentiates each equation of the cell, rewrites
the result in gate outputs (sigma' = s(1 - s), tanh' = 1 - t^2, ...), and runs the chain rule
over the equations in reverse (Greff et al. 2017 style deltas). --check compiles the closed
forms (sympy.cse + lambdify) into a BPTT and compares its gradients with the engine's graph
of primitives, the fused op and finite differences; the exit status is 1 if any error is
above tolerance (1e-10 against the engine, 1e-7 + 1e-5|n| against finite differences).
The closed forms are per unit, so small sizes check them fully: each size is 1 to 16 (the
finite differences grow with H^2 * B * T; at 16 the check takes about 20 s).

Examples:
  rnn-lab derive lstm                        pretty text of the equations and closed forms
  rnn-lab derive gru --latex                 one LaTeX aligned block
  rnn-lab derive peephole --markdown lstm.md a Markdown report with $$ math blocks
  rnn-lab derive lstm --check --hidden 8 --inputs 4
  rnn-lab derive mgu --check                 any registered cell, traced from its forward
"""


def register(subparsers) -> None:
    """Add the `derive` subcommand."""
    parser = subparsers.add_parser(
        "derive",
        help="derive a cell's closed-form gradients with SymPy",
        description="Derive the closed-form gate gradients of a recurrent cell with SymPy "
        "and print them (Unicode text by default).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("cell", choices=CELL_CHOICES, metavar="CELL",
                        help="any registered cell: rnn, lstm, gru, peephole, cifg, mgu, ...")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    out.add_argument("--markdown", type=file_name, metavar="FILE",
                     help="write a Markdown report to FILE ('-' for standard output)")
    parser.add_argument("--check", action="store_true",
                        help="cross-check the compiled closed forms and print the errors")
    size = parser.add_argument_group("cross-check problem size (with --check; each 1 to 16)")
    sized = int_between(1, MAX_SIZE)
    size.add_argument("--hidden", type=sized, metavar="H", help="units (3)")
    size.add_argument("--inputs", type=sized, metavar="D", help="inputs (2)")
    size.add_argument("--batch", type=sized, metavar="B", help="batch (2)")
    size.add_argument("--steps", type=sized, metavar="T", help="steps (3)")
    size.add_argument("--seed", type=seed, help="random seed, 0 to 2**63 - 1 (0)")
    size.add_argument("--unrolled", action="store_true",
                      help="also compare with sympy.diff of the whole unrolled cell "
                      "(slow: seconds at H=2, T=2; needs H <= 3)")
    parser.set_defaults(func=run)


MAX_SIZE = 16
CHECK_DEFAULTS = {"hidden": 3, "inputs": 2, "batch": 2, "steps": 3, "seed": 0}


def _check_flags(args) -> None:
    """UsageError for cross-check options without --check (they would do nothing); fill in
    the defaults of the others."""
    given = [f"--{name}" for name in (*CHECK_DEFAULTS, "unrolled") if getattr(args, name)
             not in (None, False)]
    if given and not args.check:
        verb = "applies" if len(given) == 1 else "apply"
        raise UsageError(f"{', '.join(given)} only {verb} to --check (the cross-check)")
    for name, default in CHECK_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.unrolled and args.hidden > 3:
        raise UsageError(f"--unrolled needs --hidden <= 3 (got {args.hidden}): the unrolled "
                         "derivation grows too fast")


def run(args) -> int:
    """Print or write the derivation; with --check, run the cross-check."""
    from rnn.symbolic import SymbolicUnsupported

    _check_flags(args)
    try:
        return _derive(args)
    except SymbolicUnsupported as exc:
        raise UserError(str(exc)) from None


def _derive(args) -> int:
    from rnn.symbolic import cross_check, derivation_latex, derivation_markdown, derivation_pretty

    if args.latex:
        print(derivation_latex(args.cell))
    elif args.markdown == "-":
        sys.stdout.write(derivation_markdown(args.cell))
    elif args.markdown:
        output_target(args.markdown, "report")  # a bad FILE fails before the derivation
        text = derivation_markdown(args.cell)
        write_text(args.markdown, text, "report")
        print(f"wrote {args.markdown} ({len(text.splitlines())} lines)")
    elif not args.check:
        sys.stdout.write(derivation_pretty(args.cell))
    if not args.check:
        return 0
    refs = ("engine", "fused", "fd") + (("unrolled",) if args.unrolled else ())
    result = cross_check(args.cell, args.hidden, args.inputs, args.batch, args.steps,
                         args.seed, refs)
    print(result.table())
    return 0 if result.ok else 1
