"""The exploding side: the one-unit RNN of Pascanu, Mikolov & Bengio (2013), whose loss surface
over (w, b) has a cliff. The model, its gradient derived by SymPy, the surface over a grid, the
engine's gradient, and gradient descent with and without clipping by norm.

Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks",
ICML 2013, section 2.3, eq. (8) and Fig. 6: x_t = w σ(x_{t-1}) + b with no input, x_0 = 0.5,
error E_50 = (σ(x_50) − 0.7)², σ the logistic sigmoid.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

import autograd_lite as al
from autograd_lite.kernels import sigmoid as _sigmoid_kernel
from autograd_lite.kernels import total_norm
from rnn.symbolic.core import Var, sigmoid

X0, TIME_STEPS, TARGET = 0.5, 50, 0.7  # the paper's x_0, number of steps and target


# -- the model on the engine ------------------------------------------------------------------

def engine_losses(w, b, x0: float = X0, steps: int = TIME_STEPS, target: float = TARGET):
    """E = (σ(x_T) − target)² at each point, as a graph of the engine; w and b are Tensors
    of one shape, one point each entry."""
    x = al.Tensor(np.full(w.shape, float(x0)))
    for t in range(1, steps + 1):
        x = w * al.sigmoid(x) + b  # eq. (8): x_t = w σ(x_{t-1}) + b
        x.label = f"x_{t}"
    loss = (al.sigmoid(x) - target) ** 2
    loss.label = f"E_{steps}"
    return loss


def engine_gradient(w, b, **model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E, ∂E/∂w, ∂E/∂b) at each point of the arrays w, b (one shape), by the engine's
    reverse mode through the unrolled chain (the points are independent: the gradient of
    their sum is each one's own)."""
    w = al.Tensor(np.asarray(w, dtype=np.float64), requires_grad=True, label="w")
    b = al.Tensor(np.asarray(b, dtype=np.float64), requires_grad=True, label="b")
    losses = engine_losses(w, b, **model)
    losses.sum().backward()
    return losses.data, np.asarray(w.grad), np.asarray(b.grad)


# -- the closed form, derived by SymPy --------------------------------------------------------

@dataclass(frozen=True)
class Derivation:
    """The one-step recurrence, its derivatives and the loss's, as SymPy expressions, and
    `step`/`loss_grad`, the same compiled with cse into vectorised NumPy functions."""

    x_next: sp.Expr      # w σ(x) + b
    dx_dw_next: sp.Expr  # ∂x_t/∂w from ∂x_{t-1}/∂w (chain rule through x_{t-1})
    dx_db_next: sp.Expr
    loss: sp.Expr        # (σ(x_T) − y)²
    dloss_dx: sp.Expr    # ∂E/∂x_T
    cliff_b: sp.Expr     # b at which x_0 is a fixed point
    cliff_w: sp.Expr     # |w| beyond which that fixed point is unstable
    step: object = field(repr=False)
    loss_grad: object = field(repr=False)

    def lines(self) -> list[str]:
        """The derivation as plain text, one equation a line."""
        return [f"x_t = {_text(self.x_next)}", f"dx_t/dw = {_text(self.dx_dw_next)}",
                f"dx_t/db = {_text(self.dx_db_next)}", f"E = {_text(self.loss)}",
                f"dE/dx_T = {_text(self.dloss_dx)}",
                f"cliff: b = {_text(self.cliff_b)} where |w| > {_text(self.cliff_w)}"]


SYMBOLS = {"x": Var("x_prev", "x_{t-1}", "xₜ₋₁"), "w": Var("w"), "b": Var("b"),
           "dx_dw": Var("Dx_w", r"\partial x_{t-1}/\partial w", "∂xₜ₋₁/∂w"),
           "dx_db": Var("Dx_b", r"\partial x_{t-1}/\partial b", "∂xₜ₋₁/∂b"),
           "y": Var("y"), "x0": Var("x_0"), "xT": Var("x_T")}
_TEXT = {"x_prev": "x_{t-1}", "Dx_w": "dx_{t-1}/dw", "Dx_b": "dx_{t-1}/db"}


def _text(e: sp.Expr) -> str:
    """`e` as one line of text, x_{t-1} and its derivatives named as in the paper."""
    names = {v: sp.Symbol(_TEXT[v.name]) for v in e.free_symbols if v.name in _TEXT}
    return sp.sstr(e.xreplace(names)).replace("sigmoid", "σ")


_MODULES = [{"sigmoid": lambda v: _sigmoid_kernel(np.asarray(v, dtype=np.float64))}, "numpy"]


@functools.cache
def derivation() -> Derivation:
    """Derive the one-step recurrence's derivatives and the loss's with SymPy (from
    symbols only), and compile them with cse."""
    x, w, b, pw, pb, y, x0, xT = (SYMBOLS[k] for k in
                                  ("x", "w", "b", "dx_dw", "dx_db", "y", "x0", "xT"))
    x_next = w * sigmoid(x) + b
    # x_t depends on w directly and through x_{t-1}: the chain rule, one step at a time
    dw_next = sp.diff(x_next, w) + sp.diff(x_next, x) * pw
    db_next = sp.diff(x_next, b) + sp.diff(x_next, x) * pb
    loss = (sigmoid(xT) - y) ** 2
    dloss = sp.diff(loss, xT)
    # The cliff: x_0 is a fixed point (x_1 = x_0) that repels (|∂x_t/∂x_{t-1}| > 1 there),
    # so the sign of a small change of (w, b) decides which attractor x_T ends in.
    cliff_b = sp.solve(sp.Eq(x_next.subs(x, x0), x0), b)[0]
    cliff_w = 1 / sp.diff(x_next, x).subs({x: x0, w: 1})
    step = sp.lambdify((x, pw, pb, w, b), (x_next, dw_next, db_next), modules=_MODULES,
                       cse=True)
    loss_grad = sp.lambdify((xT, y), (loss, dloss), modules=_MODULES, cse=True)
    return Derivation(x_next, dw_next, db_next, loss, dloss, cliff_b, cliff_w, step, loss_grad)


def sympy_gradient(w, b, x0: float = X0, steps: int = TIME_STEPS, target: float = TARGET):
    """(E, ∂E/∂w, ∂E/∂b) at every point of the arrays w, b (broadcast), from the SymPy
    closed form iterated forward: x and its derivatives step by step, then the loss's."""
    d = derivation()
    w, b = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    x, dw, db = np.full(w.shape, float(x0)), np.zeros(w.shape), np.zeros(w.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # a derivative past float64 is inf
        for _ in range(steps):
            x, dw, db = (np.asarray(v, dtype=np.float64) for v in d.step(x, dw, db, w, b))
        loss, dloss = (np.asarray(v, dtype=np.float64) for v in d.loss_grad(x, target))
        return loss, dloss * dw, dloss * db


def surface_loss(w, b, x0: float = X0, steps: int = TIME_STEPS, target: float = TARGET):
    """E at every point of the arrays w, b (broadcast): the recurrence run on whole arrays."""
    x = np.full(np.broadcast_shapes(np.shape(w), np.shape(b)), float(x0))
    for _ in range(steps):
        x = w * _sigmoid_kernel(x) + b
    return (_sigmoid_kernel(x) - target) ** 2


def cliff_line(w, x0: float = X0) -> np.ndarray:
    """b on the cliff at each w: x_0 is an unstable fixed point there (NaN where |w| is too
    small for it to be unstable)."""
    d = derivation()
    w = np.asarray(w, dtype=np.float64)
    b = sp.lambdify((SYMBOLS["w"], SYMBOLS["x0"]), d.cliff_b, modules=_MODULES)(w, x0)
    w_min = float(d.cliff_w.subs(SYMBOLS["x0"], x0))
    return np.where(np.abs(w) > w_min, b, np.nan)


def cliff_threshold(x0: float = X0) -> float:
    """|w| beyond which x_0 as a fixed point repels: 1 / σ'(x_0) (4.26 for x_0 = 0.5)."""
    return float(derivation().cliff_w.subs(SYMBOLS["x0"], x0))


@dataclass
class Surface:
    """The loss over a grid of (w, b)."""

    w: np.ndarray  # (n,)
    b: np.ndarray  # (n,)
    loss: np.ndarray  # (n, n), rows b, columns w


def surface(w_range, b_range, n: int, **model) -> Surface:
    """The loss on an n × n grid over the box, by the vectorised recurrence."""
    ws, bs = np.linspace(*w_range, n), np.linspace(*b_range, n)
    return Surface(ws, bs, surface_loss(*np.meshgrid(ws, bs), **model))


# -- gradient descent, with and without clipping ----------------------------------------------

@dataclass
class Trajectory:
    """Gradient descent on (w, b): the point, loss and gradient norm (before clipping) at
    each iterate, and the length of each step taken."""

    clip: float | None
    lr: float
    w: list = field(default_factory=list)
    b: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    step: list = field(default_factory=list)  # ||(w, b)_{k+1} − (w, b)_k||; one fewer
    stopped: str | None = None  # why it ended early (a non-finite value), if it did

    @property
    def name(self) -> str:
        return "unclipped" if self.clip is None else f"clipped at {self.clip:g}"

    def largest_step(self) -> tuple[float, int]:
        """(length, iteration) of the longest step (0, 0 when none was taken)."""
        if not self.step:
            return 0.0, 0
        k = int(np.argmax(self.step))
        return float(self.step[k]), k


def clip_by_norm(grad: np.ndarray, threshold: float) -> np.ndarray:
    """Pascanu et al.'s rule on a gradient vector, by the engine's clip_grad_norm: rescaled
    to norm `threshold` when its norm is above it, else unchanged."""
    p = al.nn.Parameter(np.zeros_like(np.asarray(grad, dtype=np.float64)))
    p.grad = np.array(grad, dtype=np.float64)
    al.optim.clip_grad_norm([p], threshold)
    return p.grad


def descend(start, lr: float, steps: int, clip: float | None = None, bar=None,
            **model) -> Trajectory:
    """`steps` iterations of plain gradient descent (autograd_lite's SGD) from `start` = (w, b),
    the gradient from the engine, clipped by global norm (autograd_lite's clip_grad_norm) when
    `clip` is given. Stops early if the loss, gradient or point stops being finite. `bar`, a
    tqdm bar, counts the iterations."""
    w = al.nn.Parameter(np.float64(start[0]), label="w")
    b = al.nn.Parameter(np.float64(start[1]), label="b")
    params = [w, b]
    opt = al.optim.SGD(params, lr=lr)
    run = Trajectory(clip, lr)
    for k in range(steps + 1):
        opt.zero_grad()
        loss = engine_losses(w, b, **model)
        loss.backward()
        norm = total_norm([p.grad for p in params])
        run.w.append(float(w.data))
        run.b.append(float(b.data))
        run.loss.append(loss.item())
        run.grad_norm.append(norm)
        if not (math.isfinite(norm) and math.isfinite(run.loss[-1])):
            run.stopped = f"the gradient is not finite at iteration {k}"
            break
        if k == steps:
            break
        if clip is not None:
            al.optim.clip_grad_norm(params, clip)
        before = np.array([w.data, b.data])
        with np.errstate(over="ignore", invalid="ignore"):  # (checked just below)
            opt.step()
        after = np.array([w.data, b.data])
        if not np.all(np.isfinite(after)):
            run.stopped = f"(w, b) left the float64 range at iteration {k + 1}"
            break
        run.step.append(float(np.hypot(*(after - before))))
        if bar is not None:
            bar.update(1)
    return run


@dataclass
class Sweep:
    """Unclipped descent from every start of an n × n grid: how many are thrown by the cliff."""

    starts: int
    threshold: float    # a step longer than this counts as thrown
    thrown: int         # starts whose descent takes at least one such step
    largest: float      # the longest step of all


def sweep(w_range, b_range, n: int, lr: float, steps: int, threshold: float, bar=None,
          **model) -> Sweep:
    """Plain gradient descent (the engine's gradient, unclipped) from each point of an n × n
    grid at once, each start on its own; counts the starts that take a step > `threshold`."""
    W, B = (a.ravel() for a in np.meshgrid(np.linspace(*w_range, n), np.linspace(*b_range, n)))
    longest = np.zeros(W.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            _, gw, gb = engine_gradient(W, B, **model)
            # (a start whose gradient is not finite has left the float64 range: it counts
            # as thrown, and stays where it was)
            g = np.where(np.isfinite(gw) & np.isfinite(gb), np.hypot(gw, gb), np.inf)
            longest = np.maximum(longest, lr * g)
            moving = np.isfinite(g)
            W = np.where(moving, W - lr * np.where(moving, gw, 0), W)
            B = np.where(moving, B - lr * np.where(moving, gb, 0), B)
            if bar is not None:
                bar.update(1)
    return Sweep(int(W.size), threshold, int(np.sum(longest > threshold)), float(longest.max()))


# -- the gradient check -----------------------------------------------------------------------

FD_ATOL, FD_RTOL = 1e-7, 1e-5  # |analytic − numeric| ≤ 1e-7 + 1e-5 |numeric| (TESTING.md)


@dataclass
class GradientCheck:
    """SymPy's closed form against the engine and against central differences."""

    points: int                # points compared with the engine
    max_rel_engine: float      # max |sympy − engine| / |engine| over components
    fd_points: int             # points where the loss is smooth enough for differences
    max_fd_ratio: float        # max |sympy − fd| / (1e-7 + 1e-5 |fd|): ≤ 1 passes
    largest_gradient: float    # the largest gradient norm among the points compared
    rtol_engine: float = 1e-10

    @property
    def ok(self) -> bool:
        return self.max_rel_engine <= self.rtol_engine and self.max_fd_ratio <= 1.0


def check_points(w_range, b_range, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2n points, reproducibly: n uniform in the box, and n within 1e-10 to 0.1 of the cliff
    (either side, 0.1 to 6 beyond the |w| where it starts, either sign of w), where the
    gradient is up to ~1e10."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 6.0, n) + cliff_threshold()
    w *= rng.choice([-1.0, 1.0], n)
    near = cliff_line(w) + rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-10, -1, n)
    return np.concatenate([rng.uniform(*w_range, n), w]), \
        np.concatenate([rng.uniform(*b_range, n), near])


def _rel(a, e) -> float:
    """Max relative difference of `a` from `e`, over every component (0 where both are 0)."""
    a, e = np.asarray(a), np.asarray(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(a == e, 0.0, np.abs(a - e) / np.abs(e))
    return float(np.max(r)) if r.size else 0.0


def gradient_check(w, b, eps: float = 1e-6, **model) -> GradientCheck:
    """Compare SymPy's gradient with the engine's at every point of the arrays w, b, and
    with central differences (step `eps`) where the loss is smooth at that scale: where
    differences at eps and eps / 2 agree to 1e-6 of the gradient (not near the cliff)."""
    w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    _, sw, sb = sympy_gradient(w, b, **model)
    _, ew, eb = engine_gradient(w, b, **model)
    finite = np.isfinite(sw) & np.isfinite(sb) & np.isfinite(ew) & np.isfinite(eb)
    engine_err = max(_rel(sw[finite], ew[finite]), _rel(sb[finite], eb[finite]))

    def central(h):
        return ((surface_loss(w + h, b, **model) - surface_loss(w - h, b, **model)) / (2 * h),
                (surface_loss(w, b + h, **model) - surface_loss(w, b - h, **model)) / (2 * h))

    fw, fb = central(eps)
    hw, hb = central(eps / 2)
    scale = np.hypot(fw, fb) + 1e-7
    smooth = finite & (np.hypot(fw - hw, fb - hb) <= 1e-6 * scale)
    ratio = np.maximum(np.abs(sw - fw) / (FD_ATOL + FD_RTOL * np.abs(fw)),
                       np.abs(sb - fb) / (FD_ATOL + FD_RTOL * np.abs(fb)))
    fd_ratio = float(np.max(ratio[smooth])) if smooth.any() else 0.0
    largest = float(np.max(np.hypot(ew, eb)[finite])) if finite.any() else 0.0
    return GradientCheck(int(finite.sum()), engine_err, int(smooth.sum()), fd_ratio, largest)


def frame(runs: list[Trajectory], margin: float = 0.35, least: float = 3.0):
    """((w0, w1), (b0, b1)): the box to draw the surface in. It holds the start and every
    clipped run, and the points of other runs that lie near them (a run thrown far away by
    the cliff is not followed there), with a margin; each side at least `least` long."""
    core = [r for r in runs if r.clip is not None] or runs
    w = np.concatenate([r.w for r in core])
    b = np.concatenate([r.b for r in core])
    lo, hi = np.array([w.min(), b.min()]), np.array([w.max(), b.max()])
    reach = np.maximum(hi - lo, least)
    for r in runs:
        pts = np.column_stack([r.w, r.b])
        near = np.all((pts >= lo - reach) & (pts <= hi + reach), axis=1)
        if near.any():
            lo, hi = np.minimum(lo, pts[near].min(axis=0)), np.maximum(hi, pts[near].max(axis=0))
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) * (0.5 + margin), least / 2)
    return (float(centre[0] - half[0]), float(centre[0] + half[0])), \
        (float(centre[1] - half[1]), float(centre[1] + half[1]))
