"""The on-disk cache of finished runs: one JSON file per run, `<folder>/<key>.json`, written
whole (rnn.io) the moment the run finishes, so an interrupted sweep keeps every finished run.

An entry is used only if it is exactly the record of the run asked for: valid JSON, the
current format, the same key and spec, every field present with its type, every number
finite, and its success and baseline flags what its metric says. Anything else is reported
in one line and the run is trained again; the new record replaces the entry.

A record's fields: format, key, spec; metric and test_loss (None if not finite), success,
test_baseline (the trivial strategy's metric on the same test sequences), worse_than_baseline
(the metric no lower than test_baseline), steps_to_success (the first validation step that
met the criterion, or None), diverged_at (None, or the step whose loss or gradient stopped
being finite);
val_step, val_loss, val_metric (the validation curve), train_loss (every step); seconds,
cpu_seconds (the run's CPU time, steadier than the wall time on a shared machine), rnn_lab,
numpy, python (versions), finished (UTC time); with gradients measured (long-term),
grad_init, grad_trained and params (the trained model's arrays as nested lists).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from rnn.data import DataError, read_text
from rnn.io import output_folder, write_text
from rnn.sweep.runs import RUN_FORMAT, RunSpec
from rnn.sweep.tasks import sweep_task


ENTRY_LIMIT = 256 << 20  # bytes: far above any record (a gradient run's parameters included)


class BadEntry(ValueError):
    """Why a cache entry cannot be trusted."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numbers(value, allow_none=False) -> bool:
    return isinstance(value, list) and all(
        _number(v) or (allow_none and v is None) for v in value)


# field -> (test, what it must be)
FIELDS = {
    "metric": (lambda v: v is None or _number(v), "a finite number or null"),
    "test_loss": (lambda v: v is None or _number(v), "a finite number or null"),
    "success": (lambda v: isinstance(v, bool), "true or false"),
    "test_baseline": (_number, "a finite number"),
    "worse_than_baseline": (lambda v: isinstance(v, bool), "true or false"),
    "steps_to_success": (lambda v: v is None or _whole(v), "a whole number or null"),
    "diverged_at": (lambda v: v is None or _whole(v), "a whole number or null"),
    "val_step": (lambda v: isinstance(v, list) and all(map(_whole, v)), "whole numbers"),
    "val_loss": (lambda v: _numbers(v, True), "finite numbers"),
    "val_metric": (lambda v: _numbers(v, True), "finite numbers"),
    "train_loss": (_numbers, "finite numbers"),
    "seconds": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "cpu_seconds": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "rnn_lab": (lambda v: isinstance(v, str), "text"),
    "numpy": (lambda v: isinstance(v, str), "text"),
    "python": (lambda v: isinstance(v, str), "text"),
    "finished": (lambda v: isinstance(v, str), "text"),
}
GRADIENT_FIELDS = {
    "grad_init": (_numbers, "finite numbers"),
    "grad_trained": (_numbers, "finite numbers"),
    "params": (lambda v: isinstance(v, dict) and all(_finite_array(a) for a in v.values()),
               "arrays of finite numbers"),
}


def _finite_array(value) -> bool:
    if not isinstance(value, list):
        return False
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):  # ragged or not numbers
        return False
    return bool(np.isfinite(array).all())


def _no_constants(name):
    raise ValueError(f"{name} is not a finite number")


def check_record(record, spec: RunSpec) -> dict:
    """`record` if it is the valid record of `spec`; BadEntry saying why otherwise."""
    if not isinstance(record, dict):
        raise BadEntry("not a JSON object")
    if record.get("format") != RUN_FORMAT:
        raise BadEntry(f"format {record.get('format')!r}, expected {RUN_FORMAT}")
    if record.get("key") != spec.key:
        raise BadEntry(f"holds run {record.get('key')!r}, not {spec.key}")
    if record.get("spec") != spec.to_dict():
        raise BadEntry("its spec is not the run's")
    fields = dict(FIELDS, **(GRADIENT_FIELDS if spec.grad_batch else {}))
    for name, (test, what) in fields.items():
        if name not in record:
            raise BadEntry(f"no field {name!r}")
        if not test(record[name]):
            raise BadEntry(f"field {name!r} is not {what}")
    n = len(record["val_step"])
    if len(record["val_loss"]) != n or len(record["val_metric"]) != n:
        raise BadEntry("validation curves of different lengths")
    criterion = sweep_task(spec.task).criterion(spec.T)
    if record["success"] != criterion.success(record["metric"]) or \
            record["worse_than_baseline"] != criterion.worse_than_baseline(
                record["metric"], record["test_baseline"]):
        raise BadEntry("its success or baseline flag disagrees with its metric")
    return record


class RunCache:
    """The cache folder (made if missing, inside a folder that exists); `log` gets one line
    per entry that cannot be trusted."""

    def __init__(self, folder, log=print):
        self.folder = output_folder(folder, "cache folder")
        self.log = log

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, spec: RunSpec) -> dict | None:
        """The cached record of `spec`, or None (missing, or reported and not trusted)."""
        path = self.path(spec.key)
        if not os.path.lexists(path):
            return None
        try:  # a pipe or a device in its place is refused, not waited on
            text = read_text(path, limit=ENTRY_LIMIT)
        except DataError as exc:
            self._distrust(path, str(exc).removeprefix(f"{os.fspath(path)}: "))
            return None
        try:
            return check_record(json.loads(text, parse_constant=_no_constants), spec)
        except BadEntry as exc:
            self._distrust(path, str(exc))
        except ValueError as exc:  # json.JSONDecodeError is one
            self._distrust(path, f"not valid JSON ({str(exc).splitlines()[0]})")
        return None

    def _distrust(self, path, why):
        self.log(f"cache: {os.fspath(path)}: {why}; training the run again")

    def store(self, record: dict) -> Path:
        """Write `record` whole as its key's entry."""
        return write_text(self.path(record["key"]), json.dumps(record, allow_nan=False),
                          "cache entry")
