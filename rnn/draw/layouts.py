"""The repeating modules as data: where each node of a cell's figure sits, what it shows and how
the lines run, and the walk-through's steps (the parts each highlights, and its equations).

Modules are drawn on a grid with every node pinned, like colah's hand-drawn figures: lines run
straight between aligned nodes. The DOT source says `layout=neato`, which `dot` honours.
"""

from __future__ import annotations

from typing import NamedTuple

from rnn.draw.labels import SIGMA, TILDE

UNIT_X, UNIT_Y = 0.72, 0.58  # inches per grid column and per grid row


class Cell(NamedTuple):
    """A repeating module as data.

    nodes: part -> (kind, label, column, row), rows counting upwards from the input line; parts of
    kind input/output sit outside the module box and get the time step as subscript.
    edges: (tail, head, arrow) or (tail, head, arrow, extra attributes).
    chains: (variable, first part, last part, arrow): the line carrying a state from one module to
    the next, with a labelled open end on either side.
    """

    nodes: dict
    edges: list
    chains: list


# A plain RNN: [h_{t-1}, x_t] goes up into one tanh layer, whose output is h_t.
RNN = Cell(
    nodes={
        "x": ("input", "x", 0, -1.25),
        "cat": ("point", "", 0, 0),
        "j": ("point", "", 0.9, 0),
        "corner": ("point", "", 1.9, 0),
        "tanh": ("layer", "tanh", 0.9, 1),
        "up": ("point", "", 0.9, 2),
        "split": ("point", "", 1.9, 2),
        "h": ("output", "h", 1.9, 3.2),
    },
    edges=[
        ("x", "cat", False), ("cat", "j", False), ("j", "tanh", True), ("tanh", "up", False),
        ("up", "split", False), ("split", "h", True), ("split", "corner", False),
    ],
    chains=[("h", "cat", "corner", False)],
)

# The LSTM as in colah's figure: the cell state c runs along the top, [h_{t-1}, x_t] along the
# bottom, and between them the four layers: forget, input, candidate c~, output.
LSTM = Cell(
    nodes={
        "x": ("input", "x", 0, -1.25),
        "cat": ("point", "", 0, 0),
        "j_f": ("point", "", 1, 0),
        "j_i": ("point", "", 2, 0),
        "j_g": ("point", "", 3, 0),
        "j_o": ("point", "", 4, 0),
        "corner": ("point", "", 5, 0),
        "sig_f": ("layer", SIGMA, 1, 1),
        "sig_i": ("layer", SIGMA, 2, 1),
        "tanh_g": ("layer", "tanh", 3, 1),
        "sig_o": ("layer", SIGMA, 4, 1),
        "k_i": ("point", "", 2, 2),
        "mul_i": ("op", "×", 3, 2),
        "mul_o": ("op", "×", 4, 2),
        "split": ("point", "", 5, 2),
        "tanh_c": ("op_wide", "tanh", 4, 3),
        "mul_f": ("op", "×", 1, 4),
        "add": ("op", "+", 3, 4),
        "c_copy": ("point", "", 4, 4),
        "h": ("output", "h", 5, 5.2),
    },
    edges=[
        # [h_{t-1}, x_t] runs along the bottom and is copied up into each layer
        ("x", "cat", False), ("cat", "j_f", False), ("j_f", "j_i", False),
        ("j_i", "j_g", False), ("j_g", "j_o", False),
        ("j_f", "sig_f", True), ("j_i", "sig_i", True), ("j_g", "tanh_g", True),
        ("j_o", "sig_o", True),
        # c_t = f_t * c_{t-1} + i_t * c~_t along the top
        ("sig_f", "mul_f", True), ("sig_i", "k_i", False), ("k_i", "mul_i", True),
        ("tanh_g", "mul_i", True), ("mul_i", "add", True), ("mul_f", "add", True),
        ("add", "c_copy", False),
        # h_t = o_t * tanh(c_t), sent up as the output and right to the next module
        ("c_copy", "tanh_c", True), ("tanh_c", "mul_o", True), ("sig_o", "mul_o", True),
        ("mul_o", "split", False), ("split", "h", True), ("split", "corner", False),
    ],
    chains=[("c", "mul_f", "c_copy", True), ("h", "cat", "corner", False)],
)

# Gers & Schmidhuber's peephole LSTM: the gates also read the cell state (dashed lines).
_PEEP = {"style": "dashed", "penwidth": "1.3"}
PEEPHOLE = Cell(
    nodes={**LSTM.nodes, "peep_f": ("point", "", 0.2, 4), "peep_i": ("point", "", 0.55, 4),
           "peep_o": ("point", "", 4.6, 4)},
    edges=LSTM.edges + [
        ("peep_f", "peep_i", False), ("peep_i", "mul_f", True), ("c_copy", "peep_o", False),
        ("peep_f", "sig_f", True, {**_PEEP, "headport": "nw"}),
        ("peep_i", "sig_i", True, {**_PEEP, "headport": "nw"}),
        ("peep_o", "sig_o", True, {**_PEEP, "headport": "ne"}),
    ],
    chains=[("c", "peep_f", "peep_o", False), ("h", "cat", "corner", False)],
)

# The GRU in PyTorch's convention, as `rnn.cells.GRUCell` computes it: h runs along the top; the
# reset gate r_t scales the recurrent part of the candidate, W_nh·h_{t-1} + b_nh (the small
# linear layer on the left), and the update gate z_t keeps h_{t-1} where it is near 1 and takes
# the candidate n_t, through 1 − z_t, where it is near 0.
GRU = Cell(
    nodes={
        "x": ("input", "x", 0.5, -1.25),
        "xs": ("point", "", 0.5, 0),
        "xg": ("point", "", 3.6, 0),
        "h_down": ("point", "", 0, 1),
        "cat": ("point", "", 0.5, 1),
        "j_r": ("point", "", 1, 1),
        "j_z": ("point", "", 2, 1),
        "k_down": ("point", "", 2.8, 1),
        "cat_g": ("point", "", 3.6, 1),
        "sig_r": ("layer", SIGMA, 1, 2),
        "sig_z": ("layer", SIGMA, 2, 2),
        "tanh_g": ("layer", "tanh", 3.6, 2),
        "mul_r": ("op", "×", 1, 3),
        "k_up": ("point", "", 2.8, 3),
        "tap": ("point", "", 0, 4.2),
        "lin_h": ("layer", "W<sub>nh</sub>", 1, 4.2),
        "z_copy": ("point", "", 2, 4),
        "one_minus": ("op_wide", "1−", 2.8, 4),
        "mul_z": ("op", "×", 3.6, 4),
        "h_copy": ("point", "", 0, 6),
        "mul_h": ("op", "×", 2, 6),
        "add": ("op", "+", 3.6, 6),
        "out": ("point", "", 4.6, 6),
        "h": ("output", "h", 4.6, 7.2),
    },
    edges=[
        # the gates read [h_{t-1}, x_t]: h_{t-1} comes down the left side, x_t up from below
        ("x", "xs", False), ("xs", "cat", False), ("h_copy", "tap", False),
        ("tap", "h_down", False), ("h_down", "cat", False), ("cat", "j_r", False),
        ("j_r", "j_z", False), ("j_r", "sig_r", True), ("j_z", "sig_z", True),
        # the candidate reads [r_t * (W_nh·h_{t-1} + b_nh), x_t]
        ("tap", "lin_h", True), ("lin_h", "mul_r", True), ("sig_r", "mul_r", True),
        ("mul_r", "k_up", False), ("k_up", "k_down", False), ("k_down", "cat_g", False),
        ("xs", "xg", False), ("xg", "cat_g", False), ("cat_g", "tanh_g", True),
        # h_t = (1 − z_t) * n_t + z_t * h_{t-1}
        ("sig_z", "z_copy", False), ("z_copy", "mul_h", True), ("h_copy", "mul_h", True),
        ("z_copy", "one_minus", True), ("one_minus", "mul_z", True), ("tanh_g", "mul_z", True),
        ("mul_h", "add", True), ("mul_z", "add", True), ("add", "out", False),
        ("out", "h", True),
    ],
    chains=[("h", "h_copy", "out", False)],
)

# The cell state alone, and a gate alone: the two ideas the LSTM is built from.
CELL_STATE = Cell(
    nodes={
        "in_f": ("end", "", 0, 0),
        "in_i": ("end", "", 2, 0),
        "mul_f": ("op", "×", 0, 1.2),
        "add": ("op", "+", 2, 1.2),
    },
    edges=[("in_f", "mul_f", True), ("in_i", "add", True), ("mul_f", "add", True)],
    chains=[("c", "mul_f", "add", True)],
)
GATE = Cell(
    nodes={
        "in": ("end", "", 0, 0),
        "sig": ("layer", SIGMA, 0, 1),
        "a": ("end", "", -1.2, 2.2),
        "mul": ("op", "×", 0, 2.2),
        "b": ("end", "", 1.2, 2.2),
    },
    edges=[("in", "sig", True), ("sig", "mul", True), ("a", "mul", True), ("mul", "b", True)],
    chains=[],
)

_T1 = "<sub>t−1</sub>"
_HX = f"[h{_T1}, x<sub>t</sub>]"
_GATE_INPUTS = {"h_prev", "x", "cat", "j_f"}

# Each step of colah's walk-through: the parts of the LSTM it highlights, and its equations.
LSTM_STEPS = {
    "forget": (
        _GATE_INPUTS | {"sig_f", "mul_f"},
        (f"f<sub>t</sub> = {SIGMA}(W<sub>f</sub>·{_HX} + b<sub>f</sub>)",),
    ),
    "input": (
        _GATE_INPUTS | {"j_i", "j_g", "sig_i", "k_i", "tanh_g", "mul_i"},
        (f"i<sub>t</sub> = {SIGMA}(W<sub>i</sub>·{_HX} + b<sub>i</sub>)",
         f"c{TILDE}<sub>t</sub> = tanh(W<sub>c</sub>·{_HX} + b<sub>c</sub>)"),
    ),
    "update": (
        {"c_prev", "mul_f", "mul_i", "add", "c_copy", "c_next"},
        (f"c<sub>t</sub> = f<sub>t</sub> * c{_T1} + i<sub>t</sub> * c{TILDE}<sub>t</sub>",),
    ),
    "output": (
        _GATE_INPUTS
        | {"j_i", "j_g", "j_o", "sig_o", "c_copy", "tanh_c", "mul_o", "split", "h", "corner"}
        | {"h_next"},
        (f"o<sub>t</sub> = {SIGMA}(W<sub>o</sub>·{_HX} + b<sub>o</sub>)",
         "h<sub>t</sub> = o<sub>t</sub> * tanh(c<sub>t</sub>)"),
    ),
}

# The peephole LSTM's gates, and the GRU as `rnn.cells.GRUCell` computes it.
PEEPHOLE_EQUATIONS = [
    f"{g}<sub>t</sub> = {SIGMA}(W<sub>{g}</sub>·[{c}, {_HX[1:]} + b<sub>{g}</sub>)"
    for g, c in [("f", f"c{_T1}"), ("i", f"c{_T1}"), ("o", "c<sub>t</sub>")]
]
GRU_EQUATIONS = (
    f"r<sub>t</sub> = {SIGMA}(W<sub>r</sub>·{_HX} + b<sub>r</sub>)",
    f"z<sub>t</sub> = {SIGMA}(W<sub>z</sub>·{_HX} + b<sub>z</sub>)",
    "n<sub>t</sub> = tanh(W<sub>nx</sub>·x<sub>t</sub> + b<sub>nx</sub> + r<sub>t</sub> * "
    f"(W<sub>nh</sub>·h{_T1} + b<sub>nh</sub>))",
    f"h<sub>t</sub> = (1 − z<sub>t</sub>) * n<sub>t</sub> + z<sub>t</sub> * h{_T1}",
)
