"""Planning a compiled program's backward: for each op, newest first, how its rule runs and
where each gradient goes.

Two plans. `exact=True` runs the table's own rules, in the eager walk's order: the same bits
as eager. The default writes the common rules (matmul, mul, add, sigmoid, tanh, ...) into the
frame's buffers: each gradient is set into a buffer, added into the one it already owns, or
passed as a view; buffers of forward values are reused once backward has read them. It also
multiplies by contiguous transposes of the parameters, and computes only the gradient columns
a concat hands on (for [h, x] @ W, the h part): only BLAS's order of sums changes.
"""

from __future__ import annotations

import numpy as np

from autograd_lite import kernels, table
from autograd_lite.trace import EXTERN

# How a contribution joins a gradient: it becomes it (SET: written into the gradient's new
# buffer; VIEW: an array the kernel hands back), is added into the sum the gradient owns
# (ADD), or the two are summed into a new buffer (SUM; JOIN: the contribution was written
# there, and the old gradient is added to it).
SET, VIEW, ADD, SUM, JOIN = "set", "view", "add", "sum", "join"


def reached_steps(instrs, values, seeds) -> list:
    """(instruction, [(input position, slot), ...]) for each instruction that passes a
    gradient on, newest first."""
    reached = set(seeds)
    out = []
    for ins in reversed(instrs):
        if ins.out not in reached or not values[ins.out].requires_grad:
            continue
        targets = [(k, s) for k, s in enumerate(ins.inputs) if values[s].requires_grad]
        if targets:
            reached.update(s for _, s in targets)
            out.append((ins, targets))
    return out


def plan_exact(steps, values) -> list:
    """The table's rules as they are: (out slot, op, attrs, what the rule reads, whether it
    reads the output, [(position, slot, shape to sum down to or None)])."""
    plan = []
    for ins, targets in steps:
        op = ins.op
        if op.keeps_inputs:
            args = tuple(ins.inputs)  # slots: the arrays the forward read
        else:  # stand-ins with shape, ndim and dtype (numbers stay numbers)
            args = tuple(values[s].source if values[s].dtype is None else values[s]
                         for s in ins.inputs)
        plan.append((ins.out, op, ins.attrs, args, op.keeps_output,
                     tuple((k, s, values[s].shape if op.broadcasts else None)
                           for k, s in targets)))
    return plan


def reads(ins) -> tuple:
    """The forward values the backward of `ins` reads."""
    op = ins.op
    got = ()
    if op.keeps_inputs:
        got = tuple(ins.inputs)
    if op.keeps_output:
        got += (ins.out,)
    return got


# ------------------------------------------------------------------------------------------
# The buffered plan
# ------------------------------------------------------------------------------------------


class Call:
    """What one call's backward shares between its steps: the fused ops' saved arrays, and
    contiguous transposes of the parameters it multiplies by, made once per call (parameters
    change between calls, not within one)."""

    def __init__(self, values, extras):
        self.values, self.extras = values, extras
        self.made: dict = {}

    def transpose(self, slot, rows=None):
        """values[slot][start:stop].T as a contiguous array (rows: (start, stop) or None)."""
        t = self.made.get((slot, rows))
        if t is None:
            b = self.values[slot]
            if rows is not None:
                b = b[rows[0]:rows[1]]
            t = self.made[(slot, rows)] = np.ascontiguousarray(b.T)
        return t


def plan_buffered(steps, values, buffers, forward_roots, instrs, seeds, inputs):
    """Run steps of the backward, writing into `buffers` (which the forward plan filled);
    returns (steps, extra gradient slots). The program's `inputs` keep their gradients."""
    made_by = {ins.out: ins for ins in instrs}
    split = _splittable_concats(steps, values, made_by)
    deferred = _deferred_sums(steps, values, split, set(inputs), len(values))
    last_read: dict[int, int] = {}  # forward buffer -> index of the last step reading it
    for j, (ins, _) in enumerate(steps):
        if ins.out not in split:
            for s in reads(ins):
                for b in forward_roots.get(s, ()):
                    last_read[b] = j
    for b in list(buffers.busy):  # forward buffers backward never reads are free at once
        if b not in last_read:
            buffers.give(b)
    owned: dict[int, int] = {}  # slot -> the buffer its gradient owns
    # slot -> buffers its gradient's memory may lie in (the seeds: the caller's arrays)
    roots: dict[int, frozenset] = {s: frozenset() for s in seeds}
    refs: dict[int, int] = {}  # buffer -> gradients rooted in it

    def hold(rs):
        for r in rs:
            refs[r] = refs.get(r, 0) + 1

    def drop(rs):
        for r in rs:
            refs[r] -= 1
            if refs[r] == 0:
                buffers.give(r)

    def place(t, kind, key, later):
        """How contribution `kind` joins t's gradient: (mode, its buffer, new buffer)."""
        if t not in roots:  # the first gradient of t
            if kind == VIEW:
                roots[t] = g_roots
                hold(g_roots)
                return (VIEW, None, None)
            b = buffers.take(key)
            owned[t], roots[t] = b, frozenset((b,))
            hold(roots[t])
            return (SET, b, None)
        if t in owned:  # add into the sum t owns (an array of its own computed in scratch)
            s = None
            if kind != VIEW:
                s = buffers.take(key)
                later.append(lambda s=s: buffers.give(s))
            return (ADD, s, None)
        b = buffers.take(key)  # the gradient so far is a view: the sum gets a buffer
        later.append(lambda rs=roots[t]: drop(rs))  # (after the step: it is read in it)
        owned[t], roots[t] = b, frozenset((b,))
        hold(roots[t])
        return (JOIN, b, None) if kind != VIEW else (SUM, None, b)

    released: dict[int, list] = {}  # step index -> forward buffers read last there
    for b, j in last_read.items():
        released.setdefault(j, []).append(b)
    plan = []
    for j, (ins, targets) in enumerate(steps):
        if ins.out in split:  # its inputs' gradients come straight from the products
            continue
        g_roots = roots.pop(ins.out, frozenset())
        owned.pop(ins.out, None)
        kernel, contribs, temps = _kernel(ins, targets, values, made_by, split, deferred)
        later = []
        accs = [(t,) + place(t, kind, key, later) for t, kind, key in contribs]
        tmps = [buffers.take(key) for key in temps]
        plan.append(_step(ins.out, kernel, accs, tmps, ins.op.name))
        for b in tmps:
            buffers.give(b)
        for release in later:
            release()
        drop(g_roots)
        for b in released.get(j, ()):  # forward values this step read last: reused now
            buffers.give(b)
    for full, (t, axes, key) in deferred.items():  # the deferred sums, taken down at last
        g_roots = roots.get(full, frozenset())
        later = []
        acc = (t,) + place(t, SET, key, later)
        plan.append(_step(full, _reducer(axes), [acc], [], "sum_to"))
    return plan, len(deferred)


def _step(o, kernel, accs, tmps, name):
    """A step factory: bind(frame arrays) gives step(values, grads, call)."""

    def bind(frame):
        outs = [None if a[2] is None else frame[a[2]] for a in accs]
        temps = [frame[b] for b in tmps]
        if len(accs) == 1 and accs[0][1] in (SET, VIEW):  # (the common case, kept short)
            t = accs[0][0]

            def step(vals, grads, call):
                g = grads[o]
                if g is not None:
                    grads[o] = None  # (consumed)
                    grads[t] = kernel(g, vals, outs, temps, call)[0]
            return step
        plan = [(t, mode, None if b is None else frame[b]) for t, mode, s, b in accs]

        def step(vals, grads, call):
            g = grads[o]
            if g is None:
                return
            grads[o] = None  # (consumed)
            for (t, mode, new), r in zip(plan, kernel(g, vals, outs, temps, call)):
                if mode is SET or mode is VIEW:
                    grads[t] = r
                elif mode is ADD:
                    grads[t] += r  # a sum this plan owns
                elif mode is JOIN:  # r was written into the new buffer: add what was there
                    r += grads[t]
                    grads[t] = r
                else:
                    grads[t] = np.add(grads[t], r, out=new)
        return step
    bind.op = name  # (for profiles and debugging)
    return bind


def _reducer(axes):
    def reduce(g, vals, outs, tmps, cache):
        return [_sum_into(g, axes, outs[0])]
    return reduce


def _deferred_sums(steps, values, split, inputs, first) -> dict:
    """Program inputs (a bias) that get several gradients summed down from one full shape
    (its broadcast over a batch): those are added up whole, and summed down once at the end.
    Returns extra slot (from `first` on) -> (input slot, axes, input's buffer key)."""
    count: dict = {}
    for ins, targets in steps:
        if ins.op not in (table.ADD, table.SUB, table.MUL) or ins.out in split:
            continue
        full = values[ins.out].shape
        for k, s in targets:
            if s in inputs and values[s].shape != full:
                key = (s, full, values[s].dtype)
                count[key] = count.get(key, 0) + 1
    deferred = {}
    for (s, full, dtype), n in count.items():
        if n > 1:
            deferred[first + len(deferred)] = (s, _sum_axes(full, values[s].shape),
                                               (values[s].shape, values[s].dtype))
    return deferred


def _splittable_concats(steps, values, made_by) -> dict:
    """Concats along the last axis whose gradient only products `concat(...) @ W` hand on,
    with a parameter W (read at each call): out slot -> [(input slot, rows of W)] for the
    inputs that need a gradient. Those products compute just these columns of their left
    gradient, straight into the inputs'."""
    consumers: dict[int, list] = {}
    for ins, targets in steps:
        for k, s in targets:
            consumers.setdefault(s, []).append((ins, k))
    split = {}
    for ins, targets in steps:
        op, v = ins.op, values[ins.out]
        if op is not table.CONCAT or v.ndim != 2 or (ins.attrs or {}).get("axis", 0) % 2 != 1:
            continue  # (a concat of matrices side by side: axis 1 or -1)
        if all(values[s].requires_grad for s in ins.inputs):
            continue  # nothing to leave out
        users = consumers.get(ins.out, [])
        if not users or any(u.op is not table.MATMUL or k != 0 or
                            values[u.inputs[1]].kind != EXTERN or values[u.inputs[1]].ndim != 2
                            for u, k in users):
            continue
        parts, start = [], 0
        for s in ins.inputs:
            width = values[s].shape[1]
            if values[s].requires_grad:
                parts.append((s, (start, start + width)))
            start += width
        split[ins.out] = parts
    return split


def _kernel(ins, targets, values, made_by, split, deferred):
    """(kernel, [(target slot, SET or VIEW, buffer key)], temporaries' buffer keys) for one
    instruction. kernel(g, values, outs, temps, call) returns the contributions in that
    order: written into `outs` (SET), or arrays of its own (VIEW: views of g, or new)."""
    op, inputs = ins.op, ins.inputs
    out = ins.out
    key = {s: (values[s].shape, values[s].dtype) for s in inputs}
    out_shape, out_key = values[out].shape, (values[out].shape, values[out].dtype)
    pos = dict(targets)  # position -> slot
    later = {(t, axes): v for v, (t, axes, _) in deferred.items()}

    def contrib(k, kind):
        return (inputs[k], kind, key[inputs[k]])

    if op is table.MATMUL and values[inputs[0]].ndim == 2 and values[inputs[1]].ndim == 2:
        return _matmul_kernel(ins, pos, values, made_by, split, contrib)

    if op in (table.ADD, table.SUB, table.MUL) and len(inputs) == 2:
        jobs, contribs = [], []
        for k in (0, 1):
            if k not in pos:
                continue
            shape = values[inputs[k]].shape
            axes = None if shape == out_shape else _sum_axes(out_shape, shape)
            flip = op is table.SUB and k == 1
            if op is table.MUL:  # (g * other, then summed down: the rule's order)
                way = ("mul", inputs[1 - k])
            else:
                way = ("neg", None) if flip else ("pass", None)
            virtual = later.get((inputs[k], axes)) if axes is not None else None
            if virtual is not None:  # added up whole; summed down at the end
                jobs.append((way, None))
                contribs.append((virtual, VIEW if way[0] == "pass" else SET, out_key))
            else:
                jobs.append((way, axes))
                plain = way[0] == "pass" and axes is None
                contribs.append(contrib(k, VIEW if plain else SET))
        uses_temp = any(axes is not None and way[0] != "pass" for way, axes in jobs)

        def arith(g, vals, outs, tmps, cache):
            res = []
            for ((how, other), axes), o in zip(jobs, outs):
                if axes is None:
                    if how == "pass":
                        res.append(g)
                    elif how == "neg":
                        res.append(np.negative(g, out=o))
                    else:
                        res.append(np.multiply(g, vals[other], out=o))
                    continue
                if how == "pass":
                    full = g
                elif how == "neg":
                    full = np.negative(g, out=tmps[0])
                else:
                    full = np.multiply(g, vals[other], out=tmps[0])
                res.append(_sum_into(full, axes, o))
            return res
        return arith, contribs, [out_key] if uses_temp else []

    if op in (table.SIGMOID, table.TANH, table.EXP, table.NEG) and 0 in pos:
        def unary(g, vals, outs, tmps, cache, _op=op):
            o = outs[0]
            y = vals[out]
            if _op is table.SIGMOID:  # g * out * (1 - out), in that order
                np.multiply(g, y, out=o)
                o *= np.subtract(1, y, out=tmps[0])
            elif _op is table.TANH:  # g * (1 - out * out)
                t = np.multiply(y, y, out=tmps[0])
                np.subtract(1, t, out=t)
                np.multiply(g, t, out=o)
            elif _op is table.EXP:
                np.multiply(g, y, out=o)
            else:
                np.negative(g, out=o)
            return [o]
        temps = [out_key] if op in (table.SIGMOID, table.TANH) else []
        return unary, [contrib(0, SET)], temps

    if op is table.PICK and 0 in pos:  # zeros, with g at each row's target
        picked = inputs[1]

        def pick(g, vals, outs, tmps, cache):
            o = outs[0]
            o.fill(0)
            o[kernels.pick_index(vals[picked])] = g  # (one target per row: no sums)
            return [o]
        return pick, [contrib(0, SET)], []

    if op is table.LOG_SOFTMAX and 0 in pos:
        axis, floor = (ins.attrs or {}).get("axis", -1), kernels.exp_floor(values[out].dtype)
        a = inputs[0]

        def log_softmax(g, vals, outs, tmps, cache):
            o = outs[0]  # g - softmax(a) * g.sum(axis), softmax as kernels.softmax makes it
            x = vals[a]
            np.subtract(x, x.max(axis=axis, keepdims=True), out=o)
            np.maximum(o, floor, out=o)
            np.exp(o, out=o)
            o /= o.sum(axis=axis, keepdims=True)
            o *= g.sum(axis, keepdims=True)
            return [np.subtract(g, o, out=o)]
        return log_softmax, [contrib(0, SET)], []

    return _fallback(ins, targets, values)


def _matmul_kernel(ins, pos, values, made_by, split, contrib):
    a, b = ins.inputs
    jobs, contribs = [], []
    if 0 in pos:
        left = split.get(a)
        if left is not None:  # only the columns the concat's inputs need
            for s, rows in left:
                jobs.append(("left_part", b, rows))
                contribs.append((s, SET, (values[s].shape, values[s].dtype)))
        else:
            jobs.append(("left", b, None))
            contribs.append(contrib(0, SET))
    if 1 in pos:
        jobs.append(("right", a, None))
        contribs.append(contrib(1, SET))
    transposed = made_by.get(b)  # b = W.T: then g @ b.T is g @ W, already contiguous
    plain_w = None
    if transposed is not None and transposed.op is table.TRANSPOSE and \
            values[transposed.inputs[0]].ndim == 2:
        plain_w = transposed.inputs[0]
    constant_b = values[b].kind == EXTERN

    def matmul(g, vals, outs, tmps, cache):
        res = []
        for (job, s, rows), o in zip(jobs, outs):
            if job == "right":
                res.append(np.matmul(vals[s].T, g, out=o))
            elif job == "left_part":
                res.append(np.matmul(g, cache.transpose(s, rows), out=o))
            elif plain_w is not None:
                res.append(np.matmul(g, vals[plain_w], out=o))
            elif constant_b:
                res.append(np.matmul(g, cache.transpose(s), out=o))
            else:
                res.append(np.matmul(g, vals[s].T, out=o))
        return res
    return matmul, contribs, []


def _fallback(ins, targets, values):
    """The table's rule, as in the exact plan; its results are the rule's own arrays."""
    op, inputs, attrs = ins.op, ins.inputs, ins.attrs or {}
    out = ins.out
    if op.keeps_inputs:
        args = tuple(inputs)
    else:
        args = tuple(values[s].source if values[s].dtype is None else values[s] for s in inputs)
    shapes = [values[s].shape if op.broadcasts else None for _, s in targets]
    positions = [k for k, _ in targets]
    bk = table.NUMPY_BACKEND

    def rule(g, vals, outs, tmps, cache):
        ins_ = [vals[a] for a in args] if op.keeps_inputs else args
        res = vals[out] if op.keeps_output else None
        if op.saves:
            pgs = op.vjp(bk, g, res, *ins_, saved=cache.extras[out], **attrs)
        else:
            pgs = op.vjp(bk, g, res, *ins_, **attrs)
        got = []
        for k, shape in zip(positions, shapes):
            pg = pgs[k]
            if shape is not None and pg.shape != shape:
                pg = bk.sum_to(pg, shape)
            got.append(pg)
        return got
    return rule, [(s, VIEW, (values[s].shape, values[s].dtype)) for _, s in targets], []


def _sum_axes(full_shape, shape) -> tuple:
    """The axes `kernels.sum_to` sums over to take `full_shape` down to `shape`."""
    lead = len(full_shape) - len(shape)
    return tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and full_shape[i + lead] != 1)


def _sum_into(x, axes, out):
    """kernels.sum_to(x, out.shape) written into `out`."""
    if not axes:
        np.copyto(out, x.reshape(out.shape))
        return out
    np.sum(x, axis=axes, keepdims=True, out=out.reshape(
        tuple(1 if i in axes else n for i, n in enumerate(x.shape))))
    return out
