"""See inside a trained model of tokens (characters, or words): activations, the units that
follow a pattern, gradient flow and the Jacobian along the chain, and an offline HTML page of
it all.

    from rnn.inspect import record, find_pattern
    acts = record(model, vocab, text)          # acts["l0/c"]: (T, H)
    find_pattern(acts, r'"[^"]*"').best        # the unit that follows quotes best
"""

from rnn.inspect.activations import (
    Activations,
    ColouredText,
    UnknownCharacters,
    UnknownWords,
    prepare_text,
    prepare_words,
    record,
)
from rnn.inspect.find import (
    FindResult,
    UnitMatch,
    bracket_depth,
    find_column,
    find_depth,
    find_pattern,
    line_position,
    rank_units,
    span_indicator,
)
from rnn.inspect.gradients import Connectivity, Contributions, connectivity, contributions
from rnn.inspect.jacobians import JacobianChain, jacobian_chain, step_jacobians

__all__ = [
    "Activations", "ColouredText", "UnknownCharacters", "UnknownWords", "prepare_text",
    "prepare_words", "record",
    "FindResult", "UnitMatch", "bracket_depth", "find_column", "find_depth", "find_pattern",
    "line_position", "rank_units", "span_indicator",
    "Connectivity", "Contributions", "connectivity", "contributions",
    "JacobianChain", "jacobian_chain", "step_jacobians",
]
