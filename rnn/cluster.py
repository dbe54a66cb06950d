"""Run an experiment's jobs on a Dask distributed cluster, with the contract of
`rnn.pool.run_jobs`: results come back here as each finishes, a lost worker's job runs again,
Ctrl-C or SIGTERM cancels what is left. Dask is optional: `pip install 'rnn-lab[cluster]'`."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import hashlib
import importlib.metadata
import pathlib
import uuid

import numpy as np

import autograd_lite
from rnn.errors import ClusterAddressError, ClusterError
from rnn.interrupts import sigterm_as_interrupt
from rnn.pool import progress_bar

try:  # the optional [cluster] extra; without it this module imports and says what to install
    import distributed
    from distributed.client import FutureCancelledError
    from distributed.comm import connect
    from distributed.scheduler import KilledWorker
except ImportError:
    distributed = None

INSTALL = ("running jobs on a Dask cluster needs dask.distributed: "
           "install rnn-lab[cluster] (pip install 'rnn-lab[cluster]')")
# the source whose digest identifies this rnn-lab: the `rnn` and `autograd_lite` packages
SOURCES = (pathlib.Path(__file__).resolve().parent,
           pathlib.Path(autograd_lite.__file__).resolve().parent)


@functools.cache
def identity() -> str:
    """This process's rnn-lab (version and a digest of its source files) and NumPy version:
    what a worker must share with the client for its results to be the client's."""
    digest = hashlib.sha256()
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    try:
        version = importlib.metadata.version("rnn-lab")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"rnn-lab {version} (source {digest.hexdigest()[:12]}), NumPy {np.__version__}"


def _run(fn, job, expected: str):
    """On a worker: `fn(job)`, refused when this worker runs another rnn-lab than the client
    (a worker that joined after the check at connection)."""
    if (found := identity()) != expected:
        raise ClusterError(f"worker {distributed.get_worker().address} runs {found}, this "
                           f"process {expected}: install the same rnn-lab on every worker")
    return fn(job)


async def _handshake(address: str, timeout: float) -> None:
    # connect() bounds the TCP connection by `timeout` but not the handshake after it
    comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
    await comm.close()


def _reach(address: str, timeout: float) -> None:
    """Raise ClusterError unless a Dask server answers at `address` within `timeout` s.

    Checked before a Client is made: a Client that fails to connect leaves its event loop
    running, and its clean-up at exit prints a traceback after a delay.
    """
    # asyncio.run in a thread of its own: this works under a running event loop (Jupyter) too
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        try:
            thread.submit(asyncio.run, _handshake(address, timeout)).result()
        except ValueError as exc:
            raise ClusterAddressError(f"scheduler address {address!r}: {exc} "
                                      "(expected e.g. tcp://HOST:8786)") from None
        except TimeoutError:  # connected, but nothing answered as Dask does
            raise ClusterError(f"no Dask scheduler answered at {address} within "
                               f"{timeout:g} s") from None
        except OSError as exc:
            raise ClusterError(f"cannot reach a Dask scheduler at {address} within "
                               f"{timeout:g} s ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - e.g. another server's bytes read as Dask's
            raise ClusterError(f"the server at {address} is not a Dask scheduler "
                               f"({type(exc).__name__})") from None


def connect_client(address: str, timeout: float = 10.0):
    """A Client of the Dask scheduler at `address` with at least one worker, every worker
    running this rnn-lab; each wait is bounded by `timeout` s, each failure a ClusterError."""
    if distributed is None:
        raise ClusterError(INSTALL)
    _reach(address, timeout)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - whatever stops the client, said in one line
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {address} has no workers after "
                               f"{timeout:g} s (start one with `dask worker {address}`)") from None
        check_cluster(client, address)
    except BaseException:
        client.close()
        raise
    return client


def check_cluster(client, address: str) -> None:
    """Raise ClusterError unless the scheduler (which unpickles the jobs) and every worker
    run this process's `identity()`."""
    expected = identity()
    try:
        found = {"the scheduler": client.run_on_scheduler(identity)}
    except Exception as exc:  # noqa: BLE001 - the scheduler cannot unpickle rnn.cluster
        found = {"the scheduler": exc}
    found |= client.run(identity, on_error="return")  # {worker address: identity or error}
    bad = [(where, value) for where, value in found.items() if value != expected]
    if bad:
        where, value = bad[0]
        what = (f"cannot run this rnn-lab ({value})"
                if isinstance(value, BaseException) else f"runs {value}")
        workers = sum(where != "the scheduler" for where, _ in bad)
        who = [f"{workers} of {len(found) - 1} workers"] if workers else []
        if "the scheduler" in dict(bad):
            who.insert(0, "the scheduler")
        verb = "differs" if len(bad) == 1 else "differ"
        raise ClusterError(f"{' and '.join(who)} at {address} {verb} from this process "
                           f"({expected}): {where} {what}; install the same rnn-lab on the "
                           "scheduler and every worker")


def run_jobs_dask(fn, jobs, address: str, on_result, progress=None, unit: str = "run",
                  timeout: float = 10.0, retries: int = 3) -> None:
    """Call `fn(job)` for every job on the Dask cluster whose scheduler is at `address`;
    `on_result(result)` runs here as each finishes. The twin of `rnn.pool.run_jobs`.

    `fn` must be a module-level function that the workers can import: the scheduler and the
    workers run the same rnn-lab (and NumPy) as this process, which is checked (a mismatch is
    a ClusterError, a malformed address a ClusterAddressError). Connecting and finding a worker
    are each bounded by `timeout` s. A worker that dies has its jobs run again: the scheduler
    reruns them on another worker; a job whose workers died more often than the scheduler
    allows (its `allowed-failures`) fails with KilledWorker and is resubmitted under the same
    key (never running twice at once) up to `retries` times more, then a ClusterError ends
    the run. Any other exception a job raised (its future erred) is `fn`'s own and propagates
    unchanged, at once; a lost scheduler, or a result that cannot be fetched, is a ClusterError.
    A tqdm bar counts the jobs when `progress` is true (None: when stderr is a terminal).
    Ctrl-C or SIGTERM (KeyboardInterrupt, `Terminated`) or an error cancels the jobs not yet
    done and closes the client (a job already running on a worker finishes there, unseen).
    """
    if not timeout > 0 or retries < 0:
        raise ValueError(f"run_jobs_dask: timeout must be > 0 s and retries >= 0, not "
                         f"{timeout!r} and {retries!r}")
    if distributed is None:
        raise ClusterError(INSTALL)
    jobs = list(jobs)
    bar = progress_bar(len(jobs), progress, unit)
    client = None

    def done(result):
        bar.update(1)
        on_result(result)

    try:
        with sigterm_as_interrupt():
            client = connect_client(address, timeout)
            _submit_and_gather(client, fn, jobs, done, address, unit, retries)
    finally:
        if client is not None:
            client.close()
        bar.close()


def _submit_and_gather(client, fn, jobs, done, address, unit, retries) -> None:
    expected = identity()
    prefix = f"rnn-lab-{unit}-{uuid.uuid4().hex}"
    pending = {}  # key -> future, until its result has been handed to `done`
    number = {}  # key -> the job's position in `jobs`
    for i, job in enumerate(jobs):
        key = f"{prefix}-{i}"
        pending[key] = client.submit(_run, fn, job, expected, key=key, pure=False)
        number[key] = i
    killed = collections.Counter()
    try:
        finished = distributed.as_completed(list(pending.values()), loop=client.loop)
        for future in finished:
            try:
                result = future.result()
            except KilledWorker as exc:
                killed[future.key] += 1
                if killed[future.key] > retries:
                    deaths = exc.allowed_failures + killed[future.key]
                    raise ClusterError(
                        f"{unit} {number[future.key]} of {len(jobs)} lost {deaths} workers of "
                        f"{address} that died while it was on them (the last "
                        f"{exc.last_worker.address}); it may be what kills them (memory?)"
                    ) from None
                try:
                    future.retry()  # the same key: the scheduler runs it again, once
                except Exception as err:  # noqa: BLE001 - the scheduler is gone
                    raise ClusterError(f"lost the Dask scheduler at {address} ({err})") from None
                finished.add(future)
                continue
            except FutureCancelledError as exc:  # not by us
                what = (f"lost the Dask scheduler at {address}"
                        if exc.reason == "scheduler-connection-lost" else
                        f"the Dask scheduler at {address} cancelled it ({exc.reason})")
                raise ClusterError(f"{what} before {unit} {number[future.key]} of {len(jobs)} "
                                   "finished") from None
            except Exception as exc:
                if future.status == "error":  # the job raised it: fn's own error
                    raise
                # the job finished but its result could not be fetched: the scheduler is gone
                raise ClusterError(f"lost the Dask scheduler at {address} before {unit} "
                                   f"{number[future.key]} of {len(jobs)} finished "
                                   f"({type(exc).__name__})") from None
            del pending[future.key]
            future.release()
            done(result)
    except BaseException:
        if pending and client.status == "running":
            client.cancel(list(pending.values()))
        raise
