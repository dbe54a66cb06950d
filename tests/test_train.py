"""Tests for rnn.training and the train/sample commands: losses, models, the Trainer,
bit-identical resumption, Ctrl-C handling, sampling, and the CLI's error paths."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from autograd_lite.tensor import Tensor
from rnn.cells import cell_names
from rnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rnn.data import DataError, Vocab
from rnn.errors import UserError
from rnn.plots import plot_history
from rnn.training import (
    CharModel,
    RegressionModel,
    TrainConfig,
    Trainer,
    TrainingError,
    TrainingInterrupted,
    model_from_checkpoint,
    mse_loss,
    sample,
    sequence_cross_entropy,
)

PYTHON = sys.executable
TEXT = "the quick brown fox jumps over the lazy dog. " * 30
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "100"}


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def _adding(**kw):
    base = dict(task="adding", cell="lstm", hidden=8, seq_len=6, batch=4, lr=0.01,
                steps=12, val_every=5, val_size=16)
    return TrainConfig(**{**base, **kw})


def _text(path, **kw):
    base = dict(task="text", text=path, cell="lstm", hidden=8, seq_len=5, batch=3, lr=0.01,
                steps=12, val_every=5)
    return TrainConfig(**{**base, **kw})


# -- losses and models ---------------------------------------------------------------------


def test_sequence_cross_entropy_matches_numpy():
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 3))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    assert sequence_cross_entropy(Tensor(logits), targets).item() == pytest.approx(
        -picked.mean())
    mask = (rng.random((4, 3)) > 0.4).astype(float)
    assert sequence_cross_entropy(Tensor(logits), targets, mask).item() == pytest.approx(
        -(picked * mask).sum() / mask.sum())


def test_masked_steps_get_no_gradient():
    logits = Tensor(np.zeros((2, 1, 3)), requires_grad=True)
    sequence_cross_entropy(logits, np.array([[1], [2]]), np.array([[1.0], [0.0]])).backward()
    assert np.all(logits.grad[1] == 0) and np.any(logits.grad[0] != 0)


def test_mse_loss():
    assert mse_loss(Tensor(np.array([1.0, 3.0])), np.array([0.0, 0.0])).item() == 5.0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "peephole"])
def test_char_model_shapes(cell):
    model = CharModel(7, 5, cell, rng=0)
    logits, state = model(np.zeros((4, 2), dtype=np.int64))
    assert logits.shape == (4, 2, 7)
    logits, _ = model(np.zeros((1, 2), dtype=np.int64), state)  # state carries over
    assert logits.shape == (1, 2, 7)


def test_char_model_embedding_and_regression_model():
    model = CharModel(7, 5, "gru", embedding_dim=3, rng=0)
    assert "embed.weight" in dict(model.named_parameters())
    assert model(np.zeros((4, 2), dtype=np.int64))[0].shape == (4, 2, 7)
    reg = RegressionModel(2, 5, "rnn", rng=0)
    assert reg(Tensor(np.zeros((6, 3, 2))))[0].shape == (3, 1)


def test_config_errors_are_user_errors():
    with pytest.raises(UserError, match="needs --text"):
        TrainConfig(task="text")
    with pytest.raises(UserError, match="--hidden"):
        TrainConfig(hidden=0)
    with pytest.raises(UserError, match="only used with --task text"):
        TrainConfig(task="adding", text="x.txt")
    with pytest.raises(UserError, match="hidden=8.0"):
        TrainConfig(hidden=8.0)
    with pytest.raises(UserError, match="fused=1"):
        TrainConfig(fused=1)


# -- training ------------------------------------------------------------------------------


def test_adding_problem_loss_falls():
    cfg = TrainConfig(task="adding", cell="lstm", hidden=16, seq_len=10, batch=32, lr=0.01,
                      steps=300, val_every=100, val_size=256)
    trainer = Trainer.from_config(cfg, progress=False)
    history = trainer.fit()
    assert history["val_loss"][0] > 0.1  # starts near the 1/6 baseline
    assert history["val_loss"][-1] < 0.05
    assert len(history["loss"]) == len(history["grad_norm"]) == 300
    assert history["val_step"] == [100, 200, 300]


def test_tiny_corpus_loss_falls(corpus_file):
    cfg = _text(corpus_file, hidden=32, seq_len=16, batch=8, steps=150, val_every=50)
    trainer = Trainer.from_config(cfg, progress=False)
    history = trainer.fit()
    assert np.mean(history["loss"][:5]) > 2.0
    assert np.mean(history["loss"][-10:]) < 0.5
    assert "val_bits_per_char" in history


@pytest.mark.parametrize("task", ["copy", "reber"])
def test_token_tasks_train(task):
    cfg = TrainConfig(task=task, hidden=8, seq_len=3, batch=4, steps=4, val_every=2,
                      val_size=8, optimizer="sgd", momentum=0.9, lr=0.1)
    history = Trainer.from_config(cfg, progress=False).fit()
    assert len(history["loss"]) == 4 and np.all(np.isfinite(history["loss"]))
    metric = "val_recall_accuracy" if task == "copy" else "val_key_accuracy"
    assert len(history[metric]) == 2


def test_clipping_logs_the_norm_before_clipping():
    trainer = Trainer.from_config(_adding(clip=1e-6, steps=3), progress=False)
    trainer.fit()
    assert len(trainer.history["grad_norm"]) == 3
    assert all(n > 1e-6 for n in trainer.history["grad_norm"])


def test_clipped_sgd_step_moves_at_most_lr_times_clip():
    trainer = Trainer.from_config(_adding(clip=1e-6, steps=1, optimizer="sgd", lr=1.0),
                                  progress=False)
    before = trainer.model.state_dict()
    trainer.fit()
    after = trainer.model.state_dict()
    moved = np.sqrt(sum(((after[k] - before[k]) ** 2).sum() for k in before))
    assert 0 < moved <= 1e-6 * (1 + 1e-6)


def test_nan_loss_raises_training_error():
    trainer = Trainer.from_config(_adding(), progress=False)
    w = trainer.model.decoder.weight
    w.assign(np.full(w.shape, np.nan))
    with pytest.raises(TrainingError, match="loss became nan at step 1"):
        trainer.fit()


# -- checkpoints and resumption --------------------------------------------------------------


def _assert_identical(a: Trainer, b: Trainer):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert sa[k].tobytes() == sb[k].tobytes(), k
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    for k in oa:
        assert np.asarray(oa[k]).tobytes() == np.asarray(ob[k]).tobytes(), k
    assert a.history == b.history
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.step == b.step


@pytest.mark.parametrize("cell", cell_names())
def test_a_text_run_of_every_cell_resumes_bit_identically(tmp_path, corpus_file, cell):
    cfg = _text(corpus_file, steps=4, cell=cell)  # the carried text state: one per state
    full = Trainer.from_config(cfg, progress=False)
    full.fit()
    path = str(tmp_path / "half.npz")
    Trainer.from_config(cfg, progress=False, checkpoint=path).fit(2)
    resumed = Trainer.resume(path, progress=False, text_path=corpus_file)
    resumed.fit()
    _assert_identical(full, resumed)


@pytest.mark.parametrize("kind", ["adding", "adding-peephole-float32", "text", "text-gru-sgd"])
def test_resume_is_bit_identical(tmp_path, corpus_file, kind):
    if kind == "adding":
        cfg = _adding(steps=12)
    elif kind == "adding-peephole-float32":
        cfg = _adding(steps=12, cell="peephole", dtype="float32")
    elif kind == "text":
        cfg = _text(corpus_file, steps=12)
    else:
        cfg = _text(corpus_file, steps=12, cell="gru", optimizer="sgd", momentum=0.9, lr=0.1)
    full = Trainer.from_config(cfg, progress=False)
    full.fit()
    path = str(tmp_path / "half.npz")
    first = Trainer.from_config(cfg, progress=False, checkpoint=path)
    first.fit(5)
    resumed = Trainer.resume(path, progress=False,
                             text_path=corpus_file if cfg.task == "text" else None)
    assert resumed.step == 5
    resumed.fit()
    _assert_identical(full, resumed)


def test_resume_in_a_fresh_process(tmp_path):
    cfg = _adding(steps=10)
    full = Trainer.from_config(cfg, progress=False)
    full.fit()
    path = str(tmp_path / "run.npz")
    Trainer.from_config(cfg, progress=False, checkpoint=path).fit(4)
    code = ("import sys\nfrom rnn.training import Trainer\n"
            "t = Trainer.resume(sys.argv[1], progress=False)\nt.fit()\n")
    subprocess.run([PYTHON, "-c", code, path], check=True, env=ENV)
    done = Trainer.resume(path, progress=False)
    assert done.step == 10
    _assert_identical(full, done)


def test_checkpoint_with_wrong_shapes_for_its_config(tmp_path):
    path = str(tmp_path / "run.npz")
    trainer = Trainer.from_config(_adding(steps=2), progress=False, checkpoint=path)
    trainer.fit()
    ckpt = load_checkpoint(path)
    ckpt.config["hidden"] = 9  # parameters were made for hidden 8
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError, match=r"run\.npz.*shape"):
        Trainer.resume(path, progress=False)
    with pytest.raises(CheckpointError, match=r"run\.npz.*shape"):
        model_from_checkpoint(load_checkpoint(path))
    ckpt.config["hidden"] = 8
    ckpt.config["dtype"] = "float32"
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError, match="dtype"):
        Trainer.resume(path, progress=False)
    ckpt.config["dtype"] = "float64"
    ckpt.config["bogus"] = 1
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError, match="bogus"):
        Trainer.resume(path, progress=False)


def test_sigint_finishes_the_step_saves_and_resumes_identically(tmp_path):
    cfg = _adding(steps=10)
    full = Trainer.from_config(cfg, progress=False)
    full.fit()
    path = str(tmp_path / "run.npz")
    trainer = Trainer.from_config(cfg, progress=False, checkpoint=path)
    original = trainer.problem.batch

    def batch_then_ctrl_c(step, rng):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return original(step, rng)

    trainer.problem.batch = batch_then_ctrl_c
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit()
    assert info.value.path == path and info.value.step == 4
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    resumed = Trainer.resume(path, progress=False)
    assert resumed.step == 4
    resumed.fit()
    _assert_identical(full, resumed)


# -- sampling and plots ----------------------------------------------------------------------


def test_sample_is_seeded_and_starts_with_the_prime():
    vocab = Vocab.from_text("abc ")
    model = CharModel(len(vocab), 6, "lstm", rng=0)
    a = sample(model, vocab, "ab", 30, 0.8, np.random.default_rng(1))
    b = sample(model, vocab, "ab", 30, 0.8, np.random.default_rng(1))
    assert a == b and a.startswith("ab") and len(a) == 32 and set(a) <= set("abc ")
    with pytest.raises(DataError, match="--prime has characters not in the vocabulary: 'z'"):
        sample(model, vocab, "az", 5)
    with pytest.raises(UserError, match="temperature"):
        sample(model, vocab, "a", 5, temperature=0)


def test_low_temperature_is_greedy():
    vocab = Vocab.from_text("ab")
    model = CharModel(2, 4, "rnn", rng=0)
    outs = {sample(model, vocab, "a", 10, 1e-6, np.random.default_rng(s)) for s in range(4)}
    assert len(outs) == 1


def test_plot_history_writes_png(tmp_path):
    history = {"loss": list(np.linspace(2, 0.1, 50)), "grad_norm": [1.0] * 50,
               "val_step": [25, 50], "val_loss": [1.0, 0.2]}
    path = tmp_path / "h.png"
    plot_history(history, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the command line ----------------------------------------------------------------------


def _cli(*args, cwd=None, timeout=120):
    return subprocess.run([PYTHON, "-m", "rnn", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=ENV)


def _one_line_error(result, status=1, *words):
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("command", ["train", "sample"])
def test_help_has_an_example(command):
    result = _cli(command, "--help")
    assert result.returncode == 0 and "example" in result.stdout and "rnn-lab" in result.stdout


@pytest.mark.parametrize("args", [
    ["train", "--cell", "transformer"],
    ["train", "--steps", "many"],
    ["sample"],
])
def test_bad_arguments_exit_2(args):
    result = _cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    (b"\xff\xfeh\x00i\x00", "binary"),
    (b"na\xefve caf\xe9", "not valid UTF-8"),
])
def test_bad_text_files_exit_1(tmp_path, content, words):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    result = _cli("train", "--task", "text", "--text", path, "--steps", 1,
                  "--checkpoint", tmp_path / "c.npz")
    _one_line_error(result, 1, str(path), words)


@pytest.mark.parametrize("args, words", [
    (["--checkpoint", "{tmp}/no/c.npz"], "does not exist"),
    (["--task", "text", "--text", "{corpus}", "--batch", "500", "--checkpoint", "{tmp}/c.npz"],
     "too few"),
    (["--resume", "--checkpoint", "{tmp}/absent.npz"], "absent.npz"),
])
def test_user_errors_exit_1(tmp_path, corpus_file, args, words):
    args = [a.format(tmp=tmp_path, corpus=corpus_file) for a in args]
    _one_line_error(_cli("train", "--steps", 1, *args), 1, words)


@pytest.mark.parametrize("args, words", [
    (["--task", "text", "--checkpoint", "{tmp}/c.npz"], "--text"),
    (["--hidden", "0", "--checkpoint", "{tmp}/c.npz"], "--hidden"),
    (["--resume"], "--resume needs --checkpoint"),
])
def test_usage_errors_exit_2(tmp_path, corpus_file, args, words):
    args = [a.format(tmp=tmp_path, corpus=corpus_file) for a in args]
    _one_line_error(_cli("train", "--steps", 1, *args), 2, words)


def test_corrupt_checkpoint_exits_1(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    _one_line_error(_cli("sample", bad), 1, str(bad))
    _one_line_error(_cli("train", "--resume", "--checkpoint", bad), 1, str(bad))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _one_line_error(_cli("sample", empty), 1, "empty")


def test_train_resume_and_sample_end_to_end(tmp_path, corpus_file):
    ckpt, png = tmp_path / "fox.npz", tmp_path / "fox.png"
    result = _cli("train", "--task", "text", "--text", corpus_file, "--hidden", 16,
                  "--seq-len", 8, "--batch", 4, "--steps", 20, "--val-every", 10,
                  "--checkpoint", ckpt, "--plot", png, "--lr", 0.01)
    assert result.returncode == 0, result.stderr
    assert "step     10" in result.stdout and f"checkpoint: {ckpt}" in result.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert load_checkpoint(ckpt).step == 20
    result = _cli("train", "--checkpoint", ckpt, "--resume", "--steps", 30)
    _one_line_error(result, 1, "needs its text", "--text FILE", "corpus.txt")
    result = _cli("train", "--checkpoint", ckpt, "--resume", "--steps", 30, "--text",
                  corpus_file)
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(ckpt).step == 30
    _one_line_error(_cli("train", "--checkpoint", ckpt, "--resume", "--hidden", 32, "--text",
                         corpus_file), 1, "--hidden 32 differs")
    result = _cli("sample", ckpt, "--prime", "the ", "--length", 40, "--temperature", 0.5,
                  "--seed", 3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the ") and len(result.stdout) == 45
    assert result.stdout == _cli("sample", ckpt, "--prime", "the ", "--length", 40,
                                 "--temperature", 0.5, "--seed", 3).stdout
    _one_line_error(_cli("sample", ckpt, "--prime", "QZ"), 1, "'Q', 'Z'")
    _one_line_error(_cli("sample", ckpt, "--temperature", -1), 2, "temperature")


def test_sample_needs_a_text_model(tmp_path):
    ckpt = tmp_path / "adding.npz"
    assert _cli("train", "--steps", 2, "--seq-len", 4, "--hidden", 4,
                "--checkpoint", ckpt).returncode == 0
    _one_line_error(_cli("sample", ckpt), 1, "not text")


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    ckpt = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [PYTHON, "-m", "rnn", "train", "--task", "adding", "--seq-len", "10", "--hidden", "8",
         "--steps", "10000000", "--val-every", "50", "--checkpoint", str(ckpt), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        first = proc.stdout.readline()
        assert first.startswith("training"), first
        assert proc.stdout.readline().startswith("step")  # a few steps have run
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"checkpoint saved to {ckpt}" in err and "--resume" in err
    saved = load_checkpoint(ckpt)
    assert saved.step >= 50 and saved.config["steps"] == 10**7
    assert len(saved.history["loss"]) == saved.step
    assert [f for f in os.listdir(tmp_path)] == ["run.npz"]
