"""Diagrams of recurrent networks in the visual language of colah's "Understanding LSTM Networks",
and the live computation graphs of the autodiff engine, unrolled in time (`computation_graph`).

Every diagram is a function returning a `graphviz.Digraph`; nothing runs Graphviz until `render`.
The package, one job per file: `labels` (escaping text into labels), `style` (the palette),
`layouts` and `concepts` (the concept figures, as data and as drawings), `auto` (module figures
of registered cells without a hand-drawn one, and `diagram`, every figure by name), `rendering`,
`timesteps`, `scale`, `plan` and `graphs` (computation graphs), `examples` (small models to draw,
the gradient overlay, `draw_all`).
"""

from rnn.draw.auto import HAND_DRAWN, diagram, figures, module_figure
from rnn.draw.concepts import (
    CONCEPT_DIAGRAMS,
    STEPPED,
    cell_state,
    folded_rnn,
    gate,
    gru_module,
    legend,
    lstm_module,
    lstm_step,
    part,
    peephole_module,
    rnn_module,
    unrolled_rnn,
)
from rnn.draw.examples import (
    EXAMPLE_GRAPHS,
    PNG_FIGURES,
    draw_all,
    gradient_overlay,
    unrolled_graph,
    unrolled_loss,
)
from rnn.draw.graphs import (
    FAST_ABOVE,
    FAST_LAYOUT,
    MAX_NODES,
    GraphCollapsed,
    GraphTooLarge,
    colour_bar,
    computation_graph,
    graph_legend,
)
from rnn.draw.labels import MAX_LABEL, SIGMA, TILDE, escape_label
from rnn.draw.layouts import LSTM_STEPS, UNIT_X, UNIT_Y
from rnn.draw.plan import OP_SYMBOLS
from rnn.draw.rendering import (
    FORMATS,
    INSTALL_HINT,
    GraphvizError,
    GraphvizNotFound,
    format_of,
    render,
)
from rnn.draw.scale import GradScale, decade, rounded
from rnn.draw.style import (
    FONT,
    GRAD_COLOURS,
    GRAD_DARK,
    GRAD_ZERO,
    GREY,
    GREY_FILL,
    GREY_TEXT,
    HIGHLIGHT,
    INPUT_FILL,
    INPUT_LINE,
    LAYER_FILL,
    LAYER_LINE,
    LEAF_FILL,
    LEAF_LINE,
    LINE,
    MODULE_FILL,
    MODULE_LINE,
    OP_FILL,
    OP_LINE,
    OUTPUT_FILL,
    OUTPUT_LINE,
    PARAM_FILL,
    PARAM_LINE,
    ROOT_FILL,
    ROOT_LINE,
    SMALL_TEXT,
    STEP_FILL,
    STEP_LINE,
    VALUE_FILL,
    digraph,
)
from rnn.draw.timesteps import STATE_LABEL, step_outputs, time_steps

# The helpers' old private names, as the tests know them.
_digraph, _part, _rounded, _decade = digraph, part, rounded, decade
