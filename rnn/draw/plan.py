"""What a computation graph draws, before any styling: its nodes (with their time step) and
lines. Values are boxes, ops small ellipses; an unnamed result is drawn inside its op; each
parameter is drawn once per step that uses it; a collapsed step is one box.
"""

from __future__ import annotations

from typing import NamedTuple

from rnn.draw.labels import SIGMA, escape_label
from rnn.draw.scale import rounded
from rnn.draw.style import SMALL_TEXT
from rnn.draw.timesteps import STATE_LABEL, graph_order, parents_in_order

OP_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−", "matmul": "@",
              "sigmoid": SIGMA, "pow": "^", "pow_tensor": "^"}


def _small(text: str, dim: bool = True) -> str:
    """Small print; `dim` greys it (not on gradient fills, which set their own text colour)."""
    colour = f' color="{SMALL_TEXT}"' if dim else ""
    return f'<font point-size="9"{colour}>{text}</font>'


def _shape_text(attrs) -> str:
    """A tensor's shape, and its dtype unless float64."""
    shape = tuple(attrs.get("shape") or ())
    dtype = attrs.get("dtype") or "float64"
    text = str(shape) + ("" if dtype == "float64" else f" {dtype}")
    return escape_label(text, 40)


def _rows(rows) -> str:
    """Lines of a label as rows of a borderless table: unlike <br/>, rows keep an underscore
    (W_f) clear of the line below."""
    if len(rows) == 1:
        return rows[0]
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>'


def _grad_text(norm) -> str:
    """A gradient norm as small print: ∇ 1.2e-03."""
    return _small(f"∇ {rounded(norm)}", dim=False)


class Node(NamedTuple):
    """A node to draw, in time step `step` (None: outside every step)."""

    id: str
    step: int | None
    kind: str  # param, leaf, value, root, op or step
    label: str  # an HTML fragment, every user text escaped
    norm: float | None


class Edge(NamedTuple):
    """A line to draw; `norm` is the gradient at its tail."""

    tail: str
    head: str
    norm: float | None
    label: str = ""
    visible: bool = True
    lane: int = 0  # parallel lines between two collapsed steps (h_t, c_t) keep apart


class Plan(NamedTuple):
    """What one graph draws: nodes (with their time step) and edges, before any styling."""

    nodes: list
    edges: list
    steps: int


class _Ids(NamedTuple):
    """Node ids: `prefix` on every one; an op drawn apart from its value (not in `merged`) is
    `<id>_op`; a parameter in `copies` is drawn once per step as `<id>_t<step>`."""

    prefix: str
    merged: frozenset  # ops drawn together with their (unnamed) result
    copies: dict  # parameter -> {step, or None outside every step: node id}
    collapse: bool

    def tail(self, p, at) -> str:
        """Where a line from tensor `p` into a node of step `at` starts."""
        return self.copies[p].get(at, self.prefix + p) if p in self.copies else self.prefix + p

    def head(self, n) -> str:
        """Where a line into op `n` ends."""
        return self.prefix + n if n in self.merged else f"{self.prefix}{n}_op"

    def absorbed(self, p, at) -> bool:
        """Whether `p` is a parameter copy inside a collapsed step (drawn in its box)."""
        return self.collapse and p in self.copies and at is not None


def _ids(g, order, step, prefix, collapse, all_values, shared_params) -> _Ids:
    """Which ops merge with their result and which parameters get a copy per step."""
    attrs = g.nodes
    merged = frozenset(n for n in order if attrs[n].get("op") is not None
                       and not attrs[n].get("label") and not attrs[n].get("is_output")
                       and not all_values)
    copies = {}
    if step and not shared_params:
        for n in order:
            if attrs[n].get("is_parameter"):
                groups = sorted({step.get(c) for c in g.successors(n)}, key=lambda s: s or 0)
                copies[n] = {s: prefix + n if s is None else f"{prefix}{n}_t{s}" for s in groups}
    return _Ids(prefix, merged, copies, collapse)


def _value_text(d: dict, name: str, grad: bool) -> str:
    """The label of a value: its name (or `name`), shape, and gradient norm with `grad`."""
    rows = [f"<b>{escape_label(d['label'])}</b>" if d.get("label") else name,
            _small(_shape_text(d), not grad)]
    return _rows(rows + ([_grad_text(d.get("grad_norm"))] if grad else []))


def _op_text(d: dict, merged: bool, grad: bool) -> str:
    """The label of an op: its symbol; merged with its result, also the result's shape."""
    rows = [escape_label(OP_SYMBOLS.get(d["op"], d["op"]), 20)]
    if merged:
        extra = escape_label(d["attrs"], 24) if d.get("attrs") else ""
        rows.append(_small(_shape_text(d) + (f" {extra}" if extra else ""), not grad))
        if grad:
            rows.append(_grad_text(d.get("grad_norm")))
    return _rows(rows)


def _leaf(d: dict, group, node_id: str, grad: bool) -> Node:
    """A tensor no op made: the output drawn from, a parameter, an input or a constant."""
    kind = "root" if d.get("is_output") else "param" if d.get("is_parameter") else "leaf"
    text = _value_text(d, "constant" if not d.get("requires_grad") else "leaf", grad)
    return Node(node_id, group, kind, text, d.get("grad_norm"))


def _nodes(g, order, step, ids: _Ids, grad: bool) -> tuple[list, list]:
    """The drawn nodes in graph order, and the line from each op to its own value box.

    Parameter copies are drawn just before their first use in each step, which keeps every
    step in the same order (dot starts crossing reduction from it).
    """
    attrs = g.nodes
    nodes, edges, drawn = [], [], set()
    for n in order:
        d, s = attrs[n], step.get(n)
        if ids.collapse and s is not None:
            continue
        if d.get("op") is None:
            if n not in ids.copies:
                nodes.append(_leaf(d, s, ids.prefix + n, grad))
            elif not g.out_degree(n):
                nodes.append(_leaf(d, None, ids.prefix + n, grad))
            continue
        for p in parents_in_order(g, n):
            node_id = ids.tail(p, s)
            if p in ids.copies and node_id not in drawn and not ids.absorbed(p, s):
                drawn.add(node_id)
                nodes.append(_leaf(attrs[p], s, node_id, grad))
        norm = d.get("grad_norm")
        is_merged = n in ids.merged
        nodes.append(Node(ids.head(n), s, "op", _op_text(d, is_merged, grad), norm))
        if not is_merged:
            kind = "root" if d.get("is_output") else "value"
            nodes.append(Node(ids.prefix + n, s, kind, _value_text(d, "output", grad), norm))
            edges.append(Edge(ids.head(n), ids.prefix + n, norm))
    return nodes, edges


def _lines(g, order, step, ids: _Ids, box: dict) -> list:
    """A line from each tensor to each op reading it; collapsed, one per state passed on
    between two step boxes (h_t, c_t), each in its own lane."""
    attrs = g.nodes
    edges, seen = [], set()
    for n in order:
        sv = step.get(n)
        for p in parents_in_order(g, n):
            su = step.get(p)
            if ids.absorbed(p, sv):
                continue
            norm = attrs[p].get("grad_norm")
            if not ids.collapse:
                edges.append(Edge(ids.tail(p, sv), ids.head(n), norm))
                continue
            if su is not None and su == sv:
                continue
            a = box[su] if su is not None else ids.tail(p, sv)
            b = box[sv] if sv is not None else ids.head(n)
            crossing = su is not None and sv is not None and attrs[p].get("label")
            label = escape_label(attrs[p]["label"], 20) if crossing else ""
            if (a, b, label) not in seen:
                lane = sum(1 for pair in seen if pair[:2] == (a, b)) if label else 0
                seen.add((a, b, label))
                edges.append(Edge(a, b, norm, label, lane=lane))
    return edges


def _step_ends(g, step) -> dict:
    """Each step's output: its h_t that no node of the same step reads (the top layer's)."""
    return {s: n for n, s in step.items() if g.nodes[n].get("label") == STATE_LABEL
            and all(step.get(c) != s for c in g.successors(n))}


def _steps_in_order(nodes, edges, ends, prefix) -> list:
    """Invisible lines that start step t + 1 below step t.

    Without a push, the nodes that step t + 1 computes from step t's states and its own
    leaves alone (the concat of h_{t-1} and x_t) float up beside the end of step t, and the
    steps run diagonally. One invisible line from h_t to each such node is enough:
    everything else in the step hangs below them.
    """
    step_of = {node.id: node.step for node in nodes}
    fed = {e.head for e in edges}
    inner = {e.head for e in edges if step_of.get(e.head) is not None
             and step_of.get(e.tail) == step_of[e.head] and e.tail in fed}
    return [Edge(prefix + ends[node.step - 1], node.id, None, visible=False) for node in nodes
            if node.step and node.step - 1 in ends and node.id in fed and node.id not in inner]


def _step_boxes(g, order, step, box, ends, grad, detail) -> list:
    """One box per collapsed step: t, the names inside (with `detail`), its ops, ∇h_t."""
    attrs = g.nodes
    members = {t: [] for t in box}
    for n in order:
        if n in step:
            members[step[n]].append(n)
    boxes = []
    for t, node_id in box.items():
        end = ends.get(t)
        norm = attrs[end].get("grad_norm") if end is not None else None
        rows = [f"<b>t = {t}</b>"]
        if detail:
            names = list(dict.fromkeys(escape_label(attrs[n]["label"], 20)
                                       for n in members[t] if attrs[n].get("label")))
            rows += [" ".join(names[k:k + 4]) for k in range(0, len(names), 4)][:3]
            ops = sum(attrs[n].get("op") is not None for n in members[t])
            rows.append(_small(f"{ops} ops", not grad))
        if grad:
            rows.append(_small(f"∇h<sub>t</sub> {rounded(norm)}", dim=False))
        boxes.append(Node(node_id, None, "step", _rows(rows), norm))
    return boxes


def make_plan(g, step, prefix="", collapse=False, grad=False, all_values=False,
         shared_params=False, detail=True) -> Plan:
    """What drawing networkx graph `g` takes: nodes and edges, `step` from time_steps."""
    order = graph_order(g)
    steps = max(step.values(), default=0)
    ids = _ids(g, order, step, prefix, collapse, all_values, shared_params)
    nodes, edges = _nodes(g, order, step, ids, grad)
    box = {t: f"{prefix}t{t}" for t in range(1, steps + 1)}
    edges += _lines(g, order, step, ids, box)
    ends = _step_ends(g, step)
    if collapse:
        nodes = _step_boxes(g, order, step, box, ends, grad, detail) + nodes
    else:
        edges += _steps_in_order(nodes, edges, ends, prefix)
    return Plan(nodes, edges, steps)


FOLD_ID = "folded"


def fold_plan(plan: Plan, title: str, prefix: str = "") -> Plan:
    """The folded graph: every step box of a collapsed `plan` becomes one block
    "title × T" with one recurrent line carrying the states (h_t, c_t, ...) back into it;
    lines between a step and the rest start or end at the block, once each. The drawing has
    the same nodes whatever T is."""
    steps = {n.id for n in plan.nodes if n.kind == "step"}
    block = prefix + FOLD_ID
    rows = [f"<b>{escape_label(title, 40)} × {len(steps)}</b>", _small("t = 1 .. T, folded")]
    nodes = [Node(block, None, "step", _rows(rows), None)]
    nodes += [n for n in plan.nodes if n.id not in steps]
    carried = list(dict.fromkeys(e.label for e in plan.edges
                                 if e.tail in steps and e.head in steps and e.visible))
    edges = [Edge(block, block, None, ", ".join(carried))] if carried else []
    seen = set()
    for e in plan.edges:
        tail, head = (block if e.tail in steps else e.tail), (block if e.head in steps else e.head)
        if tail == head == block or (tail, head, e.label, e.visible) in seen:
            continue
        seen.add((tail, head, e.label, e.visible))
        folded = block in (tail, head)
        edges.append(e._replace(tail=tail, head=head, lane=0,
                                norm=None if folded else e.norm))
    return Plan(nodes, edges, len(steps))
