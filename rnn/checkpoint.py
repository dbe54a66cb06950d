"""Training checkpoints: one `.npz` of plain arrays, written atomically (rnn.io), never pickled.

JSON parts (config, vocabulary, RNG state, metadata) are stored as uint8 arrays of UTF-8
bytes. The metadata names the kind of model (KINDS): a run of `rnn-lab train` or a model the
born-in experiment trained. Loading reads every member with `allow_pickle=False` after
checking its header, so a file carrying an object (pickle) array is refused before any of it
is unpickled; and before any member is read, the zip directory is checked: no name twice, and
the sizes it declares must fit the memory limit and the file's own size (rnn-lab stores
members uncompressed).
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field

import numpy as np

from rnn.errors import OutputError, UserError
from rnn.io import output_target, reason, replacing
from rnn.resources import format_size, limit_source, memory_limit

FORMAT = "rnn-lab-checkpoint"
VERSION = 1
_JSON_KEYS = ("meta", "config", "vocab", "rng")
_GROUPS = ("param", "optim", "history", "carry")
MAX_EXPANSION = 100  # declared size / stored size of a member: np.savez stores them as is
# What a checkpoint can hold, and how messages name it; a file without a kind is a training run.
KINDS = {"train": "a checkpoint of rnn-lab train",
         "born-in": "a model of rnn-lab experiment born-in"}


class CheckpointError(UserError):
    """A checkpoint that cannot be written or read; the message names the path."""


@dataclass
class Checkpoint:
    """Everything needed to resume training or to sample."""

    config: dict
    params: dict[str, np.ndarray]
    step: int = 0
    optim: dict[str, np.ndarray] = field(default_factory=dict)
    rng_state: dict | None = None
    history: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: list[str] | None = None
    carry: list[np.ndarray] = field(default_factory=list)  # state carried between batches
    path: str | None = None
    kind: str = "train"  # a key of KINDS


# ------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------


def _json_array(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def to_arrays(ckpt: Checkpoint) -> dict[str, np.ndarray]:
    """The flat name -> array mapping stored in the `.npz`."""
    if ckpt.kind not in KINDS:
        raise ValueError(f"checkpoint: unknown kind {ckpt.kind!r}; one of {', '.join(KINDS)}")
    meta = {"format": FORMAT, "version": VERSION, "step": int(ckpt.step),
            "carry": len(ckpt.carry), "kind": ckpt.kind}
    arrays = {"meta": _json_array(meta), "config": _json_array(ckpt.config),
              "vocab": _json_array(ckpt.vocab), "rng": _json_array(ckpt.rng_state)}
    groups = {"param": ckpt.params, "optim": ckpt.optim, "history": ckpt.history,
              "carry": {str(k): a for k, a in enumerate(ckpt.carry)}}
    for group, values in groups.items():
        for name, value in values.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f"checkpoint: {group}/{name} is an object array")
            arrays[f"{group}/{name}"] = array
    return arrays


def check_writable(path, what: str = "checkpoint") -> None:
    """Fail early (CheckpointError) if a checkpoint cannot be saved at `path` (see rnn.io)."""
    try:
        output_target(path, what)
    except OutputError as exc:
        raise CheckpointError(str(exc)) from None


def save_checkpoint(path, ckpt: Checkpoint) -> str:
    """Write `ckpt` to `path` atomically (rnn.io's rule) and return the path.

    If anything fails (even Ctrl-C) an existing file at `path` is left as it was and no
    temporary file remains.
    """
    path = os.fspath(path)
    arrays = to_arrays(ckpt)
    try:
        with replacing(path, "checkpoint") as tmp, open(tmp, "xb") as f:
            np.savez(f, allow_pickle=False, **arrays)
    except OutputError as exc:
        raise CheckpointError(str(exc)) from None
    return path


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> np.ndarray:
    """One `.npy` member, its header checked before any data is read."""
    name = info.filename[:-4]
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise CheckpointError(f"{path}: member {name!r} has an unknown .npy version")
        if dtype.hasobject:
            raise CheckpointError(f"{path}: member {name!r} is an object (pickle) array; "
                                  f"refusing to load it (checkpoints never hold pickles)")
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise CheckpointError(f"{path}: member {name!r} claims shape {shape} but holds "
                                  f"only {info.file_size} bytes (truncated or corrupt)")
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _check_directory(zf: zipfile.ZipFile, path: str, file_size: int) -> None:
    """Refuse, before reading any member, a zip whose directory names a member twice or
    declares more bytes than the memory limit, or than its stored bytes could hold."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CheckpointError(f"{path}: member {twice[0]!r} appears more than once; not a "
                              f"checkpoint rnn-lab wrote (refusing to guess which one counts)")
    declared = sum(info.file_size for info in infos)
    limit = memory_limit()
    if declared > limit:
        raise CheckpointError(f"{path}: unpacks to {format_size(declared)}, more than the "
                              f"memory limit of {format_size(limit)} ({limit_source()})")
    for info in infos:
        if info.file_size > MAX_EXPANSION * max(info.compress_size, 1024):
            raise CheckpointError(
                f"{path}: member {info.filename!r} would expand from "
                f"{format_size(info.compress_size)} to {format_size(info.file_size)}; "
                f"rnn-lab checkpoints are stored uncompressed (a zip bomb?)")
    if declared > 2 * file_size + 2**20 and all(i.compress_type == zipfile.ZIP_STORED
                                                 for i in infos):
        raise CheckpointError(f"{path}: declares {format_size(declared)} of data in a file "
                              f"of {format_size(file_size)} (truncated or corrupt)")


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {reason(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path}: not a regular file (a pipe or device?); give a "
                              f"checkpoint file")
    if st.st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint is empty (0 bytes)")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_directory(zf, path, st.st_size)
            arrays = {}
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise CheckpointError(f"{path}: unexpected member {info.filename!r}; "
                                          f"not an rnn-lab checkpoint")
                arrays[info.filename[:-4]] = _read_member(zf, info, path)
            return arrays
    except CheckpointError:
        raise
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path}: not a valid .npz checkpoint (truncated or corrupt: "
                              f"{exc})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {reason(exc)}") from None
    except Exception as exc:  # any failure to decode the bytes means a corrupt file
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}: "
                              f"{exc})") from None


def _json_member(arrays, key, path):
    if key not in arrays:
        raise CheckpointError(f"{path}: missing '{key}'; not an rnn-lab checkpoint")
    a = arrays[key]
    if a.dtype != np.uint8 or a.ndim != 1:
        raise CheckpointError(f"{path}: '{key}' must be a uint8 array of JSON bytes, got "
                              f"{a.dtype} with shape {a.shape}")
    try:
        return json.loads(a.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: '{key}' is not valid JSON ({exc})") from None


def _check_vocab(vocab, kind: str, path):
    """A training run's vocabulary is sorted distinct characters; another model's tokens are
    distinct words (any order: the model's ids)."""
    if vocab is None:
        return None
    if not (isinstance(vocab, list) and vocab and all(isinstance(c, str) and c for c in vocab)
            and len(set(vocab)) == len(vocab)):
        raise CheckpointError(f"{path}: the vocabulary must be a list of distinct, non-empty "
                              f"tokens")
    if kind == "train" and not (all(len(c) == 1 for c in vocab) and vocab == sorted(vocab)):
        raise CheckpointError(f"{path}: the vocabulary must be a sorted list of distinct "
                              f"characters")
    return vocab


def check_kind(ckpt: Checkpoint, kind: str, hint: str = "") -> None:
    """CheckpointError unless `ckpt` holds the `kind` of model asked for; `hint` says what
    reads the kind it does hold."""
    if ckpt.kind != kind:
        raise CheckpointError(f"{ckpt.path}: {KINDS[ckpt.kind]}, not {KINDS[kind]}"
                              + (f"; {hint}" if hint else ""))


def _check_rng_state(state, path):
    if state is None:
        return
    try:
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("expected a PCG64 state")
        np.random.PCG64().state = state
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CheckpointError(f"{path}: invalid RNG state ({exc})") from None


def load_checkpoint(path) -> Checkpoint:
    """Read and structurally validate a checkpoint; any defect raises CheckpointError."""
    path = os.fspath(path)
    arrays = _read_arrays(path)
    meta = _json_member(arrays, "meta", path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an rnn-lab checkpoint (format {meta!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('version')!r} is not "
                              f"supported (this rnn-lab reads version {VERSION})")
    step = meta.get("step")
    if not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: invalid step {step!r}")
    config = _json_member(arrays, "config", path)
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the config must be a JSON object")
    kind = meta.get("kind", "train")
    if not isinstance(kind, str) or kind not in KINDS:
        raise CheckpointError(f"{path}: a checkpoint of kind {kind!r}, which this rnn-lab does "
                              f"not know (it reads {', '.join(KINDS)})")
    vocab = _check_vocab(_json_member(arrays, "vocab", path), kind, path)
    rng_state = _json_member(arrays, "rng", path)
    _check_rng_state(rng_state, path)

    groups = {g: {} for g in _GROUPS}
    for key, array in arrays.items():
        if key in _JSON_KEYS:
            continue
        group, _, name = key.partition("/")
        if group not in groups or not name:
            raise CheckpointError(f"{path}: unexpected entry {key!r}")
        if array.dtype.kind not in "fiub":
            raise CheckpointError(f"{path}: {key} has dtype {array.dtype}; expected numbers")
        groups[group][name] = array
    if not groups["param"]:
        raise CheckpointError(f"{path}: the checkpoint holds no parameters")
    for name, array in groups["history"].items():
        if array.ndim != 1:
            raise CheckpointError(f"{path}: history/{name} must be 1-D, got {array.shape}")
    n_carry = meta.get("carry", 0)
    carry = []
    for k in range(n_carry if isinstance(n_carry, int) else 0):
        if str(k) not in groups["carry"]:
            raise CheckpointError(f"{path}: missing carry/{k}")
        carry.append(groups["carry"][str(k)])
    if len(carry) != len(groups["carry"]):
        raise CheckpointError(f"{path}: carried state does not match its metadata")
    return Checkpoint(config=config, params=groups["param"], step=step,
                      optim=groups["optim"], rng_state=rng_state, history=groups["history"],
                      vocab=vocab, carry=carry, path=path, kind=kind)


def check_arrays(path, what: str, got: dict, expected: dict) -> None:
    """Names, shapes and dtypes of `got` must match `expected` exactly (CheckpointError)."""
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing:
        raise CheckpointError(f"{path}: missing {what} {', '.join(missing)} (does the "
                              f"checkpoint belong to this model?)")
    if unexpected:
        raise CheckpointError(f"{path}: unexpected {what} {', '.join(unexpected)}")
    for name, ref in expected.items():
        a, ref = got[name], np.asarray(ref)
        if a.shape != ref.shape:
            raise CheckpointError(f"{path}: {what} {name} has shape {a.shape}; the config "
                                  f"needs {ref.shape}")
        if a.dtype != ref.dtype:
            raise CheckpointError(f"{path}: {what} {name} has dtype {a.dtype}; the config "
                                  f"needs {ref.dtype}")


def check_finite(path, arrays: dict) -> None:
    """CheckpointError naming the first array that holds NaN or inf (a diverged run)."""
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise CheckpointError(f"{path}: parameter {name} holds NaN or inf values (the run "
                                  f"diverged before it was saved); train again with a lower "
                                  f"--lr or --clip")
