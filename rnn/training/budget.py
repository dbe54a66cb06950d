"""A run's memory, estimated from its config before anything is allocated, so that sizes
beyond the machine are refused with the estimate and the limit (rnn.resources) instead of
ending in a MemoryError or swapping for minutes.

The estimate adds the parameters (with their gradients, the optimizer's state and a copy while
a checkpoint is saved), the activations one training step keeps for backward over T steps and
B sequences (and their gradients), the task's data and validation set. It errs on the high
side; a run that fits its estimate fits the machine.
"""

from __future__ import annotations

from rnn import tasks
from rnn.cells import cell_class
from rnn.data import TEXT_BYTES_PER_CHAR
from rnn.resources import check_memory
from rnn.training.config import DTYPES, TrainConfig

_INPUTS = {"adding": 2, "copy": tasks.COPY_VOCAB, "reber": len(tasks.REBER_SYMBOLS)}
_REBER_LENGTH = 40  # generous: embedded Reber strings are rarely longer


def parameter_count(cell: str, input_size: int, hidden: int) -> tuple[int, int]:
    """(parameters, weight matrices) of one layer of `cell`."""
    rows = {"hx": hidden + input_size, "x": input_size, "h": hidden, None: 1}
    params = cell_class(cell).PARAMS
    count = sum(rows[kind] * hidden for _, kind in params)
    return count, sum(kind is not None for _, kind in params)


def estimate(config: TrainConfig, vocab_size: int | None = None, text_chars: int = 0,
             batch: int | None = None, seq_len: int | None = None) -> dict[str, int]:
    """Bytes by part ("parameters", "activations", "data") of a run of `config`;
    `batch`/`seq_len` override the config's (sampling runs B = T = 1)."""
    item = DTYPES[config.dtype]().itemsize
    H, L, E = config.hidden, config.layers, config.embedding
    V = vocab_size or _INPUTS.get(config.task, 1)
    B = config.batch if batch is None else batch
    T = config.seq_len if seq_len is None else seq_len
    if config.task == "copy":
        T = T + 20  # the delay, then ten symbols in and ten out
    elif config.task == "reber":
        T = _REBER_LENGTH
    D = E or V
    params, per_step = 0, 0
    for layer in range(L):
        size = D if layer == 0 else H
        count, matrices = parameter_count(config.cell, size, H)
        params += count
        # each gate's product, sum and activation, the state updates, and [h, x]
        per_step += (3 * matrices + 8) * B * H + B * (H + size)
    out = 1 if config.task == "adding" else V
    params += H * out + out + V * E
    optimizer_states = 2 if config.optimizer == "adam" else (1 if config.momentum else 0)
    # parameters, gradients, optimizer state, and the copies a checkpoint save makes
    parameters = params * (2 + 2 * optimizer_states + 1) * item
    # forward values kept for backward and their gradients; inputs and logits at every step
    outputs = T * B * out * 4 if config.task != "adding" else B * 4
    activations = 2 * (T * per_step + T * B * D + outputs) * item
    val = 0 if batch is not None else config.val_size
    data = 0
    if config.task == "adding":
        data = (val + 2 * B) * T * 3 * item + min(val, 256) * T * H * L * 4 * item
    elif config.task in ("copy", "reber"):
        data = (val + 2 * B) * T * 2 * 8 + min(val, 256) * T * (H * L + V) * 4 * item
    elif config.task == "text":
        data = text_chars * TEXT_BYTES_PER_CHAR + 8 * T * (H * L + V) * 4 * item
    return {"parameters": parameters, "activations": activations, "data": data}


def check_budget(config: TrainConfig, vocab_size: int | None = None, text_chars: int = 0,
                 batch: int | None = None, seq_len: int | None = None,
                 what: str | None = None) -> int:
    """The estimated bytes of a run of `config`; ResourceError (with the estimate, its parts
    and the limit) when they exceed the memory limit."""
    parts = estimate(config, vocab_size, text_chars, batch, seq_len)
    total = sum(parts.values())
    largest = max(parts, key=parts.get)
    what = what or (f"a run of {config.cell} with --hidden {config.hidden}, --layers "
                    f"{config.layers}, --batch {config.batch}, --seq-len {config.seq_len}")
    check_memory(total, f"{what} (mostly {largest})")
    return total
