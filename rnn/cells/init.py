"""Initialisation schemes for the cells' parameters, by name: `uniform` (the default),
`orthogonal`, `identity` and `chrono`; `init_names()` lists them.

A scheme reads only the cell class's declarations (`PARAMS`, `IDENTITY`, `CHRONO`), so a new
cell gets every scheme that fits it without being listed anywhere. The weight layout is the
cells' (`rnn.cells.base`): a matrix of kind "hx" is (H + D, H), rows [:H] act on h_{t-1};
kind "h" is (H, H); these H x H blocks are what the schemes call recurrent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnn.errors import InitError

MIN_T_MAX = 3  # chrono draws from U[1, T_max - 1]: T_max = 2 would leave one value


@dataclass(frozen=True)
class Scheme:
    """One initialisation: `make(cls, H, D, rng, t_max)` -> {parameter name: array}."""

    name: str
    make: Callable
    misfit: Callable  # (cls) -> why the scheme does not fit the cell, or None
    needs_t_max: bool = False
    sets_forget_bias: bool = False  # True: `forget_bias` does not overwrite its b_f


_SCHEMES: dict[str, Scheme] = {}


def _scheme(name, misfit=lambda cls: None, **options):
    def register(make):
        _SCHEMES[name] = Scheme(name, make, misfit, **options)
        return make

    return register


def init_names() -> tuple[str, ...]:
    """Every initialisation scheme's name ("uniform" first: the default of most cells)."""
    return tuple(_SCHEMES)


def _shape(kind, H: int, D: int) -> tuple[int, ...]:
    return (H,) if kind is None else ({"hx": H + D, "x": D, "h": H}[kind], H)


def _recurrent(cls) -> list[str]:
    """The parameters with an H x H block acting on the previous hidden state."""
    return [name for name, kind in cls.PARAMS if kind in ("hx", "h")]


def _cell_words(cls) -> str:
    return f"the {cls.title} `{cls.name}`"


@_scheme("uniform")
def uniform(cls, H, D, rng, t_max=None) -> dict:
    """PyTorch's default for recurrent layers: every weight and bias from U(-1/sqrt(H),
    1/sqrt(H)), drawn in `PARAMS` order (the numbers rnn-lab has always drawn)."""
    bound = 1.0 / np.sqrt(H)
    return {name: rng.uniform(-bound, bound, _shape(kind, H, D)) for name, kind in cls.PARAMS}


def random_orthogonal(n: int, rng) -> np.ndarray:
    """An n x n orthogonal matrix drawn uniformly (Haar): QR of a Gaussian matrix, each column
    of Q multiplied by the sign of R's diagonal (Mezzadri 2007), or Q would be biased."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    signs = np.sign(np.diag(r))
    return q * np.where(signs == 0, 1.0, signs)


@_scheme("orthogonal", misfit=lambda cls: None if _recurrent(cls) else
         "it has no recurrent weight matrix")
def orthogonal(cls, H, D, rng, t_max=None) -> dict:
    """Saxe, McClelland & Ganguli 2014 ("Exact solutions to the nonlinear dynamics of learning
    in deep linear networks"): orthogonal recurrent weights keep every singular value of the
    linear part of a step at 1. The recurrent (h) rows of each gate's weight become their own
    random orthogonal H x H matrix; input rows, biases and other vectors as `uniform`."""
    values = uniform(cls, H, D, rng)
    for name in _recurrent(cls):
        values[name][:H] = random_orthogonal(H, rng)
    return values


@_scheme("identity", misfit=lambda cls: None if getattr(cls, "IDENTITY", None) else
         "it sets a plain RNN's one recurrent matrix to I (cells declare it with IDENTITY)")
def identity(cls, H, D, rng, t_max=None) -> dict:
    """Le, Jaitly & Hinton 2015 ("A Simple Way to Initialize Recurrent Networks of Rectified
    Linear Units"), the IRNN: the recurrent matrix is the identity and the biases are zero,
    so a ReLU unit starts by carrying its state unchanged; the input (non-recurrent) weights
    are drawn from N(0, 0.001^2), as in the paper's experiments (and in Keras's reproduction of
    its pixel-by-pixel MNIST run, `mnist_irnn.py`).
    `IDENTITY` names the weight; every vector parameter (the biases) is zero, any other
    matrix as `uniform`."""
    values = uniform(cls, H, D, rng)
    weight = values[cls.IDENTITY]
    weight[:H] = np.eye(H)
    weight[H:] = rng.normal(0.0, 0.001, weight[H:].shape)
    for name, kind in cls.PARAMS:
        if kind is None:  # the biases
            values[name] = np.zeros(H)
    return values


@_scheme("chrono", misfit=lambda cls: None if getattr(cls, "CHRONO", None) else
         "it has no forget gate", needs_t_max=True, sets_forget_bias=True)
def chrono(cls, H, D, rng, t_max=None) -> dict:
    """Tallec & Ollivier 2018 ("Can recurrent neural networks warp time?"): a gate's bias sets
    the unit's time constant, so spread the time constants over the dependencies expected,
    up to T_max: b_f = log(u) with u ~ U[1, T_max - 1] per unit, and b_i = -b_f. The keeping
    gate sigma(log u) = u / (1 + u) forgets after about 1 + u steps, from 2 to T_max.

    `CHRONO` maps each gate bias to its sign: +1 for a gate that keeps the state (the LSTM's
    b_f, the GRU's b_z), -1 for one that writes (the LSTM's b_i, the MGU's b_f). Every other
    parameter as `uniform`."""
    values = uniform(cls, H, D, rng)
    log_u = np.log(rng.uniform(1.0, t_max - 1.0, H))
    for name, sign in cls.CHRONO.items():
        values[name] = sign * log_u
    return values


def _check_t_max(scheme: str, t_max) -> None:
    if isinstance(t_max, (bool, np.bool_)) or not isinstance(
            t_max, (int, float, np.integer, np.floating)):
        given = "none was given" if t_max is None else f"got {t_max!r}"
        raise InitError(f"init {scheme} needs t_max, the longest dependency expected (a "
                        f"number >= {MIN_T_MAX}); {given}")
    if not (math.isfinite(t_max) and t_max >= MIN_T_MAX):
        raise InitError(f"init {scheme} needs t_max >= {MIN_T_MAX} (it draws from U[1, "
                        f"t_max - 1]), got {t_max!r}")


def check_scheme(cls, init, t_max=None) -> str:
    """The scheme `init` names for cell class `cls` (None: the cell's DEFAULT_INIT); InitError
    for an unknown name, a scheme that does not fit the cell, or chrono without a valid t_max.
    Other schemes ignore t_max."""
    name = cls.DEFAULT_INIT if init is None else init
    scheme = _SCHEMES.get(name) if isinstance(name, str) else None
    if scheme is None:
        raise InitError(f"unknown init {init!r}; choose one of {', '.join(init_names())}")
    why = scheme.misfit(cls)
    if why is not None:
        raise InitError(f"{name} does not fit {_cell_words(cls)}: {why}")
    if scheme.needs_t_max:
        _check_t_max(name, t_max)
    return name


def initial_values(cls, H: int, D: int, rng, init: str, t_max=None,
                   forget_bias=None) -> dict[str, np.ndarray]:
    """Each parameter's float64 values under scheme `init` (checked by `check_scheme`), then
    `forget_bias` written into the cell's FORGET_BIAS, unless the scheme sets that bias."""
    scheme = _SCHEMES[init]
    values = scheme.make(cls, H, D, rng, t_max)
    target = cls.FORGET_BIAS
    if forget_bias is not None and target in values and not scheme.sets_forget_bias:
        values[target] = np.full(values[target].shape, forget_bias)
    return values
