"""Run a sweep in two phases through an executor, with a fair learning-rate search.

Phase 1 trains every setting (task, cell, init, T, hidden) at every rate of the grid on the
first seed. Each setting then takes the rate whose run ends with the best VALIDATION metric
(ties: the lower validation loss, then the lower rate); the test set is never looked at.
Phase 2 trains the other seeds at the chosen rate; the first seed's run at that rate is
reused. Runs already in the cache are not trained again, so a rerun trains nothing and an
extended sweep (more seeds, another T) trains only what is new.

The executor is any function with `rnn.pool.run_jobs`' contract less its third argument:
`execute(fn, jobs, on_result, progress)` calls `fn(job)` for every job, wherever it likes,
and `on_result(result)` here as each finishes: `local_executor(workers)` is
`bind_executor(run_jobs, workers)`, and a cluster's is `bind_executor(run_jobs_dask, address)`.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from rnn.pool import run_jobs
from rnn.sweep.cache import RunCache
from rnn.sweep.config import SweepConfig
from rnn.sweep.runs import RunSpec, train_run
from rnn.sweep.tasks import sweep_task


def bind_executor(run, target, **options):
    """An executor from a function with `rnn.pool.run_jobs`' contract,
    `run(fn, jobs, target, on_result, progress=None, **options)`: run_jobs with a number of
    processes, or a cluster's runner with its scheduler's address."""

    def execute(fn, jobs, on_result, progress=None):
        run(fn, jobs, target, on_result, progress=progress, **options)

    return execute


def local_executor(workers: int):
    """An executor running the jobs in up to `workers` local processes (rnn.pool.run_jobs)."""
    return bind_executor(run_jobs, workers)


def validation_score(record: dict) -> tuple:
    """How a run ranks in the learning-rate search, lower is better: a diverged run last,
    then the final validation metric, then the final validation loss."""
    def last(values):
        v = values[-1] if values else None
        return math.inf if v is None else v

    return (record["diverged_at"] is not None, last(record["val_metric"]),
            last(record["val_loss"]))


def choose_lr(candidates: dict) -> float:
    """The rate (key of `candidates`, rate -> record) with the best validation score; ties go
    to the lower rate. Test metrics play no part."""
    return min(candidates, key=lambda lr: (validation_score(candidates[lr]), lr))


@dataclass
class SettingResult:
    """One setting's learning-rate search and its runs at the chosen rate, seed by seed."""

    setting: tuple  # (task, cell, init, T, hidden)
    candidates: dict  # lr -> the first seed's record at that rate
    chosen_lr: float
    runs: list  # records at the chosen rate, in seed order


@dataclass
class SweepResult:
    config: SweepConfig
    settings: list = field(default_factory=list)  # SettingResult, in the config's order
    trained: int = 0  # runs trained now
    cached: int = 0  # runs read from the cache
    seconds: float = 0.0

    def records(self) -> list:
        """Every run of the sweep (the search's and the seeds'), each once."""
        seen = {}
        for s in self.settings:
            for record in [*s.candidates.values(), *s.runs]:
                seen[record["key"]] = record
        return list(seen.values())


def _makespan(records, workers: int, start: float) -> float:
    """When `workers` processes end `records`, each dispatched longest first (as `run_sweep`
    orders them) to the first free process and taking its CPU seconds."""
    free = [start] * workers
    for record in sorted(records, key=lambda r: -RunSpec(**r["spec"]).cost):
        heapq.heappush(free, heapq.heappop(free) + record["cpu_seconds"])
    return max(free)


def free_cores_seconds(result: "SweepResult", workers: int = 2) -> float:
    """The sweep's training time on `workers` free cores, from its runs' CPU seconds: the
    search, then the other seeds, each phase scheduled as `run_sweep` schedules it. A measure
    of the budget that a busy machine's wall time is not."""
    search = {r["key"]: r for s in result.settings for r in s.candidates.values()}
    seeds = {r["key"]: r for s in result.settings for r in s.runs if r["key"] not in search}
    return _makespan(seeds.values(), workers, _makespan(search.values(), workers, 0.0))


def describe(record: dict) -> str:
    """One line for a finished run."""
    s = record["spec"]
    criterion = sweep_task(s["task"]).criterion(s["T"])
    at = f" T={s['T']}" if s["T"] is not None else ""
    metric = "diverged" if record["metric"] is None else f"{record['metric']:.4g}"
    solved = "  solved" if record["success"] else ""
    return (f"{s['task']} {s['cell']}{at} lr={s['lr']:g} seed={s['seed']}: "
            f"{criterion.metric} {metric}{solved} ({record['seconds']:.0f} s)")


def run_sweep(cfg: SweepConfig, cache: RunCache, execute, progress=None,
              log=print) -> SweepResult:
    """Both phases; every finished run is in `cache` the moment it arrives. Ctrl-C (or an
    error) stops the sweep with every finished run kept."""
    return run_sweeps([cfg], cache, execute, progress, log)[0]


def run_sweeps(cfgs, cache: RunCache, execute, progress=None, log=print) -> list[SweepResult]:
    """Several sweeps as one: each phase trains the runs of every config together (the
    workers stay busy), each config keeps its own rate search. One SweepResult per config,
    in order; each counts its own runs as trained or cached, and its `seconds` is the whole
    wall time."""
    t0 = time.perf_counter()
    records = {}
    trained = set()  # keys of the runs trained now

    def gather(specs):
        todo = []
        for spec in dict.fromkeys(specs):  # each once, in order
            if spec.key in records:  # the search's run at the chosen rate: the first seed's
                continue
            record = cache.load(spec)
            if record is None:
                todo.append(spec)
            else:
                records[spec.key] = record
        todo.sort(key=lambda s: -s.cost)  # the longest first: the workers end together

        def arrived(record):
            cache.store(record)
            records[record["key"]] = record
            trained.add(record["key"])
            log(describe(record))

        if todo:
            execute(train_run, todo, arrived, progress)

    # (config index, setting) -> {lr: spec}, then -> [spec per seed]
    search = {(i, s): {lr: cfg.spec(s, lr, cfg.seed_list[0]) for lr in cfg.lrs}
              for i, cfg in enumerate(cfgs) for s in cfg.settings()}
    gather([spec for specs in search.values() for spec in specs.values()])
    chosen = {k: choose_lr({lr: records[spec.key] for lr, spec in specs.items()})
              for k, specs in search.items()}
    seeds = {(i, s): [cfgs[i].spec(s, chosen[i, s], seed) for seed in cfgs[i].seed_list]
             for i, s in search}
    gather([spec for specs in seeds.values() for spec in specs])
    seconds = time.perf_counter() - t0
    results = []
    for i, cfg in enumerate(cfgs):
        result = SweepResult(cfg, seconds=seconds)
        for s in cfg.settings():
            result.settings.append(SettingResult(
                s, {lr: records[spec.key] for lr, spec in search[i, s].items()},
                chosen[i, s], [records[spec.key] for spec in seeds[i, s]]))
        keys = [r["key"] for r in result.records()]
        result.trained = sum(k in trained for k in keys)
        result.cached = len(keys) - result.trained
        results.append(result)
    return results
