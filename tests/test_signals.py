"""Real processes stopped by real signals: SIGTERM is handled like Ctrl-C. `train` saves its
checkpoint and exits 143; `experiment` and `demo` end every worker, leave only whole files and
no empty folder they made. Also: `sample` streams its text and keeps it on Ctrl-C, and an
ASCII-only terminal gets escapes instead of a UnicodeEncodeError."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rnn.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (from /proc)."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(entry))
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Run:
    """`rnn-lab args` in the background, its stdout read line by line."""

    def __init__(self, args, cwd, env=ENV):
        self.proc = subprocess.Popen([sys.executable, "-m", "rnn", *map(str, args)], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, marker: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"ended before {marker!r}: {''.join(self.seen)}"
            self.seen.append(line)
            if marker in line:
                return

    def stop(self, signum, timeout: float = 60) -> tuple[int, str]:
        """Send `signum`; (exit status, stderr)."""
        self.proc.send_signal(signum)
        try:
            err = self.proc.stderr.read()
            status = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=10)
        return status, err


def wait_until_gone(pids, timeout: float = 10) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def wait_for_children(pid: int, n: int, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children(pid)
        if len(kids) >= n:
            return kids
        time.sleep(0.1)
    pytest.fail(f"fewer than {n} worker processes started")


def leftovers(folder: Path) -> list[Path]:
    """Temporary files and empty folders under `folder`."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name
            or (p.is_dir() and not any(p.iterdir()))]


def test_sigterm_during_training_saves_the_checkpoint_and_exits_143(tmp_path):
    run = Run(["train", "--task", "adding", "--seq-len", "10", "--hidden", "8", "--steps",
               "10000000", "--val-every", "20", "--checkpoint", "run.npz", "--no-progress"],
              tmp_path)
    run.wait_for("loss")  # a validation line: 20 steps done
    status, err = run.stop(signal.SIGTERM)
    assert status == 143, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "SIGTERM" in err and "checkpoint saved to run.npz" in err and "--resume" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    saved = load_checkpoint(tmp_path / "run.npz")
    assert saved.step >= 20 and len(saved.history["loss"]) == saved.step


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_experiment_stopped_ends_its_workers_and_leaves_no_folder(signum, tmp_path):
    run = Run(["experiment", "long-term", "--quick", "--steps", "1000000", "--workers", "2",
               "--out", "out", "--no-progress"], tmp_path)
    run.wait_for("long-term:")
    workers = wait_for_children(run.proc.pid, 2)
    time.sleep(1.0)  # the workers are training
    status, err = run.stop(signum)
    assert status == 128 + signum, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert wait_until_gone(workers) == set()
    assert list(tmp_path.iterdir()) == []  # the empty --out it made is gone too


def test_sweep_stopped_keeps_every_finished_run_and_a_rerun_trains_only_the_rest(tmp_path):
    args = ["experiment", "sweep", "--quick", "--tasks", "adding", "--cells", "rnn,lstm",
            "--T", "40", "--hidden", "4", "--batch", "4", "--steps", "200", "--seeds", "2",
            "--val-size", "8", "--test-size", "8", "--val-every", "100", "--out", "out",
            "--no-progress", "--workers", "2"]
    run = Run(args, tmp_path)
    run.wait_for("seed=")
    run.wait_for("seed=")  # two runs finished, the other 6 not all
    status, err = run.stop(signal.SIGINT)
    assert status == 130 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    kept = sorted((tmp_path / "out" / "runs").glob("*.json"))
    assert 2 <= len(kept) < 8
    assert leftovers(tmp_path) == []  # whole files only
    again = subprocess.run([sys.executable, "-m", "rnn", *args], cwd=tmp_path, env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{8 - len(kept)} runs trained, {len(kept)} from the cache" in again.stdout


def test_demo_stopped_by_sigterm_ends_its_workers_and_leaves_whole_files(tmp_path):
    run = Run(["demo", "--quick", "--out", "out", "--no-progress"], tmp_path)
    run.wait_for("adding problem:")
    workers = wait_for_children(run.proc.pid, 2)
    time.sleep(0.5)
    status, err = run.stop(signal.SIGTERM)
    assert status == 143, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "interrupted (SIGTERM)" in err
    assert wait_until_gone(workers) == set()
    out = tmp_path / "out"
    assert (out / "derivation.txt").stat().st_size > 0  # part 1 had finished
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    (folder / "text.txt").write_text("naïve café, déjà vu; über straße. " * 40, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "rnn", "train", "--task", "text", "--text",
                           "text.txt", "--steps", "2", "--hidden", "8", "--seq-len", "8",
                           "--batch", "2", "--checkpoint", "m.npz", "--no-progress"],
                          cwd=folder, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return folder / "m.npz"


def test_sample_streams_and_keeps_its_text_on_ctrl_c(text_model, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "rnn", "sample", str(text_model),
                             "--prime", "caf", "--length", "100000000"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        first = proc.stdout.read(200)  # shown while it is still drawing
        assert first.startswith(b"caf") and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and len(err.decode().strip().splitlines()) == 1
    assert (first + rest).endswith(b"\n")  # what was drawn is kept, the line ended


def test_tiny_temperature_is_greedy(text_model):
    outs = {subprocess.run([sys.executable, "-m", "rnn", "sample", str(text_model), "--prime",
                            "caf", "--length", "40", "--temperature", "1e-320", "--seed", s],
                           env=ENV, capture_output=True, text=True, timeout=120).stdout
            for s in ("1", "2")}
    assert len(outs) == 1  # no randomness left: the likeliest character every time
    (out,) = outs
    assert out.startswith("caf") and len(out) == 44


@pytest.mark.parametrize("args", [["derive", "lstm"], ["derive", "gru", "--latex"],
                                  ["sample", "{model}", "--prime", "déjà", "--length", "30"]])
def test_an_ascii_terminal_gets_escapes_not_a_traceback(args, text_model):
    args = [a.format(model=text_model) for a in args]
    done = subprocess.run([sys.executable, "-m", "rnn", *args], capture_output=True,
                          env={**ENV, "PYTHONIOENCODING": "ascii"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    done.stdout.decode("ascii")  # nothing but ASCII reached the terminal
