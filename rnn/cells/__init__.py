"""Recurrent cells written as graphs of primitives: one line per equation, every node labelled.

Every module in this package defines cells; importing the package imports them all, and
defining a `Cell` subclass (here or in your own code) registers it by its `name`. See
`rnn.cells.base` for the base class and the weight layout.
"""

from __future__ import annotations

import importlib
import pkgutil

from rnn.cells.base import (
    DTYPES,
    Cell,
    CellDefinitionError,
    as_input,
    cat_hx,
    cell_class,
    cell_names,
    check_dtype,
    check_init,
    check_size,
    check_state,
    named,
    unregister,
)
from rnn.cells.init import init_names

# The classic cells lead every list; any other module here is found and imported after.
_FIRST = ("rnn", "lstm", "gru", "peephole")
for _module in (*_FIRST, *sorted({m.name for m in pkgutil.iter_modules(__path__)}
                                 - {"base", "init", *_FIRST})):
    importlib.import_module(f"{__name__}.{_module}")

# Each registered class by its class name too: `from rnn.cells import LSTMCell`.
globals().update({cell_class(n).__name__: cell_class(n) for n in cell_names()})

__all__ = ["DTYPES", "Cell", "CellDefinitionError", "as_input", "cat_hx", "cell_class",
           "cell_names", "check_dtype", "check_init", "check_size", "check_state", "init_names",
           "named", "unregister", *(cell_class(n).__name__ for n in cell_names())]
