"""A sweep's configuration: what to train (tasks, cells, initialisations, T values, hidden
sizes, seeds), the learning-rate grid and the budget. It comes from a preset (a TOML file in
rnn/sweep/presets), then a user's TOML file, then flags, each overriding the one before.

Every value is checked before any run starts: unknown keys, wrong types, unknown cells, inits
or tasks, an init that does not fit a cell, a T too small for its task and sizes beyond the
memory limit are each one `UsageError` (or `ResourceError`) naming the key and where it came
from. `T` and `steps` may be one value for every task or a table by task.
"""

from __future__ import annotations

import difflib
from collections import Counter
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rnn.cells import cell_names, check_init, init_names
from rnn.cells.init import MIN_T_MAX
from rnn.data import read_text
from rnn.errors import InitError, UsageError
from rnn.sweep.runs import RunSpec
from rnn.sweep.tasks import TASKS
from rnn.training import TrainConfig
from rnn.training.budget import check_budget

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
QUICK = {"default": "quick", "long-term": "long-term-quick"}  # what --quick turns a preset to
MAX_SEED = 2**63 - 1
MIN_LRS = 3  # a fair baseline: every setting chooses among at least this many rates
DEFAULT_INIT = "default"  # in `inits`: each cell's own default (identity for the IRNN)
# The flag that sets each key, for error messages (the others are --key-with-dashes)
FLAGS = {"first_seed": "--seed", "T": "--T"}


def preset_names() -> tuple[str, ...]:
    """Every preset, by the name of its file in rnn/sweep/presets."""
    return tuple(sorted(p.stem for p in PRESETS_DIR.glob("*.toml")))


@dataclass(frozen=True)
class SweepConfig:
    """A whole sweep. `inits` maps each cell to its initialisations (resolved: "default" is
    the cell's own), `T` each task that takes one to its T values (the delay for copy),
    `steps` each task to its training steps; `seeds` runs per setting from `first_seed`;
    `gradients` measures gradient norms on the adding runs at its longest T (long-term)."""

    tasks: tuple
    cells: tuple
    inits: tuple
    T: dict
    hidden: tuple
    seeds: int
    first_seed: int
    lrs: tuple
    steps: dict
    batch: int
    optimizer: str
    clip: float
    val_size: int
    test_size: int
    val_every: int
    gradients: bool = False
    grad_batch: int = 64

    def inits_text(self) -> str:
        """The initialisations in words: the most common, then the cells that differ
        ("uniform; irnn identity")."""
        common = Counter(self.inits.values()).most_common(1)[0][0]
        return "; ".join([", ".join(common)] + [f"{c} {', '.join(v)}" for c, v in
                                                self.inits.items() if v != common])

    def to_dict(self) -> dict:
        """JSON-ready: tuples as lists."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
            elif isinstance(value, dict):
                out[key] = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
        return out

    @property
    def grad_lag(self) -> int:
        """The T at which gradient norms are measured (the longest adding T), or 0."""
        return max(self.T["adding"]) if self.gradients else 0

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def settings(self) -> list[tuple]:
        """Every (task, cell, init, T, hidden), in table order."""
        return [(task, cell, init, T, hidden)
                for task in self.tasks for T in self.T.get(task, (None,))
                for hidden in self.hidden for cell in self.cells for init in self.inits[cell]]

    def spec(self, setting: tuple, lr: float, seed: int) -> RunSpec:
        """The run of `setting` at learning rate `lr` and `seed`."""
        task, cell, init, T, hidden = setting
        measure = self.grad_lag and task == "adding" and T == self.grad_lag
        return RunSpec(task, cell, init, T, hidden, self.steps[task], self.batch, lr,
                       self.optimizer, self.clip, self.val_size, self.test_size,
                       self.val_every, seed, self.grad_batch if measure else 0)

    def run_count(self) -> int:
        """Runs the sweep trains from scratch: each setting's grid, then its other seeds."""
        return len(self.settings()) * (len(self.lrs) + self.seeds - 1)


# -- reading values ---------------------------------------------------------------------------

def _fail(where: str, key: str, problem: str):
    raise UsageError(f"{where}: {key} {problem}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v, where, key, low=1, high=None) -> int:
    if not _is_int(v):
        _fail(where, key, f"must be a whole number, got {v!r}")
    if v < low or (high is not None and v > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        _fail(where, key, f"must be {bound}, got {v}")
    return v


def _number(v, where, key, positive=True) -> float:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)):
        _fail(where, key, f"must be a finite number, got {v!r}")
    if v < 0 or (positive and v == 0):
        _fail(where, key, f"must be {'> 0' if positive else '>= 0'}, got {v}")
    return float(v)


def _list(v, where, key) -> list:
    if not isinstance(v, (list, tuple)) or not v:
        _fail(where, key, f"must be a non-empty list, got {v!r}")
    return list(v)


def _names(v, where, key, known, what) -> tuple:
    names = []
    for name in _list(v, where, key):
        if not isinstance(name, str):
            _fail(where, key, f"must list names, got {name!r}")
        if name not in known:
            _fail(where, key, f"has unknown {what} {name!r}; choose from {', '.join(known)}")
        names.append(name)
    return tuple(dict.fromkeys(names))


def _per_task(v, where, key, parse):
    """One value for every task, or a table by task: {task: value}."""
    if isinstance(v, dict):
        unknown = [t for t in v if t not in TASKS]
        if unknown:
            _fail(where, key, f"has unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}")
        return {task: parse(value, f"{key}.{task}") for task, value in v.items()}
    return {task: parse(v, key) for task in TASKS}


def _inits(v, where, cells) -> dict:
    """{cell: resolved inits}: one list for every cell, or a table by cell (a cell left out
    gets its default); each init checked against each cell."""
    known = (DEFAULT_INIT, *init_names())
    if isinstance(v, dict):
        unknown = [c for c in v if c not in cells]
        if unknown:
            _fail(where, "inits", f"has a table for {unknown[0]!r}, which is not one of the "
                                  f"cells ({', '.join(cells)})")
        table = {c: _names(v.get(c, [DEFAULT_INIT]), where, f"inits.{c}", known, "init")
                 for c in cells}
    else:
        table = dict.fromkeys(cells, _names(v, where, "inits", known, "init"))
    out = {}
    for cell, names in table.items():
        resolved = []
        for name in names:
            try:
                resolved.append(check_init(cell, None if name == DEFAULT_INIT else name,
                                           t_max=MIN_T_MAX))  # chrono's T_max: checked later
            except InitError as exc:
                _fail(where, "inits", str(exc))
        out[cell] = tuple(dict.fromkeys(resolved))
    return out


def _parse(raw: dict, where: dict) -> dict:
    """Typed values of the known keys; `where[key]` names the source of each."""
    w = where.get
    out = {
        "tasks": _names(raw["tasks"], w("tasks"), "tasks", tuple(TASKS), "task"),
        "cells": _names(raw["cells"], w("cells"), "cells", cell_names(), "cell"),
        "hidden": tuple(_int(h, w("hidden"), "hidden") for h in
                        (raw["hidden"] if isinstance(raw["hidden"], (list, tuple))
                         else [raw["hidden"]])),
        "seeds": _int(raw["seeds"], w("seeds"), "seeds"),
        "first_seed": _int(raw["first_seed"], w("first_seed"), "first_seed", 0, MAX_SEED),
        "lrs": tuple(sorted({_number(lr, w("lrs"), "lrs")
                             for lr in _list(raw["lrs"], w("lrs"), "lrs")})),
        "batch": _int(raw["batch"], w("batch"), "batch"),
        "clip": _number(raw["clip"], w("clip"), "clip", positive=False),
        "val_size": _int(raw["val_size"], w("val_size"), "val_size"),
        "test_size": _int(raw["test_size"], w("test_size"), "test_size"),
        "val_every": _int(raw["val_every"], w("val_every"), "val_every"),
        "grad_batch": _int(raw.get("grad_batch", 64), w("grad_batch"), "grad_batch"),
    }
    out["gradients"] = raw.get("gradients", False)
    if not isinstance(out["gradients"], bool):
        _fail(w("gradients"), "gradients", f"must be true or false, got {out['gradients']!r}")
    if raw["optimizer"] not in ("adam", "sgd"):
        _fail(w("optimizer"), "optimizer", f"must be adam or sgd, got {raw['optimizer']!r}")
    out["optimizer"] = raw["optimizer"]
    out["inits"] = _inits(raw["inits"], w("inits"), out["cells"])
    out["steps"] = _per_task(raw["steps"], w("steps"), "steps",
                             lambda v, k: _int(v, w("steps"), k))
    if isinstance(raw["T"], dict):
        for task in raw["T"]:
            if task in TASKS and TASKS[task].min_T is None:
                _fail(w("T"), f"T.{task}", f"is not used: the {TASKS[task].title} sets its "
                                           f"own sequence lengths")
    out["T"] = _per_task(raw["T"], w("T"), "T", lambda v, k: tuple(
        sorted({_int(t, w("T"), k, 0) for t in (v if isinstance(v, (list, tuple)) else [v])})))
    return out


def _check(c: dict, where: dict) -> dict:
    """The checks across keys; returns T restricted to the tasks that take one."""
    if len(c["lrs"]) < MIN_LRS:
        _fail(where["lrs"], "lrs", f"needs at least {MIN_LRS} learning rates (each setting "
                                   f"chooses its rate on validation data), got "
                                   f"{len(c['lrs'])}")
    if c["first_seed"] + c["seeds"] - 1 > MAX_SEED:
        _fail(where["seeds"], "seeds", "run past the largest seed, 2**63 - 1")
    T = {}
    for task in c["tasks"]:
        spec = TASKS[task]
        if task not in c["steps"]:
            _fail(where["steps"], "steps", f"has no entry for task {task!r}")
        if spec.min_T is None:
            continue
        values = c["T"].get(task)
        if not values:
            _fail(where["T"], "T", f"has no value for task {task!r}")
        if values[0] < spec.min_T:
            _fail(where["T"], "T", f"= {values[0]} is too small for the {spec.title} (at "
                                   f"least {spec.min_T})")
        T[task] = values
    if c["gradients"] and "adding" not in T:
        _fail(where["gradients"], "gradients", "are measured on the adding problem: add it "
                                               "to tasks")
    for task in c["tasks"]:  # chrono's T_max is the length of the task's sequences
        for T_value in T.get(task, (None,)):
            for cell, names in c["inits"].items():
                for name in names:
                    try:
                        check_init(cell, name, TASKS[task].length(T_value))
                    except InitError as exc:
                        _fail(where["inits"], "inits", f"{exc} (task {task})")
    for task in c["tasks"]:  # sizes beyond the memory limit, before anything is allocated
        longest = max(T.get(task, (None,)), key=lambda t: t or 0)
        family = TASKS[task].family
        length = TASKS[task].length(longest) if family != "copy" else longest
        for cell in c["cells"]:
            for hidden in c["hidden"]:
                check_budget(TrainConfig(task=family, cell=cell, hidden=hidden,
                                         batch=c["batch"], seq_len=length,
                                         val_size=c["val_size"]),
                             what=f"{task} runs of {cell} with hidden {hidden}, batch "
                                  f"{c['batch']}" + (f", T {longest}" if longest else ""))
    return T


KEYS = tuple(f.name for f in fields(SweepConfig))


def read_toml(path, what: str) -> dict:
    """A TOML file as a dict; a bad file is a one-line error naming it."""
    text = read_text(path, limit=1 << 20)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what} {path}: not valid TOML ({exc})") from None
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(KEYS)}"
        raise UsageError(f"{what} {path}: unknown key {unknown[0]!r}{hint}")
    return data


def load_config(preset: str = "default", path=None, flags: dict | None = None) -> SweepConfig:
    """The preset, overridden by the TOML file at `path`, overridden by `flags` (a dict of
    keys to values; None values are left out)."""
    if preset not in preset_names():
        raise UsageError(f"unknown preset {preset!r}; choose from {', '.join(preset_names())}")
    raw = read_toml(PRESETS_DIR / f"{preset}.toml", "preset")
    where = dict.fromkeys(raw, f"preset {preset}")
    if path is not None:
        mine = read_toml(path, "config")
        raw.update(mine)
        where.update(dict.fromkeys(mine, str(path)))
    for key, value in (flags or {}).items():
        if key not in KEYS:
            raise ValueError(f"load_config: unknown key {key!r}")
        if value is not None:
            raw[key] = value
            where[key] = FLAGS.get(key, "--" + key.replace("_", "-"))
    missing = [k for k in KEYS if k not in raw and k not in ("gradients", "grad_batch")]
    if missing:
        raise ValueError(f"preset {preset}: no value for {', '.join(missing)}")
    where = {k: where.get(k, f"preset {preset}") for k in KEYS}
    parsed = _parse(raw, where)
    parsed["T"] = _check(parsed, where)
    parsed["steps"] = {t: parsed["steps"][t] for t in parsed["tasks"]}
    return SweepConfig(**parsed)
