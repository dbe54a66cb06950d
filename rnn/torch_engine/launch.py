"""`rnn-lab train --engine torch`: one process, N processes on this machine, or one rank of a
`torchrun` job, behind the interface the CLI uses for the engine's Trainer.

With `--nproc N > 1`, N processes are started by torch.multiprocessing (spawn), join a
process group (gloo on CPU, NCCL on CUDA) and train one DistributedDataParallel model, each
on its shard of every batch. This process supervises them: it forwards SIGINT and SIGTERM
(every rank stops after the same step and rank 0 saves), and when a rank dies it ends the
others and says so in one line; checkpoints are only ever replaced whole, so the last one
stays intact. Under `torchrun` (LOCAL_RANK and WORLD_SIZE set) this process is one rank.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from multiprocessing.connection import wait as connection_wait

from tqdm.auto import tqdm

from rnn.checkpoint import CheckpointError, load_checkpoint
from rnn.errors import OutputError, UserError
from rnn.io import remove_leftovers
from rnn.torch_engine import require_torch
from rnn.torch_engine.trainer import TorchTrainer
from rnn.training import TrainConfig, Trainer, TrainingInterrupted

torch = require_torch("--engine torch")
dist = torch.distributed

GRACE = 10.0  # seconds the other ranks get to stop by themselves once one has failed
HOST = "127.0.0.1"  # where the ranks started here meet
TIMEOUT = timedelta(minutes=10)  # for joining the group and for each collective


def under_torchrun() -> bool:
    """Whether torchrun (or another launcher of the env:// kind) started this process."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def check_device(device: str, nproc: int) -> None:
    """UserError (one line) unless `nproc` processes on this machine fit `device`."""
    if device == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: PyTorch sees no CUDA device here "
                            "(torch.cuda.is_available() is False); use --device cpu")
        count = torch.cuda.device_count()
        if nproc > count:
            raise UserError(f"--nproc {nproc}: this machine has {count} CUDA device(s), one "
                            f"per process; use --nproc {count} or fewer")
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count() or 1
        if nproc > cores:
            raise UserError(f"--nproc {nproc}: this machine gives {cores} CPU core(s) to this "
                            f"run; use --nproc {cores} or fewer")


def check_batch(world: int, batch: int) -> None:
    """UserError unless each of `world` processes gets at least one sequence of the batch."""
    if world > batch:
        raise UserError(f"{world} processes are more than --batch {batch}: every process "
                        f"needs at least one sequence of each batch")


def _record(spec: dict) -> Trainer:
    """The engine Trainer a spec describes (fresh or resumed): the run's record."""
    if spec["resume"]:
        return Trainer.resume(spec["checkpoint"], steps=spec["steps"],
                              text_path=spec["text_path"], save_every=spec["save_every"])
    return Trainer.from_config(TrainConfig.from_dict(spec["config"]),
                               checkpoint=spec["checkpoint"], save_every=spec["save_every"])


class TorchRun:
    """What `rnn-lab train` drives: `fit()`, then `history`, `step`, `checkpoint_path`,
    `config`. `quiet` is True on the ranks of a torchrun job other than 0."""

    def __init__(self, spec: dict, record: Trainer, device="cpu", nproc=None, progress=None,
                 log=None):
        self.spec, self.record, self.config = spec, record, record.config
        self.device, self.progress, self.log = device, progress, log
        self.checkpoint_path = record.checkpoint_path
        self.history, self.step = record.history, record.step
        self.quiet = False
        if under_torchrun():
            if nproc is not None:
                raise UserError("under torchrun the processes are torchrun's: drop --nproc "
                                "and use torchrun --nproc-per-node")
            self.nproc = int(os.environ["WORLD_SIZE"])
            check_device(device, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        else:
            self.nproc = nproc or 1
            check_device(device, self.nproc)
        check_batch(self.nproc, self.config.batch)

    @classmethod
    def from_config(cls, config: TrainConfig, checkpoint=None, save_every=0, device="cpu",
                    nproc=None, progress=None, log=None) -> TorchRun:
        """A fresh run of `config` (the model starts from the engine's initial weights)."""
        spec = {"config": config.to_dict(), "checkpoint": checkpoint, "resume": False,
                "steps": None, "text_path": None, "save_every": save_every}
        return cls(spec, _record(spec), device, nproc, progress, log)

    @classmethod
    def resume(cls, path, steps=None, text_path=None, save_every=0, device="cpu", nproc=None,
               progress=None, log=None) -> TorchRun:
        """The run saved at `path` (by either engine), continued on torch (a text run reads
        its text from `text_path`, as Trainer.resume does)."""
        spec = {"config": None, "checkpoint": path, "resume": True, "steps": steps,
                "text_path": text_path, "save_every": save_every}
        return cls(spec, _record(spec), device, nproc, progress, log)

    def fit(self) -> dict:
        """Train to the config's steps; the history. TrainingInterrupted after a signal."""
        if under_torchrun():
            return self._fit_torchrun()
        if self.nproc == 1:
            trainer = TorchTrainer(self.record, _device(self.device, 0), progress=self.progress,
                                   log=self.log)
            return self._finish(trainer.fit(), trainer.step)
        return self._fit_spawned()

    def _finish(self, history, step) -> dict:
        self.history, self.step = history, step
        return history

    def _fit_torchrun(self) -> dict:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        device = _device(self.device, int(os.environ["LOCAL_RANK"]))
        _init_group(self.device, rank, world)
        try:
            trainer = TorchTrainer(self.record, device, rank, world, self.progress, self.log)
            self.quiet = rank != 0
            return self._finish(trainer.fit(), trainer.step)
        finally:
            _end_group()

    # -- several processes on this machine ------------------------------------------------
    def _fit_spawned(self) -> dict:
        mp = torch.multiprocessing
        pipes = [mp.get_context("spawn").Pipe(duplex=False) for _ in range(self.nproc)]
        # The group's meeting point, held here on a port the system picks: no other
        # program can take it between choosing and binding.
        store = dist.TCPStore(HOST, 0, None, True, wait_for_workers=False)
        options = {"device": self.device, "progress": self.progress, "port": store.port,
                   "parent": os.getpid()}
        context = mp.start_processes(
            _worker, args=(self.nproc, self.spec, options, [w for _, w in pipes]),
            nprocs=self.nproc, join=False, start_method="spawn")
        for _, writer in pipes:
            writer.close()  # (the ranks hold theirs: a rank's end closing means it exited)
        supervisor = _Supervisor(context.processes, [r for r, _ in pipes])
        with supervisor.forwarding_signals():
            supervisor.wait()
        return self._conclude(supervisor)

    def _conclude(self, sup: _Supervisor) -> dict:
        path = self.checkpoint_path
        if path:  # a rank killed while saving leaves its temporary file; the target is whole
            for p in sup.processes:
                if p.exitcode != 0:
                    with contextlib.suppress(OutputError):
                        remove_leftovers(path, p.pid)
        kind, payload = sup.messages.get(0, (None, None))
        if sup.signalled is not None and kind != "done":
            if kind == "interrupted":
                raise TrainingInterrupted(payload["step"], payload["path"], payload["signum"])
            # (stopped before rank 0 could save)
            raise TrainingInterrupted(self.step, None, sup.signalled)
        if sup.died is not None:
            rank, how = sup.died
            raise UserError(f"rank {rank} of {self.nproc} {how}; the run stopped. "
                            f"{_last_checkpoint(path)}")
        if sup.errors:
            raise UserError(sup.errors[0])
        if kind == "interrupted":  # a rank was signalled directly
            raise TrainingInterrupted(payload["step"], payload["path"], payload["signum"])
        return self._finish(payload["history"], payload["step"])


class _Supervisor:
    """Watches the rank processes: collects each rank's one message, notices a rank that
    died, forwards signals, and ends the others once one has failed."""

    def __init__(self, processes, readers):
        self.processes, self.readers = processes, dict(enumerate(readers))
        self.messages: dict[int, tuple] = {}  # rank -> (kind, payload)
        self.errors: list[str] = []  # error messages, in arrival order
        self.died: tuple | None = None  # (rank, how) of the first rank that died
        self.signalled = None  # the last stop signal forwarded to the ranks
        self.failed_at = None

    @contextlib.contextmanager
    def forwarding_signals(self):
        def forward(signum, frame):
            self.signalled = signum
            self._signal_all(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _read(self, timeout: float) -> None:
        sentinels = [p.sentinel for p in self.processes if p.exitcode is None]
        for ready in connection_wait([*self.readers.values(), *sentinels], timeout):
            rank = next((k for k, r in self.readers.items() if r is ready), None)
            if rank is None:
                continue  # a process exited: looked at in `wait`
            try:
                kind, payload = ready.recv()
            except (EOFError, OSError):  # it exited without a word
                kind, payload = "silent", None
            del self.readers[rank]
            self.messages[rank] = (kind, payload)
            if kind == "error":
                self.errors.append(payload)
                self.failed_at = self.failed_at or time.monotonic()

    def wait(self) -> None:
        """Until every rank has exited (and said why, or died)."""
        terminated = killed = False
        while any(p.exitcode is None for p in self.processes) or self.readers:
            self._read(0.2)
            for rank, p in enumerate(self.processes):
                if p.exitcode is None or self.died is not None:
                    continue
                silent = rank not in self.readers and self.messages[rank][0] == "silent"
                if p.exitcode != 0 or silent:
                    self.died = (rank, _how(p.exitcode))
                    self.failed_at = self.failed_at or time.monotonic()
            if self.failed_at is None:
                continue
            waited = time.monotonic() - self.failed_at
            if waited > GRACE and not terminated:
                terminated = True
                self._signal_all(signal.SIGTERM)
            if waited > 2 * GRACE and not killed:
                killed = True
                self._signal_all(signal.SIGKILL)

    def _signal_all(self, signum) -> None:
        for p in self.processes:
            if p.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signum)


def _worker(rank: int, world: int, spec: dict, options: dict, writers) -> None:
    """One rank: join the group, train, and send one message ("done" | "interrupted" |
    "error") to the supervisor."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # a terminal's Ctrl-C reaches the supervisor, which forwards it once
    # tqdm's default lock is a multiprocessing semaphore: a rank killed while holding one
    # would leave the resource tracker warning about it; a thread lock is all a rank needs.
    tqdm.set_lock(threading.RLock())
    # Each rank keeps only its own pipe end: when that rank exits, its end closes.
    for k, writer in enumerate(writers):
        if k != rank:
            writer.close()
    try:
        store = dist.TCPStore(HOST, options["port"], None, False, timeout=TIMEOUT)
        _init_group(options["device"], rank, world, store)
        trainer = TorchTrainer(_record(spec), _device(options["device"], rank), rank, world,
                               options["progress"], _log, options["parent"])
        history = trainer.fit()
        message = ("done", {"history": history, "step": trainer.step} if rank == 0 else None)
        _end_group()  # (every rank is here: the group ends cleanly)
    except TrainingInterrupted as stop:
        message = ("interrupted", {"step": stop.step, "path": stop.path, "signum": stop.signum})
        _end_group()
    except UserError as exc:
        message = ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - torch.distributed failing: a peer that died
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = ("error", f"rank {rank} failed: {type(exc).__name__}: {first}")
    writers[rank].send(message)
    writers[rank].close()
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: a group whose peer died can abort in its C++ destructors
    # ("terminate called without an active exception"), a second line on stderr.
    os._exit(0)


def _log(line: str) -> None:
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def _init_group(device: str, rank: int, world: int, store=None) -> None:
    """Join the process group: through `store`, or torchrun's environment (env://)."""
    backend = "nccl" if device == "cuda" else "gloo"
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    where = {"store": store} if store is not None else {"init_method": "env://"}
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=TIMEOUT, **where)


def _end_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _device(device: str, local_rank: int) -> str:
    return f"cuda:{local_rank}" if device == "cuda" else "cpu"


def _how(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}" if exitcode else "exited without a result"


def _last_checkpoint(path) -> str:
    if not path or not os.path.exists(path):
        return "No checkpoint was written."
    try:
        step = load_checkpoint(path).step
    except CheckpointError as exc:
        return f"The checkpoint could not be read back: {exc}"
    return f"The last checkpoint, {path} (step {step}), is intact: continue with --resume."
