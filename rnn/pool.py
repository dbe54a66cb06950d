"""Run an experiment's jobs in worker processes with a progress bar; Ctrl-C or SIGTERM ends
every worker at once (the caller then writes nothing, or only whole files)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading

import tqdm
import tqdm.auto

from rnn.blas import single_thread_blas


def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # terminate() must end a worker at once
    # tqdm's default lock is a multiprocessing semaphore: one made in a worker that is then
    # terminated (Ctrl-C) is reported as leaked at exit. The workers show no bars anyway.
    tqdm.tqdm.set_lock(threading.RLock())


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM raises KeyboardInterrupt (as Ctrl-C does) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_jobs(fn, jobs, workers: int, on_result, progress=None, unit: str = "run") -> None:
    """Call `fn(job)` for every job, in `workers` spawned processes (BLAS single-threaded in
    each) or in this one when workers <= 1; `on_result(result)` runs here as each finishes.

    `fn` must be a module-level function (it is pickled). A tqdm bar counts the jobs when
    `progress` is true (None: when stderr is a terminal). Ctrl-C or SIGTERM terminates the
    workers and raises KeyboardInterrupt.
    """
    jobs = list(jobs)
    show = progress if progress is not None else os.isatty(2)
    bar = tqdm.auto.tqdm(total=len(jobs), unit=unit, disable=not show, file=sys.stderr,
                         leave=False)

    def done(result):
        bar.update(1)
        on_result(result)

    try:
        with sigterm_interrupts():
            if workers <= 1:
                for job in jobs:
                    done(fn(job))
                return
            single_thread_blas()  # in the workers: spawned, so before NumPy loads
            pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init)
            try:
                for result in pool.imap_unordered(fn, jobs):
                    done(result)
                pool.close()
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
    finally:
        bar.close()
