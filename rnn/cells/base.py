"""The cell base class and the registry: defining a subclass of `Cell` registers it by name.

A cell is one class: its `name`, its `PARAMS`, its `STATE` and its `forward`, one line per
equation with labelled nodes. Layers, the CLI, the SymPy derivation, the drawings and the
fused kernels all start from the registered class; nothing else lists the cells.

Weight layout (all cells): row-vector convention, as the engine works on batches of rows.
A gate's weight acts on the concatenation `hx = [h_{t-1}, x_t]` (B, H + D) from the right:
`a_t = hx @ W_f + b_f` with `W_f` of shape (H + D, H): rows `[:H]` act on h_{t-1}, rows `[H:]`
on x_t. In column-vector notation the papers' matrix is `W_f.T` (PyTorch's
`weight_hh`/`weight_ih` rows for that gate are `W_f[:H].T` and `W_f[H:].T`).
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np

from autograd_lite import nn
from autograd_lite.ops import Op, concat
from autograd_lite.tensor import ShapeError, Tensor, as_tensor
from rnn.cells.init import check_scheme, initial_values

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Parameter kinds: the rows of a matrix with H columns, or None for a vector of size H.
PARAM_KINDS = {"hx": "H + D rows, acting on [h_{t-1}, x_t]", "x": "D rows, acting on x_t",
               "h": "H rows, acting on a hidden-size vector", None: "a vector of size H"}
_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
_PARAM = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_REGISTRY: dict[str, type["Cell"]] = {}


class CellDefinitionError(TypeError):
    """A cell class that cannot be registered: it names the class and what is missing."""


def check_dtype(owner: str, dtype) -> np.dtype:
    """The dtype as np.dtype; only float32 and float64 are allowed."""
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    return dtype


def check_size(owner: str, name: str, value) -> int:
    """`value` as a positive int; floats that are not whole numbers, bools and < 1 raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float,
                                                                   np.floating)):
        raise TypeError(f"{owner}: {name} must be a positive integer, got {value!r}")
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def as_input(owner: str, x, dtype) -> Tensor:
    """A Tensor of `dtype`: arrays and lists are converted, Tensors must already match."""
    if isinstance(x, Tensor):
        if x.dtype != dtype:
            raise TypeError(
                f"{owner}: input {x.label or 'x'} has dtype {x.dtype}, the "
                f"parameters are {dtype} (convert with .astype({dtype}))"
            )
        return x
    return as_tensor(np.asarray(x, dtype=dtype))


def check_state(owner: str, name: str, state, shape: tuple, dtype) -> Tensor:
    """The state as a Tensor of exactly `shape` (zeros when None); never broadcast."""
    if state is None:
        return Tensor(np.zeros(shape, dtype=dtype), label=f"{name}_0")
    state = as_input(owner, state, dtype)
    if tuple(state.shape) != tuple(shape):
        axes = "(batch, hidden)" if len(shape) == 2 else "(num_layers, batch, hidden)"
        raise ShapeError(
            f"{owner}: state {name} has shape {tuple(state.shape)}, expected {tuple(shape)} {axes}"
        )
    return state


def state_parts(owner: str, names: tuple, state, hidden_size: int, kind: str) -> list:
    """A cell's `state` argument as one entry per name in `names` (None: zeros to come).

    One state is passed bare (`h`), several as a tuple or list (`(h, c)`); anything else is
    a TypeError naming `owner` and the expected tuple of (batch, hidden) `kind`."""
    if state is None:
        return [None] * len(names)
    if len(names) == 1:
        return [state]
    if isinstance(state, (tuple, list)) and len(state) == len(names):
        return list(state)
    raise TypeError(f"{owner}: state is a tuple ({', '.join(names)}) of (batch, "
                    f"{hidden_size}) {kind}, got {type(state).__name__}")


def cat_hx(h_prev: Tensor, x: Tensor) -> Tensor:
    """The concatenation [h_{t-1}, x_t] that most gates read."""
    return named(concat([h_prev, x], axis=1), "[h_{t-1}, x_t]")


def named(t: Tensor, label: str) -> Tensor:
    """`t` with its graph label set (labels name the nodes in graphs and derivations)."""
    t.label = label
    return t


class Cell(nn.Module):
    """Base class of the recurrent cells. A subclass is registered under its `name`.

    A subclass defines:
      name    registry key, lower case (`"lstm"`): `make_layer(name)`, `--cell name`, ...
      title   a human title for derivations and figures (default: the class name)
      PARAMS  ((name, kind), ...): kind "hx" (H + D, H), "x" (D, H), "h" (H, H) or None (H,)
      STATE   names of the state tensors, "h" first; ("h",) or ("h", "c")
      forward(x, state) one labelled line per equation; returns h, or the tuple of STATE
      kernel  optional fused op (`rnn.kernels`); used only by the class that declares it,
              never inherited by a subclass that may compute something else
      SYMBOLS optional {node label: symbol name} for the SymPy derivation's notation
      FORGET_BIAS the bias set to `forget_bias` at init ("b_f"; None: no such gate)
      DEFAULT_INIT the initialisation when none is asked for ("uniform"; `rnn.cells.init`)
      CHRONO  {gate bias: sign} that the chrono init sets: +1 for a gate that keeps the
              state, -1 for one that writes (empty: chrono does not fit the cell)
      IDENTITY the weight whose recurrent rows the identity init sets to I (None: does not fit)
    """

    name: ClassVar[str]
    title: ClassVar[str]
    PARAMS: ClassVar[tuple] = ()
    STATE: ClassVar[tuple] = ("h",)
    SYMBOLS: ClassVar[dict] = {}
    FORGET_BIAS: ClassVar[str | None] = "b_f"  # the bias that `forget_bias` initialises
    DEFAULT_INIT: ClassVar[str] = "uniform"
    CHRONO: ClassVar[dict] = {}
    IDENTITY: ClassVar[str | None] = None

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        _validate(cls)
        old = _REGISTRY.get(cls.name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__,
                                                                     cls.__qualname__):
            raise CellDefinitionError(
                f"cell class {cls.__qualname__}: the name {cls.name!r} is already taken by "
                f"{old.__module__}.{old.__qualname__}; choose another name"
            )
        _REGISTRY[cls.name] = cls  # (the same class defined again, e.g. a re-run notebook)

    @classmethod
    def fused_kernel(cls) -> Op | None:
        """The fused op this very class declares (None: it trains on the primitive graph)."""
        return cls.__dict__.get("kernel")

    def fused_op(self) -> Op | None:
        """The fused op that computes this very cell: its class's kernel (a cell whose options
        change its equations, such as RNNCell's nonlinearity, picks the matching one)."""
        return type(self).fused_kernel()

    def __init__(self, input_size, hidden_size, dtype=np.float64, forget_bias=1.0, rng=None,
                 init=None, t_max=None):
        """`init` names the initialisation (`rnn.cells.init`; None: the cell's DEFAULT_INIT),
        `t_max` is chrono's longest expected dependency; `forget_bias` (None: keep the init's
        value) is written into FORGET_BIAS after the init, except under chrono, which sets the
        forget gate's bias itself. `rng` is a seed or a Generator: the same rng, the same
        numbers."""
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.dtype = check_dtype(owner, dtype)
        self.forget_bias = forget_bias
        self.init = check_scheme(type(self), init, t_max)
        self.t_max = t_max
        values = initial_values(type(self), self.hidden_size, self.input_size,
                                np.random.default_rng(rng), self.init, t_max, forget_bias)
        for name, _ in self.PARAMS:
            setattr(self, name, nn.Parameter(values[name], label=name, dtype=self.dtype))

    def parameter_list(self) -> list[nn.Parameter]:
        """The parameters in `PARAMS` order (the order the fused ops take them)."""
        return [getattr(self, name) for name, _ in self.PARAMS]

    def weights(self) -> dict[str, np.ndarray]:
        """Each parameter by its name (`W_f`, `b_f`, ...) as a NumPy copy, in the documented
        layout: matrices (rows, H) applied from the right (`hx @ W_f`), vectors (H,)."""
        return {name: np.array(getattr(self, name).data) for name, _ in self.PARAMS}

    def load_weights(self, weights: dict) -> None:
        """Set parameters from a `weights()`-style dict (same names, shapes)."""
        for name, _ in self.PARAMS:
            getattr(self, name).assign(weights[name])

    def _input(self, x) -> Tensor:
        owner = type(self).__name__
        x = as_input(owner, x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(
                f"{owner}: input x has shape {tuple(x.shape)}, expected (batch, {self.input_size})"
            )
        return x

    def states(self, x, state) -> tuple[Tensor, ...]:
        """The previous states as (B, H) Tensors in `STATE` order (zeros where None).

        One state is passed bare (`h`), several as a tuple (`(h, c)`)."""
        owner, names = type(self).__name__, self.STATE
        parts = state_parts(owner, names, state, self.hidden_size, "arrays")
        shape = (x.shape[0], self.hidden_size)
        return tuple(check_state(owner, n, s, shape, self.dtype) for n, s in zip(names, parts))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, dtype={self.dtype})"
        )


def _validate(cls) -> None:
    """Raise CellDefinitionError unless `cls` defines everything a registered cell needs."""
    where = f"cell class {cls.__qualname__}"
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CellDefinitionError(
            f"{where}: needs `name = \"...\"` in its class body, a lower-case registry key "
            f"such as \"lstm\" (got {name!r})"
        )
    if "title" not in cls.__dict__:
        cls.title = cls.__name__
    params = cls.PARAMS
    if not isinstance(params, tuple) or not params:
        raise CellDefinitionError(f"{where}: PARAMS must be a non-empty tuple of (name, kind)")
    seen = set()
    for entry in params:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
                and _PARAM.match(entry[0])):
            raise CellDefinitionError(f"{where}: PARAMS entry {entry!r} is not (name, kind)")
        pname, kind = entry
        if kind not in PARAM_KINDS:
            kinds = ", ".join(repr(k) for k in PARAM_KINDS)
            raise CellDefinitionError(
                f"{where}: parameter {pname!r} has unknown kind {kind!r}; kinds are {kinds}")
        if pname in seen:
            raise CellDefinitionError(f"{where}: parameter {pname!r} is listed twice")
        seen.add(pname)
    state = cls.STATE
    if not (isinstance(state, tuple) and state and state[0] == "h"
            and all(isinstance(s, str) and _PARAM.match(s) for s in state)):
        raise CellDefinitionError(f"{where}: STATE must be a tuple of names starting with "
                                  f"'h', got {state!r}")
    if cls.forward is nn.Module.forward:
        raise CellDefinitionError(f"{where}: defines no forward(self, x, state=None)")
    kernel = cls.__dict__.get("kernel")
    if kernel is not None and not isinstance(kernel, Op):
        raise CellDefinitionError(f"{where}: kernel must be an engine Op (defop), got "
                                  f"{type(kernel).__name__}")


def cell_class(name) -> type[Cell]:
    """The registered cell class for `name` (a registry key or a Cell subclass)."""
    if isinstance(name, type) and issubclass(name, Cell):
        return name
    try:
        return _REGISTRY[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose one of {', '.join(cell_names())}") \
            from None


def check_init(cell, init, t_max=None) -> str:
    """The initialisation `init` resolves to for `cell` (a registered name or a Cell class;
    init None: the cell's default). Raises `rnn.errors.InitError` (a ValueError) for an
    unknown init, one that does not fit the cell, or chrono without a t_max >= 3."""
    return check_scheme(cell_class(cell), init, t_max)


def cell_names() -> tuple[str, ...]:
    """Every registered cell name, in registration order."""
    return tuple(_REGISTRY)


def unregister(name: str) -> None:
    """Remove a cell from the registry (for throwaway cells in tests and notebooks)."""
    _REGISTRY.pop(name, None)
