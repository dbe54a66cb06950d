"""rnn-lab on PyTorch: every registered cell as a torch module, and the training job on
torch (one process, or DistributedDataParallel over several). PyTorch is optional.

This package file never imports torch; `require_torch` does, with the one-line install hint.
The modules below it import torch at their top through it (see `rnn.torch_engine.backend`,
`cells`, `models`, `trainer`, `launch`), so import them only once torch is known to be there.
"""

from __future__ import annotations

from rnn.errors import UserError

INSTALL = "pip install 'rnn-lab[torch]'"


class TorchMissing(UserError, ImportError):
    """PyTorch is not installed; the message says how to install it, in one line."""


def require_torch(what: str = "this"):
    """The `torch` module; TorchMissing (one line, with the install command) without it."""
    try:
        import torch
    except ImportError:
        raise TorchMissing(f"{what} needs PyTorch, which is not installed: {INSTALL}") from None
    return torch
