"""Tests for rnn.sweep.runs, rnn.sweep.tasks and rnn.sweep.cache: a run's record, the same
numbers from the same seed (in this process and through the pool), each task's criterion,
and a cache that trusts only exact, whole, finite records."""

import json
import math
import os

import numpy as np
import pytest

from rnn import tasks
from rnn.pool import run_jobs
from rnn.sweep.cache import RunCache, check_record
from rnn.sweep.runs import RunSpec, train_run
from rnn.sweep.tasks import TASKS, strings_wrong, sweep_task


SHORTEST = {"adding": 5, "adding-1997": 20, "copy": 5, "reber": None}  # small, valid T


def spec(task="adding", cell="lstm", T=None, seed=0, **kw):
    T = SHORTEST[task] if T is None else T
    values = dict(init="uniform", hidden=4, steps=12, batch=4, lr=0.01, optimizer="adam",
                  clip=1.0, val_size=8, test_size=16, val_every=6, seed=seed)
    values.update(kw)
    return RunSpec(task, cell, T=T, **values)


def same_numbers(a, b):
    """Records equal in everything but the wall time and the clock."""
    clock = ("seconds", "cpu_seconds", "finished")
    strip = lambda r: {k: v for k, v in r.items() if k not in clock}  # noqa: E731
    return strip(a) == strip(b)


@pytest.mark.parametrize("task", list(TASKS))
def test_a_run_records_its_scores_and_curves(task):
    s = spec(task)
    record = train_run(s)
    assert record["key"] == s.key and record["spec"] == s.to_dict()
    assert record["val_step"] == [6, 12] and len(record["train_loss"]) == 12
    assert len(record["val_metric"]) == 2 and math.isfinite(record["metric"])
    assert record["numpy"] == np.__version__ and record["rnn_lab"] and record["finished"]
    check_record(json.loads(json.dumps(record)), s)  # a valid cache entry
    criterion = sweep_task(task).criterion(s.T)
    assert record["success"] == criterion.success(record["metric"])


@pytest.mark.parametrize("task", list(TASKS))
def test_the_same_seed_gives_the_same_numbers_bit_for_bit(task):
    a, b = train_run(spec(task)), train_run(spec(task))
    assert same_numbers(a, b)
    c = train_run(spec(task, seed=1))
    assert c["train_loss"] != a["train_loss"]


def test_the_pool_gives_the_same_numbers_as_this_process():
    specs = [spec("adding", seed=0), spec("copy", cell="gru", seed=1), spec("reber", seed=2)]
    here = {s.key: train_run(s) for s in specs}
    pooled = {}
    run_jobs(train_run, specs, 2, lambda r: pooled.__setitem__(r["key"], r), progress=False)
    assert pooled.keys() == here.keys()
    assert all(same_numbers(pooled[k], here[k]) for k in here)


def test_a_gradient_run_keeps_norms_and_parameters():
    record = train_run(spec(cell="rnn", grad_batch=3))
    assert len(record["grad_init"]) == len(record["grad_trained"]) == 5
    assert set(record["params"]) == {"layer.cells.0.W", "layer.cells.0.b", "decoder.weight",
                                     "decoder.bias"}
    assert np.asarray(record["params"]["layer.cells.0.W"]).shape == (4 + 2, 4)
    assert "params" not in train_run(spec(cell="rnn"))  # only the gradient runs keep them


def test_the_test_set_is_its_own_stream():
    # validation [seed, 2] and test [seed, 3]: different sequences, each fixed by the seed
    problem = TASKS["adding"].problem(5, 4, 8, seed=0)
    test = TASKS["adding"].held_out(problem, 5, 8, np.random.default_rng([0, 3]))
    assert not np.array_equal(problem.val_x, test.val_x)
    np.testing.assert_array_equal(test.val_x, tasks.adding_problem(
        5, 8, np.random.default_rng([0, 3]))[0])


def test_the_1997_adding_problem_runs_its_own_definition():
    problem = TASKS["adding-1997"].problem(20, 4, 8, seed=0)
    x, y = problem.batch(0, np.random.default_rng(0))
    assert x.shape == (22, 4, 2) and (x[-1, :, 1] == -1).all()  # T + T // 10 steps
    assert ((y >= 0) & (y <= 1)).all()  # 0.5 + (X1 + X2) / 4
    criterion = TASKS["adding-1997"].criterion(100)
    assert criterion.baseline == pytest.approx(tasks.adding_baseline_mse(100, "1997"))
    assert criterion.threshold / criterion.baseline == pytest.approx(0.01 * 6)


def test_criteria_state_their_thresholds_and_baselines():
    adding = sweep_task("adding").criterion(100)
    assert (adding.threshold, adding.baseline) == (0.01, tasks.ADDING_BASELINE_MSE)
    assert adding.success(0.0099) and not adding.success(0.01)
    copy = sweep_task("copy").criterion(100)
    assert copy.baseline == pytest.approx(10 * math.log(8) / 120)
    assert copy.threshold == pytest.approx(0.1 * copy.baseline)
    reber = sweep_task("reber").criterion(None)
    assert reber.success(0.0) and not reber.success(1 / 256)
    assert adding.worse_than_baseline(0.17) and not adding.worse_than_baseline(0.1)
    assert not adding.worse_than_baseline(0.17, trivial=0.18)  # the same test sequences
    assert adding.worse_than_baseline(None) and not adding.success(None)  # diverged
    with pytest.raises(ValueError, match="unknown task 'parity'"):
        sweep_task("parity")


def test_reber_strings_wrong_follows_hochreiter_and_schmidhuber():
    x, y, mask, _ = tasks.reber_batch(64, np.random.default_rng(0))
    legal = tasks.reber_legal(x, y, mask)
    perfect = np.where(legal, 1.0, -1.0)  # every legal symbol above every illegal one
    assert strings_wrong(perfect, legal, mask) == 0.0
    # one illegal symbol tied with a legal one, at one step of string 3: that string fails
    tied = perfect.copy()
    tied[2, 3, np.flatnonzero(~legal[2, 3])[0]] = 1.0
    assert strings_wrong(tied, legal, mask) == pytest.approx(1 / 64)
    # a predictor blind to the past ranks the symbols the same at every step: every string
    # is wrong, which is the baseline the criterion states
    for ranking in np.random.default_rng(1).normal(size=(20, len(tasks.REBER_SYMBOLS))):
        blind = np.broadcast_to(ranking, legal.shape)
        assert strings_wrong(blind, legal, mask) == sweep_task("reber").criterion(None).baseline


def test_the_cache_returns_what_it_stored(tmp_path):
    s = spec()
    cache = RunCache(tmp_path / "runs")
    assert cache.load(s) is None
    record = train_run(s)
    path = cache.store(record)
    assert path == tmp_path / "runs" / f"{s.key}.json"
    assert cache.load(s) == json.loads(json.dumps(record))
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [f"{s.key}.json"]


def _corrupt(record, other):
    nan = json.dumps(record).replace(f'"metric": {record["metric"]!r}', '"metric": NaN')
    return {
        "not JSON": "{\"format\": 1, \"key\"",
        "empty": "",
        "binary": b"\x00\xff\xfe".decode("latin-1"),
        "a list": "[1, 2]",
        "NaN": nan,
        "another run": json.dumps(other),
        "wrong key": json.dumps({**record, "key": "0" * 16}),
        "old format": json.dumps({**record, "format": 0}),
        "no metric": json.dumps({k: v for k, v in record.items() if k != "metric"}),
        "text metric": json.dumps({**record, "metric": "0.1"}),
        "huge metric": json.dumps({**record, "metric": 1e400}).replace("Infinity", "1e400"),
        "bool seconds": json.dumps({**record, "seconds": True}),
        "short curve": json.dumps({**record, "val_loss": record["val_loss"][:1]}),
        "null in losses": json.dumps({**record, "train_loss": [None] * 12}),
        "success flag": json.dumps({**record, "success": not record["success"]}),
        "spec edited": json.dumps({**record, "spec": {**record["spec"], "lr": 0.5}}),
        "no params": json.dumps({k: v for k, v in record.items() if k != "params"}),
        "ragged params": json.dumps({**record, "params": {"w": [[1.0], [1.0, 2.0]]}}),
    }


def test_a_corrupt_or_mismatching_entry_is_reported_and_not_trusted(tmp_path):
    s, other = spec(cell="rnn", grad_batch=2), spec(cell="rnn", seed=5)
    record, other_record = train_run(s), train_run(other)
    lines = []
    cache = RunCache(tmp_path / "runs", log=lines.append)
    for kind, text in _corrupt(record, other_record).items():
        lines.clear()
        cache.path(s.key).write_text(text, encoding="latin-1" if kind == "binary" else "utf-8")
        assert cache.load(s) is None, kind
        assert len(lines) == 1 and str(cache.path(s.key)) in lines[0], kind
        assert "training the run again" in lines[0]


def test_a_pipe_in_the_cache_is_refused_not_waited_on(tmp_path):
    s = spec()
    lines = []
    cache = RunCache(tmp_path / "runs", log=lines.append)
    os.mkfifo(cache.path(s.key))
    assert cache.load(s) is None
    assert len(lines) == 1 and "named pipe" in lines[0]
