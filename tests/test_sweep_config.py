"""Tests for rnn.sweep.config: presets, TOML files and flags in order, every bad input as one
UsageError before any run, and the expansion into settings and run specs."""

import dataclasses

import pytest

from rnn.errors import ResourceError, UsageError
from rnn.sweep.config import load_config, preset_names
from rnn.sweep.paper import paper_settings
from rnn.sweep.runs import RunSpec
from rnn.sweep.tasks import task_name


def test_every_preset_loads_and_the_default_meets_its_brief():
    assert {"default", "quick", "long-term", "long-term-quick"} <= set(preset_names())
    for name in preset_names():
        load_config(name)
    cfg = load_config("default")
    assert cfg.seeds >= 5 and len(cfg.lrs) >= 3
    assert set(cfg.tasks) == {"adding", "copy", "reber"}
    assert cfg.T["adding"] == (100, 200) and cfg.T["copy"] == (100,) and "reber" not in cfg.T


def test_long_term_preset_is_the_long_term_experiment():
    cfg = load_config("long-term")
    assert cfg.tasks == ("adding",) and cfg.cells == ("rnn", "lstm")
    assert cfg.T["adding"] == (10, 25, 50, 100) and cfg.grad_lag == 100
    assert cfg.steps == {"adding": 3000} and cfg.hidden == (32,)


def test_a_file_overrides_the_preset_and_flags_override_the_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('cells = ["lstm", "gru"]\nseeds = 4\nT = {adding = [30, 20]}\n'
                    'steps = {adding = 50, reber = 70}\n')
    cfg = load_config("quick", path, {"cells": ("rnn",), "batch": 8, "seeds": None})
    assert cfg.cells == ("rnn",)  # the flag
    assert cfg.seeds == 4 and cfg.T == {"adding": (20, 30)}  # the file (T sorted)
    assert cfg.steps == {"adding": 50, "reber": 70} and cfg.batch == 8
    assert cfg.hidden == load_config("quick").hidden  # the preset


def test_one_value_applies_to_every_task():
    cfg = load_config("default", flags={"T": (40,), "steps": 30})
    assert cfg.T == {"adding": (40,), "copy": (40,)}
    assert cfg.steps == {"adding": 30, "copy": 30, "reber": 30}


@pytest.mark.parametrize("toml, words", [
    ("lr = [0.1]\n", "unknown key 'lr' (did you mean 'lrs'?)"),
    ("colour = 1\n", "unknown key 'colour'; known: tasks"),
    ('seeds = "5"\n', "seeds must be a whole number, got '5'"),
    ("seeds = 2.5\n", "seeds must be a whole number"),
    ("seeds = true\n", "seeds must be a whole number"),
    ("batch = 0\n", "batch must be at least 1, got 0"),
    ("first_seed = -1\n", "first_seed must be from 0 to"),
    ('cells = "lstm"\n', "cells must be a non-empty list"),
    ("cells = []\n", "cells must be a non-empty list"),
    ('cells = ["elman"]\n', "cells has unknown cell 'elman'; choose from"),
    ('tasks = ["parity"]\n', "tasks has unknown task 'parity'"),
    ('inits = ["glorot"]\n', "inits has unknown init 'glorot'"),
    ("T = {adding = [1]}\n", "T = 1 is too small for the adding problem (at least 2)"),
    ("T = {copy = [0]}\n", "has no value for task 'adding'"),
    ("T = {parity = [5]}\n", "T has unknown task 'parity'"),
    ("T = {reber = [5]}\n", "T.reber is not used"),
    ("steps = {adding = 0}\n", "steps.adding must be at least 1"),
    ("steps = {adding = 10}\n", "steps has no entry for task 'reber'"),
    ("lrs = [0.01, 0.1, 0.01]\n", "needs at least 3 learning rates"),
    ("lrs = [0.01, 0.1, 0]\n", "lrs must be > 0"),
    ("lrs = [0.01, 0.1, nan]\n", "lrs must be a finite number"),
    ('optimizer = "rmsprop"\n', "optimizer must be adam or sgd"),
    ("clip = -1\n", "clip must be >= 0"),
    ("gradients = 1\n", "gradients must be true or false"),
    ('gradients = true\ntasks = ["reber"]\n', "gradients are measured on the adding problem"),
    ("cells = [rnn\n", "not valid TOML"),
    ('inits = ["chrono"]\n', "inits chrono does not fit the Elman RNN `rnn`: it has no forget"),
    ('cells = ["lstm"]\ninits = ["chrono"]\n', "chrono needs t_max"),  # reber: no one length
    ('cells = ["lstm"]\ninits = {gru = ["chrono"]}\n', "a table for 'gru', which is not one"),
    ('inits = {lstm = ["identity"]}\n', "identity does not fit"),
])
def test_a_bad_config_is_one_clear_usage_error(tmp_path, toml, words):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(UsageError) as info:
        load_config("quick", path)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert str(path) in message  # it says where the value came from


def test_inits_resolve_per_cell():
    cfg = load_config("quick", flags={"cells": ("rnn", "irnn", "lstm"), "tasks": ("adding",)})
    assert cfg.inits == {"rnn": ("uniform",), "irnn": ("identity",), "lstm": ("uniform",)}
    assert cfg.inits_text() == "uniform; irnn identity"
    cfg = load_config("quick", flags={"cells": ("irnn", "lstm"), "tasks": ("adding",),
                                      "inits": {"lstm": ["default", "chrono", "uniform"]}})
    assert cfg.inits == {"irnn": ("identity",), "lstm": ("uniform", "chrono")}
    assert [s[1:3] for s in cfg.settings()] == [("irnn", "identity"), ("lstm", "uniform"),
                                                ("lstm", "chrono")]


def test_a_bad_flag_names_the_flag():
    with pytest.raises(UsageError, match=r"^--T: T = 1 is too small"):
        load_config("quick", flags={"T": (1,)})
    with pytest.raises(UsageError, match=r"^--seed: first_seed"):
        load_config("quick", flags={"first_seed": -3})
    with pytest.raises(UsageError, match="unknown preset 'slow'"):
        load_config("slow")


def test_sizes_beyond_the_memory_limit_are_refused_before_any_run(monkeypatch):
    monkeypatch.setenv("RNN_LAB_MAX_MEMORY", "1MB")
    with pytest.raises(ResourceError, match="adding runs of rnn with hidden 512"):
        load_config("quick", flags={"hidden": (512,)})


def test_settings_and_specs():
    cfg = load_config("quick", flags={"cells": ("rnn", "lstm"), "hidden": (4, 8),
                                      "T": (5, 9)})
    settings = cfg.settings()
    assert len(settings) == 2 * 2 * 2 + 2 * 2  # adding: T x hidden x cell; reber: hidden x cell
    assert settings[0] == ("adding", "rnn", "uniform", 5, 4)
    assert ("reber", "lstm", "uniform", None, 8) in settings
    spec = cfg.spec(settings[0], 0.01, 3)
    assert isinstance(spec, RunSpec) and spec.setting == settings[0]
    assert (spec.lr, spec.seed, spec.steps, spec.grad_batch) == (0.01, 3, 800, 0)
    assert cfg.run_count() == len(settings) * (len(cfg.lrs) + cfg.seeds - 1)
    assert cfg.seed_list == [0, 1, 2]


def test_only_the_gradient_lag_measures_gradients():
    cfg = load_config("long-term-quick")
    specs = [cfg.spec(s, 0.01, 0) for s in cfg.settings()]
    assert {(s.T, s.grad_batch) for s in specs} == {(10, 0), (25, 32)}


def test_keys_name_the_spec_exactly():
    cfg = load_config("quick")
    setting = cfg.settings()[0]
    spec = cfg.spec(setting, 0.01, 0)
    assert spec.key == cfg.spec(setting, 0.01, 0).key and len(spec.key) == 16
    assert dataclasses.replace(spec, clip=1).key == dataclasses.replace(spec, clip=1.0).key
    keys = {spec.key}
    for name, value in [("seed", 1), ("lr", 0.03), ("steps", 401), ("T", 51), ("cell", "gru"),
                        ("hidden", 17), ("val_size", 255), ("test_size", 499),
                        ("grad_batch", 2)]:
        keys.add(dataclasses.replace(spec, **{name: value}).key)
    assert len(keys) == 10  # every field changes the key


def test_every_paper_setting_is_a_sweep_config():
    # the "paper vs ours" settings (rnn.sweep.paper) run as one-setting sweeps
    for setting in paper_settings("default"):
        name = task_name(setting["task"], setting["variant"])
        flags = {"tasks": (name,), "cells": (setting["cell"],),
                 "inits": {setting["cell"]: [setting["init"]]}, "hidden": (setting["hidden"],),
                 "steps": setting["steps"], "batch": setting["batch"], "seeds": setting["seeds"]}
        if setting["T"] is not None:
            flags["T"] = (setting["T"],)
        cfg = load_config("default", flags=flags)
        ((task, cell, init, T, hidden),) = cfg.settings()
        assert (task, cell, init, T, hidden) == (name, setting["cell"], setting["init"],
                                                 setting["T"], setting["hidden"])
    assert task_name("adding", "1997") == "adding-1997" and task_name("adding") == "adding"
