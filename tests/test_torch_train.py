"""`rnn-lab train --engine torch`: the same job as the NumPy engine, the same checkpoints,
DistributedDataParallel over two gloo processes, and one-line errors (skipped without torch)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnn.checkpoint import load_checkpoint, save_checkpoint
from rnn.training import TrainConfig, Trainer

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: threads only cost, on a shared 2-core machine

from rnn.torch_engine.launch import TorchRun
from rnn.torch_engine.trainer import TorchTrainer

ROOT = Path(__file__).resolve().parents[1]
TEXT = "the quick brown fox jumps over the lazy dog. " * 30
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT)}
CLOSE = {"rtol": 0, "atol": 1e-10}


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def _config(**kw):
    base = {"task": "adding", "cell": "lstm", "hidden": 6, "seq_len": 5, "batch": 4,
            "lr": 0.02, "steps": 5, "val_every": 3, "val_size": 16}
    return TrainConfig(**{**base, **kw})


def _assert_same_run(a, b):
    """Two checkpoints of the same run: weights, optimizer, history, RNG and carried state."""
    a, b = load_checkpoint(a), load_checkpoint(b)
    assert a.step == b.step and a.config == b.config and a.rng_state == b.rng_state
    for group in ("params", "optim", "history"):
        x, y = getattr(a, group), getattr(b, group)
        assert sorted(x) == sorted(y), group
        for name in x:
            assert x[name].dtype == y[name].dtype, name
            np.testing.assert_allclose(y[name], x[name], err_msg=f"{group}/{name}", **CLOSE)
    assert len(a.carry) == len(b.carry)
    for x, y in zip(a.carry, b.carry):
        np.testing.assert_allclose(y, x, **CLOSE)


def rnn_lab(*args, timeout=240, env=ENV):
    return subprocess.run([sys.executable, "-m", "rnn", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def assert_one_line_error(result, status, words):
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert words in lines[0], lines[0]


# -- the same job ------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"task": "adding", "cell": "lstm"},
    {"task": "copy", "cell": "mgu", "optimizer": "sgd", "momentum": 0.5, "seq_len": 3},
    {"task": "reber", "cell": "gru", "clip": 0.0},
    {"task": "adding", "cell": "peephole", "dtype": "float32", "clip": 0.05},
])
def test_torch_trains_as_the_numpy_engine_does(tmp_path, kw):
    config = _config(**kw)
    Trainer.from_config(config, checkpoint=str(tmp_path / "numpy.npz")).fit()
    record = Trainer.from_config(config, checkpoint=str(tmp_path / "torch.npz"))
    TorchTrainer(record, progress=False).fit()
    if config.dtype == "float32":
        a, b = load_checkpoint(tmp_path / "numpy.npz"), load_checkpoint(tmp_path / "torch.npz")
        for name in a.params:
            np.testing.assert_allclose(b.params[name], a.params[name], rtol=0, atol=1e-5)
    else:
        _assert_same_run(tmp_path / "numpy.npz", tmp_path / "torch.npz")


def test_runs_resume_with_either_engine(tmp_path, corpus_file):
    config = TrainConfig(task="text", text=corpus_file, cell="lstm", hidden=6, seq_len=4,
                         batch=3, lr=0.02, steps=6, val_every=4)
    whole = str(tmp_path / "whole.npz")
    Trainer.from_config(config, checkpoint=whole).fit()
    for first, then in ((TorchTrainer, Trainer), (Trainer, TorchTrainer)):
        path = str(tmp_path / f"{first.__name__}.npz")
        record = Trainer.from_config(config, checkpoint=path)
        (first(record, progress=False) if first is TorchTrainer else record).fit(3)
        again = Trainer.resume(path, text_path=corpus_file)
        (then(again, progress=False) if then is TorchTrainer else again).fit()
        _assert_same_run(whole, path)


# -- several processes --------------------------------------------------------------------


def test_two_gloo_processes_equal_one_on_the_same_global_batch(tmp_path, corpus_file,
                                                              monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # An odd batch gives the ranks shards of 3 and 2; the text problem carries its state.
    config = TrainConfig(task="text", text=corpus_file, cell="lstm", hidden=6, seq_len=4,
                         batch=5, lr=0.02, steps=5, val_every=5)
    one, two = str(tmp_path / "one.npz"), str(tmp_path / "two.npz")
    TorchRun.from_config(config, checkpoint=one, nproc=1, progress=False).fit()
    run = TorchRun.from_config(config, checkpoint=two, nproc=2, progress=False)
    history = run.fit()
    assert run.step == 5 and len(history["loss"]) == 5
    _assert_same_run(one, two)


def test_a_torch_run_samples_inspects_and_resumes_from_the_command_line(tmp_path,
                                                                        corpus_file):
    path = str(tmp_path / "run.npz")
    common = ["--checkpoint", path, "--no-progress"]
    result = rnn_lab("train", "--engine", "torch", "--task", "text", "--text", corpus_file,
                     "--cell", "mgu", "--hidden", "8", "--seq-len", "5", "--batch", "4",
                     "--steps", "4", "--val-every", "2", *common)
    assert result.returncode == 0, result.stderr
    assert "PyTorch on cpu" in result.stdout and "done: step 4" in result.stdout
    result = rnn_lab("sample", path, "--prime", "the", "--length", "20")
    assert result.returncode == 0 and result.stdout.startswith("the"), result.stderr
    out = tmp_path / "inspected"
    result = rnn_lab("inspect", path, "--text", corpus_file, "-o", str(out))
    assert result.returncode == 0 and (out / "index.html").exists(), result.stderr
    result = rnn_lab("train", "--resume", "--steps", "6", "--text", corpus_file, *common)
    assert result.returncode == 0 and "done: step 6" in result.stdout, result.stderr


def _children(pid: int) -> list[int]:
    """The rank processes a supervisor started (not multiprocessing's resource tracker)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                kids.append(int(child))
    return kids


def _start_long_run(tmp_path, corpus_file, *extra):
    path = tmp_path / "long.npz"
    process = subprocess.Popen(
        [sys.executable, "-m", "rnn", "train", "--engine", "torch", "--nproc", "2", "--task",
         "text", "--text", corpus_file, "--hidden", "8", "--seq-len", "5", "--batch", "4",
         "--steps", "1000000", "--val-every", "1000", "--checkpoint", str(path),
         "--no-progress", *extra],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.exists(), process.communicate(timeout=60)
    return process, path


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_a_rank_that_dies_ends_the_run_and_the_checkpoint_stays_intact(tmp_path, corpus_file):
    process, path = _start_long_run(tmp_path, corpus_file, "--save-every", "3")
    os.kill(min(_children(process.pid)), signal.SIGKILL)  # most likely rank 0, the writer
    out, err = process.communicate(timeout=120)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert_one_line_error(result, 1, " of 2 was killed by SIGKILL; the run stopped")
    assert re.search(r"rank [01] of 2", err) and "is intact: continue with --resume" in err
    assert load_checkpoint(path).step % 3 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "long.npz"]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_sigterm_stops_every_rank_and_rank_0_saves(tmp_path, corpus_file):
    process, path = _start_long_run(tmp_path, corpus_file, "--save-every", "5")
    ranks = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err  # 128 + SIGTERM, as for the NumPy engine
    assert "interrupted (SIGTERM) at step" in err and "checkpoint saved" in err
    step = int(re.search(r"at step (\d+);", err).group(1))
    assert load_checkpoint(path).step == step
    assert not any(Path(f"/proc/{pid}").exists() for pid in ranks)


# -- one-line errors ----------------------------------------------------------------------


def test_device_and_nproc_need_the_torch_engine():
    result = rnn_lab("train", "--nproc", "2")
    assert_one_line_error(result, 2, "--device and --nproc need --engine torch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_one_line():
    result = rnn_lab("train", "--engine", "torch", "--device", "cuda", "--steps", "1")
    assert_one_line_error(result, 1, "torch.cuda.is_available() is False")


def test_more_processes_than_cores_is_one_line(tmp_path):
    result = rnn_lab("train", "--engine", "torch", "--nproc", "4096", "--steps", "1",
                     "--checkpoint", str(tmp_path / "x.npz"))
    assert_one_line_error(result, 1, "--nproc 4096")


def test_missing_torch_is_one_line_with_the_install_command(tmp_path):
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    result = rnn_lab("train", "--engine", "torch", "--steps", "1", env=env)
    assert_one_line_error(result, 1, "pip install 'rnn-lab[torch]'")


def test_a_checkpoint_of_another_size_is_one_line(tmp_path):
    path = str(tmp_path / "run.npz")
    Trainer.from_config(_config(steps=1), checkpoint=path).fit()
    ckpt = load_checkpoint(path)
    ckpt.config["hidden"] = 7  # the arrays stay those of hidden 6
    save_checkpoint(path, ckpt)
    result = rnn_lab("train", "--engine", "torch", "--resume", "--checkpoint", path)
    assert_one_line_error(result, 1, "the config needs")
