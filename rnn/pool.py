"""Run an experiment's jobs in worker processes with a progress bar; Ctrl-C or SIGTERM ends
every worker at once (the caller then writes nothing, or only whole files)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading

import tqdm
import tqdm.auto

from rnn.blas import single_thread_blas
from rnn.interrupts import leave_signals_to_parent, sigterm_as_interrupt


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker_init():
    leave_signals_to_parent()  # the parent handles Ctrl-C and SIGTERM, and ends the workers
    # tqdm's default lock is a multiprocessing semaphore: one made in a worker that is then
    # terminated (Ctrl-C) is reported as leaked at exit. The workers show no bars anyway.
    tqdm.tqdm.set_lock(threading.RLock())


def _end_workers(pool) -> None:
    """End the pool's workers now, and any worker a half-made pool had started."""
    if pool is not None:
        pool.terminate()
        pool.join()
    for child in multiprocessing.active_children():  # only this process's own children
        child.terminate()
        child.join()


def progress_bar(total: int, progress=None, unit: str = "run"):
    """The jobs' tqdm bar on stderr: shown when `progress` is true (None: when stderr is a
    terminal), gone when closed."""
    show = progress if progress is not None else os.isatty(2)
    return tqdm.auto.tqdm(total=total, unit=unit, disable=not show, file=sys.stderr,
                          leave=False)


def run_jobs(fn, jobs, workers: int, on_result, progress=None, unit: str = "run") -> None:
    """Call `fn(job)` for every job, in up to `workers` spawned processes (never more than the
    jobs or the cores; BLAS single-threaded in each) or in this one when that is 1;
    `on_result(result)` runs here as each finishes.

    `fn` must be a module-level function (it is pickled). A tqdm bar counts the jobs when
    `progress` is true (None: when stderr is a terminal). Ctrl-C or SIGTERM (raised here as
    KeyboardInterrupt or its subclass `Terminated`) or an error ends every worker first.
    """
    jobs = list(jobs)
    workers = max(1, min(workers, len(jobs), cores()))
    bar = progress_bar(len(jobs), progress, unit)

    def done(result):
        bar.update(1)
        on_result(result)

    try:
        with sigterm_as_interrupt():
            if workers <= 1:
                for job in jobs:
                    done(fn(job))
                return
            single_thread_blas()  # in the workers: spawned, so before NumPy loads
            pool = None
            try:
                pool = multiprocessing.get_context("spawn").Pool(workers,
                                                                 initializer=_worker_init)
                for result in pool.imap_unordered(fn, jobs):
                    done(result)
                pool.close()
                pool.join()
            except BaseException:
                _end_workers(pool)
                raise
    finally:
        bar.close()
