"""rnn.cluster on a real two-worker Dask cluster: the results are the local pool's, bitwise
for training runs; a worker killed mid-run costs nothing; an unreachable scheduler, a real
error in a job, another rnn-lab on the workers and Ctrl-C/SIGTERM each end the run clearly."""

import dataclasses
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from rnn import cluster
from rnn.cluster import run_jobs_dask
from rnn.errors import ClusterError, UsageError
from rnn.experiment import LongTermConfig
from rnn.experiment import _job as long_term_job
from rnn.pool import run_jobs

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
QUIET = logging.CRITICAL  # a killed worker is logged as an error by the scheduler and nanny


# Jobs: module-level functions, which the workers import from this file (on their sys.path).
def square(x):
    return x, x * x


def fail_on_three(args):
    x, folder = args
    (folder / f"start-{x}-{time.time_ns()}").touch()
    if x == 3:
        raise ValueError("job 3 is broken")
    return x


def square_slowly(args):
    """Leaves a file saying which process started job i, then takes `seconds`."""
    i, folder, seconds = args
    (folder / f"start-{i}-{os.getpid()}").touch()
    time.sleep(seconds)
    return i, i * i, os.getpid()


def kill_own_worker(x):
    os.kill(os.getpid(), signal.SIGKILL)


# LocalCluster closes a worker's nanny for good when the worker is still missing 15 s after
# it died (lost-worker-timeout): after kills 15 s apart, that can strike a worker that is
# restarting. A worker that dies while holding a result can delay that result by the connect
# timeout (30 s by default): 5 s keeps the tests short.
CONFIG = {"distributed.deploy.lost-worker-timeout": "1h", "distributed.comm.timeouts.connect": "5s"}


@pytest.fixture(scope="module")
def local_cluster():
    with dask.config.set(CONFIG), \
            distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                     dashboard_address=":0", silence_logs=QUIET) as lc:
        yield lc


@pytest.fixture
def client(local_cluster):
    """A client of the cluster, once both workers run (a killed one is restarted by its
    nanny); afterwards, no task of a run is left on the scheduler."""
    with distributed.Client(local_cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c
        assert_no_tasks_left(c)


def our_tasks(c) -> list:
    return c.run_on_scheduler(lambda dask_scheduler: [
        str(k) for k in dask_scheduler.tasks if str(k).startswith("rnn-lab-")])


def assert_no_tasks_left(c, wait=10.0):
    deadline = time.monotonic() + wait
    while (left := our_tasks(c)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_results_equal_the_local_pool(client, local_cluster):
    here, there = [], []
    run_jobs(square, range(12), 1, here.append, progress=False)
    run_jobs_dask(square, range(12), local_cluster.scheduler_address, there.append,
                  progress=False)
    assert sorted(there) == sorted(here) == [(x, x * x) for x in range(12)]


def numbers(result) -> dict:
    """Everything a long-term run reports except its wall time."""
    fields = dataclasses.asdict(result)
    del fields["seconds"]
    fields["params"] = {k: v.tolist() for k, v in fields["params"].items()}
    return fields


def test_training_runs_are_bitwise_those_of_the_process_pool(client, local_cluster):
    cfg = LongTermConfig(cells=("rnn", "lstm"), lags=(6,), grad_lag=6, steps=20, hidden=4,
                         batch=4, test_size=16, grad_batch=4, record_every=10)
    jobs = [(cell, 6, cfg) for cell in cfg.cells]
    here, there = [], []
    run_jobs(long_term_job, jobs, 2, here.append, progress=False)
    run_jobs_dask(long_term_job, jobs, local_cluster.scheduler_address, there.append,
                  progress=False)
    here = {r.cell: numbers(r) for r in here}
    there = {r.cell: numbers(r) for r in there}
    assert there == here
    assert len(here["lstm"]["loss"]) == 20 and here["lstm"]["params"]


def test_a_real_error_in_a_job_propagates_and_is_not_retried(client, local_cluster, tmp_path):
    seen = []
    with pytest.raises(ValueError, match="job 3 is broken"):
        run_jobs_dask(fail_on_three, [(x, tmp_path) for x in range(8)],
                      local_cluster.scheduler_address, seen.append, progress=False)
    assert 3 not in seen
    assert len(list(tmp_path.glob("start-3-*"))) == 1  # ran once: a bug is not retried


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_fails_within_the_timeout():
    address = f"tcp://127.0.0.1:{closed_port()}"
    seen = []
    start = time.monotonic()
    with pytest.raises(ClusterError, match=rf"{address} within 1.5 s") as err:
        run_jobs_dask(square, range(3), address, seen.append, timeout=1.5)
    assert time.monotonic() - start < 1.5 + 2.0
    assert seen == [] and "\n" not in str(err.value)


def test_a_server_that_does_not_answer_as_dask_fails_within_the_timeout():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts, then says nothing
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ClusterError, match=f"no Dask scheduler answered at {address}"):
            run_jobs_dask(square, range(3), address, print, timeout=1.0)
        assert time.monotonic() - start < 1.0 + 2.0


@pytest.mark.parametrize("address", ["http://host:8786", "host", "tcp://host:port"])
def test_a_malformed_address_is_a_usage_error_naming_it(address):
    with pytest.raises(UsageError, match=rf"'{address}'.*tcp://HOST:8786") as err:
        run_jobs_dask(square, range(3), address, print)
    assert isinstance(err.value, ClusterError)


def test_a_scheduler_without_workers_fails_within_the_timeout():
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0",
                                  silence_logs=QUIET) as empty, \
            pytest.raises(ClusterError, match="has no workers after 1 s"):
        run_jobs_dask(square, range(3), empty.scheduler_address, print, timeout=1.0)


def test_workers_running_another_rnn_lab_are_refused(client, local_cluster, tmp_path,
                                                      monkeypatch):
    (tmp_path / "rnn").mkdir()
    (tmp_path / "rnn" / "__init__.py").write_text("# another rnn-lab\n")
    monkeypatch.setattr(cluster, "SOURCES", (tmp_path / "rnn",))  # in this process only
    cluster.identity.cache_clear()
    try:
        with pytest.raises(ClusterError, match="^2 of 2 workers at tcp://.* differ from this"):
            run_jobs_dask(square, range(3), local_cluster.scheduler_address, print)
    finally:
        cluster.identity.cache_clear()


class SchedulerWithoutRnnLab:
    """A client whose scheduler cannot unpickle rnn.cluster (installed on the workers only)."""

    def run_on_scheduler(self, fn):
        raise ModuleNotFoundError("No module named 'rnn'")

    def run(self, fn, on_error):
        return {"tcp://10.0.0.1:4000": fn(), "tcp://10.0.0.2:4000": fn()}


def test_a_scheduler_without_this_rnn_lab_is_refused():
    with pytest.raises(ClusterError, match=r"^the scheduler at tcp://h:1 differs .*: the scheduler "
                                           r"cannot run this rnn-lab \(No module named 'rnn'\)"):
        cluster.check_cluster(SchedulerWithoutRnnLab(), "tcp://h:1")


def test_a_worker_that_joins_later_with_another_rnn_lab_refuses_its_jobs(client):
    future = client.submit(cluster._run, square, 2, "rnn-lab 0.0 (source 0), NumPy 0",
                           key="rnn-lab-test-late-joiner", pure=False)
    with pytest.raises(ClusterError, match=r"worker tcp://\S+ runs rnn-lab .* NumPy 0"):
        future.result()
    future.release()


def test_without_dask_the_module_imports_and_says_what_to_install():
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "import rnn.cluster, rnn.errors\n"
            "try:\n    rnn.cluster.run_jobs_dask(abs, [1], 'tcp://127.0.0.1:8786', print)\n"
            "except rnn.errors.ClusterError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.count("\n") == 1 and "install rnn-lab[cluster]" in out.stdout


@pytest.mark.parametrize("allowed_failures", [None, 0], ids=["rescheduled", "KilledWorker"])
def test_a_worker_killed_mid_run_loses_no_job(client, local_cluster, tmp_path, monkeypatch,
                                              allowed_failures):
    """None: the scheduler reruns the dead worker's jobs itself. 0: it fails them at once with
    KilledWorker, and run_jobs_dask resubmits them."""
    retried = []
    retry = distributed.Future.retry
    monkeypatch.setattr(distributed.Future, "retry",
                        lambda self, **kw: (retried.append(self.key), retry(self, **kw))[1])
    if allowed_failures is not None:
        monkeypatch.setattr(local_cluster.scheduler, "allowed_failures", allowed_failures)
    workers = set(client.run(os.getpid).values())
    jobs = [(i, tmp_path, 0.4) for i in range(8)]
    results, killed = [], []

    def on_result(result):
        results.append(result)
        if not killed:  # kill the worker that started a job most recently, mid-job
            done = {i for i, _, _ in results}
            running = [p for p in tmp_path.glob("start-*")
                       if int(p.name.split("-")[1]) not in done]
            newest = max(running, key=lambda p: p.stat().st_mtime_ns)
            killed.append(int(newest.name.split("-")[2]))
            assert killed[0] in workers
            os.kill(killed[0], signal.SIGKILL)

    run_jobs_dask(square_slowly, jobs, local_cluster.scheduler_address, on_result,
                  progress=False)
    assert sorted(i for i, _, _ in results) == list(range(8))  # every job, exactly once
    assert all(sq == i * i for i, sq, _ in results)
    by = {i: pid for i, _, pid in results}
    lost = {int(p.name.split("-")[1]) for p in tmp_path.glob(f"start-*-{killed[0]}")}
    assert any(by[i] != killed[0] for i in lost)  # a job started there finished elsewhere
    assert (len(retried) > 0) == (allowed_failures == 0)


def test_a_job_that_kills_every_worker_it_runs_on_ends_the_run(client, local_cluster,
                                                                monkeypatch):
    monkeypatch.setattr(local_cluster.scheduler, "allowed_failures", 0)
    with pytest.raises(ClusterError, match=r"run 0 of 1 lost 2 workers of tcp://"):
        run_jobs_dask(kill_own_worker, [0], local_cluster.scheduler_address, print,
                      retries=1)


def test_losing_the_scheduler_ends_the_run_with_one_line():
    seen = []
    # its worker, left without a scheduler, tries to reconnect for the connect timeout
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp",
                                     dashboard_address=":0", silence_logs=QUIET) as doomed:

        def on_result(result):
            if not seen:
                threading.Thread(target=doomed.sync, args=(doomed.scheduler.close,)).start()
            seen.append(result)

        with pytest.raises(ClusterError, match=r"^lost the Dask scheduler at tcp://\S+ before "
                                               r"run \d+ of 20 finished"):
            run_jobs_dask(time.sleep, [0.2] * 20, doomed.scheduler_address, on_result,
                          timeout=5.0)
    assert 0 < len(seen) < 20


def test_sigterm_cancels_the_jobs_left_and_closes_the_client(client, local_cluster):
    code = ("import sys, time\n"
            "from rnn.cluster import run_jobs_dask\n"
            "from rnn.interrupts import exit_status\n"
            "try:\n"
            f"    run_jobs_dask(time.sleep, [0.5] * 40, {local_cluster.scheduler_address!r},\n"
            "                  lambda r: print('result', flush=True), progress=False)\n"
            "except KeyboardInterrupt as exc:\n"
            "    print(type(exc).__name__, flush=True)\n"
            "    sys.exit(exit_status(exc))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready and proc.stdout.readline() == "result\n"
        assert len(our_tasks(client)) > 10  # submitted and waiting
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert out.splitlines()[-1] == "Terminated"
    assert "Traceback" not in err
    assert_no_tasks_left(client)
