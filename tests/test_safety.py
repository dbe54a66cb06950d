"""Nothing a user owns is lost and nothing is silently wrong: checkpoints are not replaced by a
new run, a resumed run writes through a link and reads only the text it is given (checked by
its hash), old checkpoints still load, sizes beyond the machine are refused before anything is
allocated, and figures, plots and samples are what their names and flags say."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnn import cli, draw, io
from rnn.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from rnn.data import DataError, Vocab, read_text
from rnn.draw import rendering
from rnn.errors import ResourceError, UserError
from rnn.experiment import LongTermConfig, cores, pool_size
from rnn.plots import plot_history
from rnn.resources import ENV, format_size, memory_limit, parse_size
from rnn.training import CharModel, TrainConfig, Trainer, sample
from rnn.training.budget import check_budget, estimate
from rnn.training.sampling import next_probabilities

TEXT = "the quick brown fox jumps over the lazy dog. " * 30
TRAIN = ["train", "--steps", "2", "--hidden", "4", "--seq-len", "4", "--batch", "2",
         "--val-every", "1", "--no-progress"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV, "")  # unset (the default limit), restored afterwards
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


def main(*args):
    try:
        return cli.main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


# ---- checkpoints are not replaced by accident -----------------------------------------------


def test_a_new_run_refuses_to_replace_a_checkpoint_until_forced(here, capsys):
    assert main(*TRAIN, "--steps", "3", "--checkpoint", "run.npz") == 0
    before = (here / "run.npz").read_bytes()
    assert main(*TRAIN, "--checkpoint", "run.npz") == 1
    assert "run.npz already exists (a checkpoint of lstm on adding at step 3)" in \
        capsys.readouterr().err
    assert (here / "run.npz").read_bytes() == before
    assert main(*TRAIN, "--checkpoint", "run.npz", "--force") == 0
    assert load_checkpoint(here / "run.npz").step == 2


def test_resume_through_a_link_updates_its_target_and_keeps_the_link(here):
    assert main(*TRAIN, "--checkpoint", "run7.npz") == 0
    os.symlink("run7.npz", here / "latest.npz")
    assert main("train", "--resume", "--checkpoint", "latest.npz", "--steps", "4",
                "--no-progress") == 0
    assert (here / "latest.npz").is_symlink() and os.readlink(here / "latest.npz") == "run7.npz"
    assert load_checkpoint(here / "run7.npz").step == 4
    assert sorted(p.name for p in here.iterdir()) == ["latest.npz", "run7.npz", "text.txt"]


# ---- a text run keeps the text's name and hash, not its path --------------------------------


def test_checkpoint_keeps_the_texts_name_and_hash_and_resumes_from_a_moved_text(here):
    assert main(*TRAIN, "--task", "text", "--text", here / "text.txt",
                "--checkpoint", "c.npz") == 0
    config = load_checkpoint(here / "c.npz").config
    assert config["text"] == "text.txt" and len(config["text_sha256"]) == 64
    (here / "moved").mkdir()
    os.replace(here / "text.txt", here / "moved" / "renamed.txt")
    assert main("train", "--resume", "--checkpoint", "c.npz", "--steps", "3", "--text",
                "moved/renamed.txt", "--no-progress") == 0
    assert load_checkpoint(here / "c.npz").step == 3


def test_resume_never_reads_a_path_the_checkpoint_names(here, capsys):
    assert main(*TRAIN, "--task", "text", "--text", "text.txt", "--checkpoint", "c.npz") == 0
    ckpt = load_checkpoint(here / "c.npz")
    ckpt.config = {**ckpt.config, "text": "/etc/passwd"}  # crafted
    save_checkpoint(here / "c.npz", ckpt)
    assert main("train", "--resume", "--checkpoint", "c.npz", "--steps", "3",
                "--no-progress") == 1
    assert "give --text FILE" in capsys.readouterr().err


def test_a_checkpoint_from_before_the_hash_still_resumes_and_samples(here, capsys):
    assert main(*TRAIN, "--task", "text", "--text", "text.txt", "--checkpoint", "c.npz") == 0
    old = load_checkpoint(here / "c.npz")
    config = dict(old.config)
    del config["text_sha256"]
    old.config = {**config, "text": str(here / "text.txt")}  # the old form: an absolute path
    save_checkpoint(here / "c.npz", old)
    assert main("sample", "c.npz", "--length", "5") == 0
    assert main("train", "--resume", "--checkpoint", "c.npz", "--steps", "3", "--text",
                "text.txt", "--no-progress") == 0
    migrated = load_checkpoint(here / "c.npz").config
    assert migrated["text"] == "text.txt" and len(migrated["text_sha256"]) == 64


def test_old_checkpoints_with_options_that_did_nothing_still_load(here):
    assert main(*TRAIN, "--checkpoint", "c.npz") == 0
    old = load_checkpoint(here / "c.npz")
    old.config = {**old.config, "momentum": 0.9, "embedding": 8}  # once silently ignored
    save_checkpoint(here / "c.npz", old)
    assert main("train", "--resume", "--checkpoint", "c.npz", "--steps", "3",
                "--no-progress") == 0
    assert load_checkpoint(here / "c.npz").config["momentum"] == 0.0


def test_library_resume_of_a_text_run_needs_the_text(here):
    cfg = TrainConfig(task="text", text=str(here / "text.txt"), hidden=4, seq_len=4, batch=2,
                      steps=2, val_every=1)
    Trainer.from_config(cfg, checkpoint="c.npz", progress=False).fit()
    assert cfg.text == str(here / "text.txt")  # the caller's config is left alone
    with pytest.raises(UserError, match="needs its text"):
        Trainer.resume("c.npz")
    (here / "other.txt").write_text(TEXT.upper(), encoding="utf-8")
    with pytest.raises(UserError, match="not the text this run was trained on"):
        Trainer.resume("c.npz", text_path="other.txt")
    assert Trainer.resume("c.npz", text_path="text.txt").step == 2


# ---- memory: estimated before anything is allocated -----------------------------------------


@pytest.mark.parametrize("text, size", [("8GB", 8 * 10**9), ("512MiB", 512 * 2**20),
                                        ("1.5 kB", 1500), ("1000", 1000), ("2e3", 2000)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "8 parsecs", "-1GB", "0"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_memory_limit_follows_the_environment(monkeypatch):
    monkeypatch.setenv(ENV, "2GB")
    assert memory_limit() == 2 * 10**9
    monkeypatch.setenv(ENV, "plenty")
    with pytest.raises(ResourceError, match=ENV):
        memory_limit()
    monkeypatch.delenv(ENV)
    assert 10**8 < memory_limit() < 2**63


def test_the_default_run_fits_easily_and_huge_sizes_do_not(monkeypatch):
    monkeypatch.setenv(ENV, "")
    assert sum(estimate(TrainConfig()).values()) < 100 * 2**20
    for big in (dict(hidden=100_000), dict(batch=10**9), dict(seq_len=10**9),
                dict(layers=100, hidden=4000)):
        with pytest.raises(ResourceError, match="more than the limit"):
            check_budget(TrainConfig(**big))


def test_the_budget_is_checked_before_building(monkeypatch):
    monkeypatch.setenv(ENV, "1MB")
    with pytest.raises(ResourceError, match=r"needs about .* more than the limit of 1.0 MB"):
        Trainer.from_config(TrainConfig(hidden=512))


def test_a_text_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    with open(path, "wb") as f:
        f.truncate(10**9)  # sparse: a gigabyte that takes no disk
    monkeypatch.setenv(ENV, "1GB")
    with pytest.raises(DataError, match=r"big.txt: 1.0 GB is more text than fits in memory"):
        read_text(path)


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match="named pipe"):
        read_text(tmp_path / "pipe")


def test_the_zip_directory_is_checked_against_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, _tiny_checkpoint())
    monkeypatch.setenv(ENV, "100B")
    with pytest.raises(CheckpointError, match="unpacks to .* more than the memory limit"):
        load_checkpoint(path)


def _tiny_checkpoint():
    return Checkpoint(config={}, params={"w": np.ones(3)})


def test_a_duplicated_member_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, _tiny_checkpoint())
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("param/w.npy", zf.read("param/w.npy"))
    with pytest.raises(CheckpointError, match="'param/w.npy' appears more than once"):
        load_checkpoint(path)


def test_layers_are_bounded():
    with pytest.raises(UserError, match="--layers must be at most 100"):
        TrainConfig(layers=1_000_000)


# ---- the experiment's pool ------------------------------------------------------------------


def test_the_pool_is_never_larger_than_the_runs_or_the_cores():
    cfg = LongTermConfig.quick()
    cfg.workers = 1000
    assert pool_size(cfg) == min(cores(), 4)
    cfg.workers = 1
    assert pool_size(cfg) == 1


# ---- figures, plots and samples are what they say -------------------------------------------


@pytest.mark.parametrize("name, fmt, words", [
    ("x.png", "svg", "ends in .png but the format asked for is svg"),
    ("x.txt", None, "must end in .svg, .png, .pdf or .dot"),
    ("x", "svg", "must end in"),
])
def test_render_takes_the_format_from_the_suffix(tmp_path, name, fmt, words):
    with pytest.raises(ValueError, match=words):
        draw.render(draw.gate(), tmp_path / name, fmt)
    assert list(tmp_path.iterdir()) == []


def test_render_writes_png_to_a_png_name(tmp_path):
    assert draw.render(draw.gate(), tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_graphviz_killed_by_a_signal_says_which_and_what_to_do():
    message = rendering._failure(-signal.SIGXFSZ, b"", "big.svg")
    assert message == ("Graphviz was killed by SIGXFSZ while drawing big.svg (the file size "
                       "limit was reached: raise it (ulimit -f) or draw fewer steps)")
    assert "exit status 3" in rendering._failure(3, b"", "g.svg")


def test_plot_names_choose_the_format(tmp_path):
    history = {"loss": [1.0, 0.5], "grad_norm": [1.0, 1.0]}
    with pytest.raises(ValueError, match=r"must end in .png, .pdf or .svg"):
        plot_history(history, tmp_path / "plot.txt")
    assert plot_history(history, tmp_path / "p.svg") and (tmp_path / "p.svg").read_bytes()[:5] \
        in (b"<?xml", b"<svg ")


def test_non_finite_logits_are_refused_and_tiny_temperatures_are_greedy():
    with pytest.raises(UserError, match="not finite"):
        next_probabilities(np.array([0.0, np.nan]), 1.0)
    p = next_probabilities(np.array([1.0, 3.0, 2.0]), 1e-320)
    assert np.array_equal(p, [0.0, 1.0, 0.0])
    assert np.allclose(next_probabilities(np.array([1.0, 1.0]), 1.0), 0.5)


def test_a_model_with_nan_weights_cannot_sample():
    model = CharModel(3, 4, rng=0)
    model.load_state_dict({k: np.full_like(v, np.nan) for k, v in model.state_dict().items()})
    with pytest.raises(UserError, match="not finite"):
        sample(model, Vocab("abc"), "a", 5)


# ---- messages -------------------------------------------------------------------------------


def test_os_errors_are_sentences():
    assert io.reason(OSError(errno.EROFS, "Read-only file system")) == \
        "read-only file system (write to another folder)"
    assert io.reason(OSError(errno.ENOSPC, "No space left on device")).startswith(
        "no space left on device")
    assert format_size(1.6e9) == "1.6 GB"


def test_a_failed_run_removes_the_empty_folders_it_made(tmp_path):
    with io.new_folders() as made:
        io.output_folder(tmp_path / "out")
        io.output_folder(tmp_path / "out" / "sub")
        (tmp_path / "kept").mkdir()
    io.remove_empty(made)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]


def test_a_read_only_file_system_is_named_in_words(tmp_path):
    """In a private mount namespace (needs root; skipped elsewhere), a read-only tmpfs."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to mount a read-only file system")
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (f"mount -t tmpfs -o ro,size=1m tmpfs {ro} || exit 77; cd {ro}; "
              f"{sys.executable} -m rnn demo --quick --out {ro}; "
              f"{sys.executable} -m rnn draw forget -o {ro}/f.svg")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    if done.returncode == 77 or "Operation not permitted" in done.stderr:
        pytest.skip("mounting is not permitted here")
    lines = done.stderr.splitlines()
    assert lines == [f"rnn-lab demo: error: cannot write into {ro}: folder {ro} is on a "
                     f"read-only file system",
                     f"rnn-lab draw: error: cannot save figure {ro}/f.svg: folder {ro} is on a "
                     f"read-only file system"], done.stderr
