"""SymPy derives the closed-form gate gradients of every registered cell from its own forward,
compiles them into NumPy BPTT functions and checks them against the engine.
"""

from rnn.symbolic import compiled as _compiled_module
from rnn.symbolic import derive as _derive_module
from rnn.symbolic import trace as _trace_module
from rnn.symbolic.compiled import (
    CompiledCell,
    backward_step,
    bptt,
    compiled,
    finite_difference_grads,
    forward,
    init_params,
    lstm_backward_step,
    param_shapes,
    random_problem,
    reference_forward,
    reference_loss,
)
from rnn.symbolic.core import Var, delta, relu, relu_prime, sigmoid, sigmoid_prime, tanh_prime
from rnn.symbolic.crosscheck import CrossCheck, cross_check, engine_gradients
from rnn.symbolic.derive import Derivation, LocalDerivative, derivation, derive_cell, textbook_diff
from rnn.symbolic.paths import (
    path_magnitudes,
    path_table,
    rnn_jacobian,
    rnn_path,
    state_path,
)
from rnn.symbolic.report import derivation_latex, derivation_markdown, derivation_pretty
from rnn.symbolic.trace import CellSpec, Linear, SymbolicUnsupported, cell_spec
from rnn.symbolic.unrolled import naive_route, unrolled, unrolled_gradients
from rnn.symbolic.vjp import RuleCheck, VJPRule, check_engine_ops, check_op_table, vjp_rules


def clear_caches() -> None:
    """Forget every traced spec, derivation and compiled cell (and the derived σ', tanh',
    relu')."""
    for fn in (_trace_module._spec, _derive_module._derivation, _compiled_module._compiled,
               sigmoid_prime, tanh_prime, relu_prime):
        fn.cache_clear()


__all__ = [
    "CellSpec", "CompiledCell", "CrossCheck", "Derivation", "Linear", "LocalDerivative",
    "RuleCheck", "SymbolicUnsupported", "VJPRule", "Var", "backward_step", "bptt",
    "cell_spec", "check_engine_ops", "check_op_table", "compiled",
    "clear_caches", "cross_check", "delta", "derivation", "derivation_latex", "derivation_markdown",
    "derivation_pretty", "derive_cell", "engine_gradients", "finite_difference_grads",
    "forward", "init_params", "lstm_backward_step", "naive_route", "param_shapes",
    "path_magnitudes", "path_table", "random_problem", "relu", "relu_prime",
    "reference_forward", "reference_loss", "rnn_jacobian", "rnn_path", "sigmoid",
    "sigmoid_prime", "state_path", "tanh_prime", "textbook_diff", "unrolled",
    "unrolled_gradients", "vjp_rules",
]
