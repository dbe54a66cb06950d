"""A sweep on a real two-worker Dask cluster (rnn.cluster through `bind_executor`): the same
records as the local process pool, the same cache, and `--scheduler` on the command line."""

import pytest

from rnn import cli
from rnn.sweep.cache import RunCache
from rnn.sweep.config import load_config
from rnn.sweep.runner import bind_executor, local_executor, run_sweep

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from rnn.cluster import run_jobs_dask  # noqa: E402 - needs the optional extra

TINY = {"tasks": ("adding", "reber"), "cells": ("rnn", "gru"), "T": (5,), "hidden": (4,),
        "seeds": 2, "steps": 10, "batch": 4, "val_size": 8, "test_size": 8, "val_every": 5}
CLOCK = ("seconds", "cpu_seconds", "finished")


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0", silence_logs=50) as cluster:
        yield cluster.scheduler_address


def numbers(result):
    return {r["key"]: {k: v for k, v in r.items() if k not in CLOCK} for r in result.records()}


def test_a_sweep_on_the_cluster_equals_the_local_pool(address, tmp_path):
    cfg = load_config("quick", flags=TINY)
    on_cluster = run_sweep(cfg, RunCache(tmp_path / "a"), bind_executor(run_jobs_dask, address),
                           progress=False, log=lambda line: None)
    local = run_sweep(cfg, RunCache(tmp_path / "b"), local_executor(2), progress=False,
                      log=lambda line: None)
    assert on_cluster.trained == local.trained == cfg.run_count()
    assert numbers(on_cluster) == numbers(local)
    assert [s.chosen_lr for s in on_cluster.settings] == [s.chosen_lr for s in local.settings]


def test_cli_sweep_with_a_scheduler_fills_the_same_cache(address, tmp_path, capsys):
    args = ["experiment", "sweep", "--quick", "--tasks", "adding", "--cells", "rnn", "--T", "5",
            "--hidden", "4", "--seeds", "2", "--steps", "10", "--batch", "4", "--val-size",
            "8", "--test-size", "8", "--val-every", "5", "--no-progress", "--out",
            str(tmp_path / "out")]
    assert cli.main([*args, "--scheduler", address]) == 0
    assert "4 runs trained, 0 from the cache" in capsys.readouterr().out
    assert cli.main([*args, "--workers", "1"]) == 0  # the same cache, locally
    assert "0 runs trained, 4 from the cache" in capsys.readouterr().out
