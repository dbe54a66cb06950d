"""Every command against every class of bad input, from one table: bad ranges, negative and
huge sizes, empty, missing, binary, non-UTF-8, FIFO and folder inputs, unwritable outputs and
flags that do not apply. Each must exit 2 (usage) or 1 (runtime) with exactly one line on
stderr, no traceback, nothing on stdout (it failed before any work), and leave the folder
exactly as it was: no file created, changed or removed.

The commands run in this process (`rnn.cli.main`, the console script's entry point), which
keeps the table fast; tests/test_signals.py runs real processes.
"""

import hashlib
import os
import shutil
import stat
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from rnn import cli
from rnn.born_in_checkpoint import save_born_in
from rnn.checkpoint import load_checkpoint, save_checkpoint
from rnn.experiment_born_in import BornInConfig, run_one
from rnn.resources import ENV as MEMORY_ENV
from rnn.training import TrainConfig, Trainer

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def _npy_header(shape, dtype="<f8") -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin-1")


@pytest.fixture(scope="module")
def materials(tmp_path_factory):
    """Input files every row can use, made once: good and broken checkpoints and texts."""
    folder = tmp_path_factory.mktemp("materials")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    (folder / "other.txt").write_text(TEXT.upper(), encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary\x00\xff")
    (folder / "latin1.txt").write_bytes("café au lait, crème brûlée\n".encode("latin-1"))
    (folder / "notes.npz").write_text("not a checkpoint\n")
    (folder / "blocker").write_text("a regular file where a folder is expected\n")
    for name, toml in SWEEP_CONFIGS.items():  # `experiment sweep --config`
        (folder / f"{name}.toml").write_text(toml)
    (folder / "dir.txt").mkdir()
    (folder / "dir.svg").mkdir()
    (folder / "dir.npz").mkdir()
    Trainer.from_config(TrainConfig(task="text", text=str(folder / "text.txt"), hidden=4,
                                    seq_len=4, batch=2, steps=2, val_every=1),
                        checkpoint=str(folder / "ckpt.npz"), progress=False).fit()
    Trainer.from_config(TrainConfig(hidden=4, seq_len=4, batch=2, steps=2, val_every=1,
                                    val_size=4),
                        checkpoint=str(folder / "adding.npz"), progress=False).fit()
    born_in = BornInConfig(cells=("lstm",), gaps=(2,), seeds=1, steps=2, hidden=4, embedding=3,
                           test_size=5, grad_batch=2, record_every=2, workers=1)
    save_born_in(folder / "born.npz", run_one("lstm", 0, born_in), born_in)
    (folder / "born-cut.npz").write_bytes((folder / "born.npz").read_bytes()[:500])
    (folder / "speak.txt").write_text("the dog slept . I can speak\n", encoding="utf-8")
    good = load_checkpoint(folder / "ckpt.npz")
    good.params = {k: np.full_like(v, np.nan) for k, v in good.params.items()}
    save_checkpoint(folder / "nan.npz", good)
    good = load_checkpoint(folder / "ckpt.npz")
    good.config = {**good.config, "hidden": 100_000}
    save_checkpoint(folder / "huge.npz", good)
    with zipfile.ZipFile(folder / "ckpt.npz") as src, \
            zipfile.ZipFile(folder / "dup.npz", "w") as dst, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("meta.npy", src.read("meta.npy"))
    # a zip bomb: 200 MB of zeros behind one deflated member of a few hundred kB
    with zipfile.ZipFile(folder / "ckpt.npz") as src, \
            zipfile.ZipFile(folder / "bomb.npz", "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        n = 25 * 2**20
        with dst.open(zipfile.ZipInfo("param/extra.npy"), "w") as f:
            f._compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            f.write(_npy_header((n,)))
            zeros = bytes(2**20)
            for _ in range(n * 8 // len(zeros)):
                f.write(zeros)
    return folder


@pytest.fixture
def place(materials, tmp_path, monkeypatch):
    """A working folder holding a copy of the materials and a named pipe; the CWD."""
    for path in materials.iterdir():
        if path.is_dir():
            (tmp_path / path.name).mkdir()
        else:
            shutil.copy2(path, tmp_path / path.name)
    for name in ("fifo", "fifo.txt", "fifo.svg", "fifo.png", "fifo.npz", "fifo.md"):
        os.mkfifo(tmp_path / name)
    os.symlink("text.txt", tmp_path / "link.txt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MEMORY_ENV, "")  # unset (the default limit), restored afterwards
    return tmp_path


def snapshot(folder: Path) -> dict:
    """Every entry under `folder`: its kind and, for files, a checksum of its bytes."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            entries[str(path)] = ("link", os.readlink(path))
        elif stat.S_ISREG(mode):
            entries[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                                  path.stat().st_mtime_ns)
        else:
            entries[str(path)] = (stat.S_IFMT(mode),)
    return entries


def run(argv, capsys):
    """(status, stdout, stderr) of `rnn-lab argv` run in this process."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


USAGE, RUNTIME = 2, 1
SWEEP = ["experiment", "sweep", "--out", "sweep"]
PAPER = ["experiment", "paper", "--out", "paper"]
SWEEP_CONFIGS = {"lr-key": "lr = [0.01]\n", "seeds-text": 'seeds = "5"\n',
                 "cell-unknown": 'cells = ["elman"]\n', "task-unknown": 'tasks = ["parity"]\n',
                 "init-unknown": 'inits = ["glorot"]\n', "reber-T": "T = {reber = [5]}\n",
                 "steps-table": "steps = {adding = 0}\n", "bad-toml": "cells = [rnn\n"}
TRAIN = ["train", "--steps", "2", "--hidden", "4", "--no-progress"]
TEXT_RUN = [*TRAIN, "--task", "text", "--seq-len", "4", "--batch", "2"]

# (id, arguments, exit status, words the one line must hold)
TABLE = [
    # ---- demo
    ("demo-seed-negative", ["demo", "--seed", "-1"], USAGE, "seed"),
    ("demo-seed-word", ["demo", "--seed", "zero"], USAGE, "seed"),
    ("demo-extra", ["demo", "extra"], USAGE, "extra"),
    ("demo-text-missing", ["demo", "--quick", "--text", "missing.txt", "--out", "o"], RUNTIME,
     "no such file"),
    ("demo-text-empty", ["demo", "--quick", "--text", "empty.txt", "--out", "o"], RUNTIME,
     "empty"),
    ("demo-text-binary", ["demo", "--quick", "--text", "binary.txt", "--out", "o"], RUNTIME,
     "binary"),
    ("demo-text-latin1", ["demo", "--quick", "--text", "latin1.txt", "--out", "o"], RUNTIME,
     "UTF-8"),
    ("demo-text-fifo", ["demo", "--quick", "--text", "fifo.txt", "--out", "o"], RUNTIME,
     "named pipe"),
    ("demo-text-folder", ["demo", "--quick", "--text", "dir.txt", "--out", "o"], RUNTIME,
     "folder"),
    ("demo-text-device", ["demo", "--quick", "--text", "/dev/zero", "--out", "o"], RUNTIME,
     "device"),
    ("demo-text-short", ["demo", "--quick", "--text", "notes.npz", "--out", "o"], RUNTIME,
     "too little text"),
    ("demo-out-file", ["demo", "--quick", "--out", "blocker"], RUNTIME, "not a folder"),
    ("demo-out-under-file", ["demo", "--quick", "--out", "blocker/sub"], RUNTIME, "blocker"),
    ("demo-out-missing-parent", ["demo", "--quick", "--out", "no/out"], RUNTIME,
     "does not exist"),
    ("demo-out-fifo", ["demo", "--quick", "--out", "fifo"], RUNTIME, "fifo"),
    ("demo-out-empty", ["demo", "--out", ""], USAGE, "empty"),
    # ---- derive
    ("derive-cell", ["derive", "elman"], USAGE, "invalid choice"),
    ("derive-hidden-huge", ["derive", "lstm", "--check", "--hidden", "100000"], USAGE,
     "between 1 and 16"),
    ("derive-hidden-zero", ["derive", "lstm", "--check", "--hidden", "0"], USAGE, "between"),
    ("derive-batch-huge", ["derive", "lstm", "--check", "--batch", "1000000000"], USAGE,
     "between"),
    ("derive-steps-negative", ["derive", "lstm", "--check", "--steps", "-3"], USAGE,
     "between"),
    ("derive-seed-negative", ["derive", "lstm", "--check", "--seed", "-1"], USAGE, "seed"),
    ("derive-unrolled-no-check", ["derive", "lstm", "--unrolled"], USAGE, "--check"),
    ("derive-size-no-check", ["derive", "gru", "--hidden", "4"], USAGE, "--check"),
    ("derive-unrolled-too-big", ["derive", "lstm", "--check", "--unrolled", "--hidden", "4"],
     USAGE, "--hidden <= 3"),
    ("derive-latex-and-markdown", ["derive", "lstm", "--latex", "--markdown", "x.md"], USAGE,
     "not allowed"),
    ("derive-markdown-fifo", ["derive", "lstm", "--markdown", "fifo.md"], RUNTIME,
     "named pipe"),
    ("derive-markdown-folder", ["derive", "lstm", "--markdown", "dir.txt"], RUNTIME, "folder"),
    ("derive-markdown-under-file", ["derive", "lstm", "--markdown", "blocker/x.md"], RUNTIME,
     "blocker"),
    # ---- draw
    ("draw-name", ["draw", "nosuch"], USAGE, "invalid choice"),
    ("draw-format-mismatch", ["draw", "forget", "-o", "f.svg", "--format", "png"], USAGE,
     "png"),
    ("draw-unknown-suffix", ["draw", "forget", "-o", "f.txt"], USAGE, ".svg"),
    ("draw-no-suffix", ["draw", "forget", "-o", "figure"], USAGE, ".svg"),
    ("draw-steps-zero", ["draw", "unrolled", "--steps", "0"], USAGE, "between 1 and 1000"),
    ("draw-steps-huge", ["draw", "graph", "--steps", "100000"], USAGE, "between 1 and 1000"),
    ("draw-steps-unfolded", ["draw", "graph", "--steps", "51"], USAGE, "--fold"),
    ("draw-fold-collapse", ["draw", "graph", "--fold", "--collapse"], USAGE, "choose one"),
    ("draw-pages-concept", ["draw", "forget", "--pages", "out"], USAGE, "--pages"),
    ("draw-steps-not-stepped", ["draw", "forget", "--steps", "3"], USAGE, "--steps"),
    ("draw-grad-concept", ["draw", "forget", "--grad"], USAGE, "only for graph"),
    ("draw-overlay-rnn", ["draw", "gradient-overlay", "--cell", "rnn"], USAGE, "another cell"),
    ("draw-all-with-output", ["draw", "--all", "out", "-o", "x.svg"], USAGE, "one diagram"),
    ("draw-output-fifo", ["draw", "forget", "-o", "fifo.svg"], RUNTIME, "named pipe"),
    ("draw-output-folder", ["draw", "forget", "-o", "dir.svg"], RUNTIME, "folder"),
    ("draw-output-under-file", ["draw", "forget", "-o", "blocker/f.svg"], RUNTIME, "blocker"),
    ("draw-all-file", ["draw", "--all", "blocker"], RUNTIME, "not a folder"),
    ("draw-all-fifo", ["draw", "--all", "fifo"], RUNTIME, "fifo"),
    # ---- train: ranges and sizes
    *[(f"train{flag}={value}", [*TRAIN, flag, value], USAGE, flag) for flag, value in [
        ("--hidden", "0"), ("--hidden", "-1"), ("--batch", "0"), ("--seq-len", "0"),
        ("--steps", "-5"), ("--steps", "0"), ("--layers", "0"), ("--layers", "1000000"),
        ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"), ("--clip", "-1"),
        ("--clip", "nan"), ("--momentum", "1.5"), ("--momentum", "-0.1"),
        ("--embedding", "-1"), ("--seed", "-1"), ("--seed", str(2**64)), ("--val-every", "0"),
        ("--save-every", "-1"), ("--max-memory", "lots"), ("--max-memory", "0"),
        ("--hidden", "many"), ("--plot", "plot.txt"), ("--plot", "plot"),
        ("--checkpoint", ""), ("--task", "nosuch"), ("--cell", "transformer"),
        ("--init", "nosuch"), ("--init", ""), ("--init-tmax", "0"), ("--init-tmax", "ten")]],
    ("train-hidden-huge", [*TRAIN, "--hidden", "100000"], RUNTIME, "memory"),
    ("train-batch-huge", [*TRAIN, "--batch", "1000000000"], RUNTIME, "memory"),
    ("train-seq-len-huge", [*TRAIN, "--seq-len", "1000000000"], RUNTIME, "memory"),
    ("train-layers-deep", [*TRAIN, "--layers", "100", "--hidden", "3000"], RUNTIME, "memory"),
    ("train-max-memory", [*TRAIN, "--max-memory", "1kB"], RUNTIME, "1.0 kB"),
    ("train-text-seq-len-huge", [*TEXT_RUN, "--text", "text.txt", "--seq-len", "1000000000"],
     RUNTIME, "memory"),
    # ---- train: flags that do not apply
    ("train-momentum-adam", [*TRAIN, "--momentum", "0.9"], USAGE, "--optimizer sgd"),
    ("train-embedding-adding", [*TRAIN, "--embedding", "8"], USAGE, "tokens"),
    ("train-seq-len-adding", [*TRAIN, "--seq-len", "1"], USAGE, "at least 2"),
    ("train-seq-len-reber", [*TRAIN, "--task", "reber", "--seq-len", "5"], USAGE, "reber"),
    ("train-text-not-text-task", [*TRAIN, "--text", "text.txt"], USAGE, "--task text"),
    ("train-text-task-no-text", [*TRAIN, "--task", "text"], USAGE, "--text FILE"),
    ("train-resume-force", [*TRAIN, "--resume", "--force", "--checkpoint", "ckpt.npz"], USAGE,
     "--force"),
    ("train-resume-no-checkpoint", [*TRAIN, "--resume"], USAGE, "--checkpoint"),
    # ---- train: initialisations that do not fit
    ("train-init-chrono-rnn", [*TRAIN, "--cell", "rnn", "--init", "chrono"], USAGE,
     "chrono does not fit the Elman RNN `rnn`: it has no forget gate"),
    ("train-init-identity-lstm", [*TRAIN, "--cell", "lstm", "--init", "identity"], USAGE,
     "identity does not fit the LSTM"),
    ("train-init-chrono-irnn", [*TRAIN, "--cell", "irnn", "--init", "chrono"], USAGE,
     "no forget gate"),
    ("train-init-tmax-without-chrono", [*TRAIN, "--init-tmax", "50"], USAGE, "--init chrono"),
    ("train-init-tmax-uniform", [*TRAIN, "--init", "uniform", "--init-tmax", "50"], USAGE,
     "--init chrono"),
    ("train-init-tmax-two", [*TRAIN, "--init", "chrono", "--init-tmax", "2"], USAGE, ">= 3"),
    ("train-init-chrono-reber", [*TRAIN, "--task", "reber", "--init", "chrono"], USAGE,
     "--init-tmax"),
    ("train-resume-init-differs", [*TRAIN[:1], "--resume", "--checkpoint", "adding.npz",
                                   "--init", "orthogonal"], RUNTIME, "differs"),
    ("train-resume-text-on-adding", [*TRAIN[:1], "--resume", "--checkpoint", "adding.npz",
                                     "--text", "text.txt"], USAGE, "--text"),
    # ---- train: inputs
    *[(f"train-text-{kind}", [*TEXT_RUN, "--text", name, "--checkpoint", "new.npz"], RUNTIME,
       words) for kind, name, words in [
        ("missing", "missing.txt", "no such file"), ("empty", "empty.txt", "empty"),
        ("binary", "binary.txt", "binary"), ("latin1", "latin1.txt", "UTF-8"),
        ("fifo", "fifo.txt", "named pipe"), ("folder", "dir.txt", "folder"),
        ("device", "/dev/zero", "device")]],
    ("train-text-too-big", [*TEXT_RUN, "--text", "text.txt", "--max-memory", "20kB"],
     RUNTIME, "more text than fits"),
    ("train-text-too-short", [*TEXT_RUN, "--text", "text.txt", "--batch", "500"], RUNTIME,
     "too few"),
    # ---- train: outputs
    ("train-replaces-checkpoint", [*TRAIN, "--checkpoint", "adding.npz"], RUNTIME,
     "--force"),
    ("train-replaces-other-file", [*TRAIN, "--checkpoint", "notes.npz"], RUNTIME, "--force"),
    ("train-checkpoint-fifo", [*TRAIN, "--checkpoint", "fifo.npz"], RUNTIME, "named pipe"),
    ("train-checkpoint-folder", [*TRAIN, "--checkpoint", "dir.npz"], RUNTIME, "folder"),
    ("train-checkpoint-under-file", [*TRAIN, "--checkpoint", "blocker/c.npz"], RUNTIME,
     "blocker"),
    ("train-plot-fifo", [*TRAIN, "--checkpoint", "new.npz", "--plot", "fifo.png"], RUNTIME,
     "named pipe"),
    # ---- train --resume: checkpoints
    *[(f"train-resume-{kind}", [*TRAIN[:1], "--resume", "--checkpoint", name, "--text",
                                "text.txt"], RUNTIME, words) for kind, name, words in [
        ("missing", "missing.npz", "no such"), ("not-a-checkpoint", "notes.npz", "notes.npz"),
        ("fifo", "fifo.npz", "regular file"), ("folder", "dir.npz", "folder"),
        ("duplicate-member", "dup.npz", "more than once"), ("zip-bomb", "bomb.npz", "expand"),
        ("huge-config", "huge.npz", "memory"), ("nan-weights", "nan.npz", "NaN"),
        ("empty", "empty.txt", "empty")]],
    ("train-resume-text-missing", [*TRAIN[:1], "--resume", "--checkpoint", "ckpt.npz"],
     RUNTIME, "--text FILE"),
    ("train-resume-other-text", [*TRAIN[:1], "--resume", "--checkpoint", "ckpt.npz", "--text",
                                 "other.txt"], RUNTIME, "sha256"),
    ("train-resume-differs", [*TRAIN[:1], "--resume", "--checkpoint", "ckpt.npz", "--text",
                              "text.txt", "--hidden", "8"], RUNTIME, "differs"),
    # ---- sample
    *[(f"sample{flag}={value}", ["sample", "ckpt.npz", flag, value], USAGE, flag)
      for flag, value in [("--temperature", "0"), ("--temperature", "-1"),
                          ("--temperature", "nan"), ("--temperature", "inf"),
                          ("--length", "-1"), ("--length", "ten"), ("--seed", "-1"),
                          ("--prime", "")]],
    *[(f"sample-{kind}", ["sample", name], RUNTIME, words) for kind, name, words in [
        ("missing", "missing.npz", "no such"), ("empty", "empty.txt", "empty"),
        ("text-file", "notes.npz", "notes.npz"), ("fifo", "fifo.npz", "regular file"),
        ("folder", "dir.npz", "folder"), ("device", "/dev/zero", "regular file"),
        ("duplicate-member", "dup.npz", "more than once"), ("zip-bomb", "bomb.npz", "expand"),
        ("huge-config", "huge.npz", "memory"), ("nan-weights", "nan.npz", "NaN"),
        ("adding-model", "adding.npz", "not text")]],
    ("sample-prime-unknown", ["sample", "ckpt.npz", "--prime", "QZ"], RUNTIME, "'Q', 'Z'"),
    ("sample-born-in-model", ["sample", "born.npz"], RUNTIME, "rnn-lab inspect opens it"),
    ("train-resume-born-in-model", [*TRAIN[:1], "--resume", "--checkpoint", "born.npz"],
     RUNTIME, "only a training run can be resumed"),
    # ---- inspect
    *[(f"inspect-{kind}", ["inspect", ckpt, "--text", text, "-o", "out", *more], status, words)
      for kind, ckpt, text, more, status, words in [
          ("adding-model", "adding.npz", "text.txt", [], RUNTIME, "not a character model"),
          ("missing", "missing.npz", "text.txt", [], RUNTIME, "no such"),
          ("text-file", "notes.npz", "text.txt", [], RUNTIME, "notes.npz"),
          ("unknown-characters", "ckpt.npz", "other.txt", [], RUNTIME, "--replace-unknown"),
          ("empty-text", "ckpt.npz", "empty.txt", [], RUNTIME, "empty"),
          ("binary-text", "ckpt.npz", "binary.txt", [], RUNTIME, "binary"),
          ("regex", "ckpt.npz", "text.txt", ["--find", "(x"], USAGE, "does not compile"),
          ("no-match", "ckpt.npz", "text.txt", ["--find", "QQ"], RUNTIME, "same on every"),
          ("pairs", "ckpt.npz", "text.txt", ["--find-depth", "((("], USAGE, "pairs"),
          ("unit", "ckpt.npz", "text.txt", ["--unit", "4"], USAGE, "--unit 4 is out of range"),
          ("layer", "ckpt.npz", "text.txt", ["--layer", "1"], USAGE, "--layer 1"),
          ("quantity", "ckpt.npz", "text.txt", ["--quantity", "q"], USAGE, "--quantity"),
          ("top-zero", "ckpt.npz", "text.txt", ["--top", "0"], USAGE, "--top"),
          ("grad-chars", "ckpt.npz", "text.txt", ["--grad-chars", "-1"], USAGE, "--grad-chars"),
      ]],
    ("inspect-memory", ["inspect", "ckpt.npz", "--text", "text.txt", "-o", "out",
                        "--max-memory", "200kB"], RUNTIME, "activations of 1,800 characters"),
    ("inspect-out-file", ["inspect", "ckpt.npz", "--text", "text.txt", "-o", "blocker"],
     RUNTIME, "not a folder"),
    ("inspect-out-under-file", ["inspect", "ckpt.npz", "--text", "text.txt", "-o",
                                "blocker/x"], RUNTIME, "blocker"),
    ("inspect-no-text", ["inspect", "ckpt.npz", "-o", "out"], USAGE, "--text FILE is needed"),
    ("inspect-gap-for-text-model", ["inspect", "ckpt.npz", "--text", "text.txt", "-o", "out",
                                    "--gap", "3"], USAGE, "only for a born-in model"),
    # ---- inspect: a model of the born-in experiment (words)
    *[(f"inspect-born-in-{kind}", ["inspect", "born.npz", "-o", "out", *more], status, words)
      for kind, more, status, words in [
          ("unknown-word", ["--text", "text.txt"], USAGE,
           "line 1, column 5 (word 2): 'quick' is not in the model's vocabulary"),
          ("gap-zero", ["--gap", "0"], USAGE, "a gap is from 1 to 10,000 words, got 0"),
          ("gap-negative", ["--gap", "-4"], USAGE, "a gap is from 1"),
          ("gap-word", ["--gap", "ten"], USAGE, "not a whole number of words"),
          ("gap-huge", ["--gap", "1000000"], USAGE, "10,000"),
          ("seed-negative", ["--seed", "-1"], USAGE, "seed"),
          ("country", ["--country", "Atlantis"], USAGE, "--country 'Atlantis'"),
          ("gap-with-text", ["--text", "speak.txt", "--gap", "3"], USAGE,
           "drop it with --text"),
          ("find-column", ["--find-column"], USAGE, "--find-column reads characters"),
          ("find-depth", ["--find-depth"], USAGE, "--find-depth reads characters"),
          ("replace-unknown", ["--replace-unknown"], USAGE,
           "--replace-unknown reads characters"),
          ("unit", ["--unit", "4"], USAGE, "--unit 4 is out of range"),
          ("quantity", ["--quantity", "q"], USAGE, "--quantity 'q'"),
          ("no-match", ["--find", "Atlantis"], RUNTIME, "same on every word"),
          ("gradients-no-answer", ["--text", "speak.txt", "--gradients"], RUNTIME,
           "--gradients needs the answer"),
          ("empty-text", ["--text", "empty.txt"], RUNTIME, "empty"),
          ("memory", ["--gap", "10000", "--max-memory", "200kB"], RUNTIME,
           "the activations of 10,008 words"),
      ]],
    ("inspect-born-in-truncated", ["inspect", "born-cut.npz", "-o", "out"], RUNTIME,
     "born-cut.npz"),
    # ---- experiment
    ("experiment-name", ["experiment", "short-term"], USAGE, "invalid choice"),
    ("experiment-workers-zero", ["experiment", "long-term", "--workers", "0"], USAGE,
     "--workers"),
    ("experiment-workers-word", ["experiment", "long-term", "--workers", "two"], USAGE,
     "--workers"),
    ("experiment-steps-zero", ["experiment", "long-term", "--steps", "0"], USAGE, "--steps"),
    ("experiment-seed-negative", ["experiment", "long-term", "--seed", "-1"], USAGE, "seed"),
    ("experiment-cells", ["experiment", "long-term", "--cells", "rnn,elman"], USAGE,
     "'elman'"),
    ("experiment-out-file", ["experiment", "long-term", "--out", "blocker"], RUNTIME,
     "not a folder"),
    ("experiment-out-under-file", ["experiment", "long-term", "--out", "blocker/x"], RUNTIME,
     "blocker"),
    ("experiment-out-fifo", ["experiment", "long-term", "--out", "fifo"], RUNTIME, "fifo"),
    ("sweep-preset", [*SWEEP, "--preset", "nosuch"], USAGE, "invalid choice"),
    *[(f"sweep-config-{kind}", [*SWEEP, "--config", name], RUNTIME, words)
      for kind, name, words in [
        ("missing", "missing.toml", "no such file"), ("empty", "empty.txt", "empty"),
        ("binary", "binary.txt", "binary"), ("fifo", "fifo.txt", "named pipe"),
        ("folder", "dir.txt", "folder"), ("device", "/dev/zero", "device")]],
    ("sweep-config-not-toml", [*SWEEP, "--config", "text.txt"], USAGE, "not valid TOML"),
    ("sweep-config-bad-toml", [*SWEEP, "--config", "bad-toml.toml"], USAGE, "not valid TOML"),
    ("sweep-config-unknown-key", [*SWEEP, "--config", "lr-key.toml"], USAGE,
     "unknown key 'lr' (did you mean 'lrs'?)"),
    ("sweep-config-wrong-type", [*SWEEP, "--config", "seeds-text.toml"], USAGE,
     "seeds must be a whole number, got '5'"),
    ("sweep-config-unknown-cell", [*SWEEP, "--config", "cell-unknown.toml"], USAGE,
     "unknown cell 'elman'"),
    ("sweep-config-unknown-task", [*SWEEP, "--config", "task-unknown.toml"], USAGE,
     "unknown task 'parity'"),
    ("sweep-config-unknown-init", [*SWEEP, "--config", "init-unknown.toml"], USAGE,
     "unknown init 'glorot'"),
    ("sweep-config-reber-T", [*SWEEP, "--config", "reber-T.toml"], USAGE, "T.reber is not used"),
    ("sweep-config-steps-zero", [*SWEEP, "--config", "steps-table.toml"], USAGE,
     "steps.adding must be at least 1"),
    ("sweep-tasks-unknown", [*SWEEP, "--tasks", "adding,parity"], USAGE, "unknown task 'parity'"),
    ("sweep-inits-unknown", [*SWEEP, "--inits", "glorot"], USAGE, "unknown init 'glorot'"),
    ("sweep-init-misfit", [*SWEEP, "--inits", "chrono"], USAGE,
     "chrono does not fit the Elman RNN `rnn`"),
    ("sweep-cells", [*SWEEP, "--cells", "rnn,elman"], USAGE, "'elman'"),
    ("sweep-T-small", [*SWEEP, "--tasks", "adding", "--T", "1"], USAGE,
     "T = 1 is too small for the adding problem"),
    ("sweep-T-word", [*SWEEP, "--T", "100,long"], USAGE, "--T"),
    ("sweep-lrs-few", [*SWEEP, "--lrs", "0.01,0.1"], USAGE, "at least 3 learning rates"),
    ("sweep-lrs-negative", [*SWEEP, "--lrs", "0.01,-1,0.1"], USAGE, "--lrs"),
    ("sweep-seeds-zero", [*SWEEP, "--seeds", "0"], USAGE, "--seeds"),
    ("sweep-hidden-zero", [*SWEEP, "--hidden", "0"], USAGE, "hidden must be at least 1"),
    ("sweep-hidden-huge", [*SWEEP, "--hidden", "1000000"], RUNTIME, "more than the limit"),
    ("sweep-workers-zero", [*SWEEP, "--workers", "0"], USAGE, "--workers"),
    ("sweep-scheduler-malformed", [*SWEEP, "--scheduler", "host"], USAGE,
     "scheduler address 'host'"),
    ("sweep-scheduler-unreachable", [*SWEEP, "--scheduler", "tcp://127.0.0.1:9",
                                     "--scheduler-timeout", "1"], RUNTIME,
     "tcp://127.0.0.1:9 within 1 s"),  # refused, or no answer in time
    ("sweep-scheduler-workers", [*SWEEP, "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"],
     USAGE, "--workers sets the local processes"),
    ("sweep-scheduler-timeout-alone", [*SWEEP, "--scheduler-timeout", "5"], USAGE,
     "--scheduler-timeout is for --scheduler"),
    ("sweep-scheduler-timeout-zero", [*SWEEP, "--scheduler", "tcp://h:1",
                                      "--scheduler-timeout", "0"], USAGE, "--scheduler-timeout"),
    ("sweep-out-file", ["experiment", "sweep", "--out", "blocker"], RUNTIME, "not a folder"),
    ("sweep-out-under-file", ["experiment", "sweep", "--out", "blocker/x"], RUNTIME,
     "blocker"),
    ("sweep-out-fifo", ["experiment", "sweep", "--out", "fifo"], RUNTIME, "fifo"),
    *[(f"experiment-paper-{kind}", [*PAPER, *args], status, words)
      for kind, args, status, words in [
        ("steps-zero", ["--steps", "0"], USAGE, "--steps"),
        ("seeds-zero", ["--seeds", "0"], USAGE, "--seeds"),
        ("seeds-word", ["--seeds", "five"], USAGE, "--seeds"),
        ("workers-zero", ["--workers", "0"], USAGE, "--workers"),
        ("extra", ["adding"], USAGE, "unrecognized arguments: adding"),
        ("budget-flag", ["--budget", "huge"], USAGE, "--budget"),
        ("scheduler-malformed", ["--scheduler", "host"], USAGE, "scheduler address 'host'"),
        ("scheduler-workers", ["--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], USAGE,
         "--workers sets the local processes"),
        ("scheduler-timeout-alone", ["--scheduler-timeout", "5"], USAGE,
         "--scheduler-timeout is for --scheduler"),
        ("scheduler-timeout-zero", ["--scheduler", "tcp://h:1", "--scheduler-timeout", "0"],
         USAGE, "--scheduler-timeout"),
        ("scheduler-unreachable", ["--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout",
                                   "1"], RUNTIME, "tcp://127.0.0.1:9 within 1 s")]],
    ("experiment-paper-out-file", ["experiment", "paper", "--out", "blocker"], RUNTIME,
     "not a folder"),
    ("experiment-paper-out-under-file", ["experiment", "paper", "--out", "blocker/x"], RUNTIME,
     "blocker"),
    ("experiment-paper-out-fifo", ["experiment", "paper", "--out", "fifo"], RUNTIME, "fifo"),
    *[(f"experiment-cliff-{kind}", ["experiment", "cliff", *args], USAGE, words)
      for kind, args, words in [
        ("clip-zero", ["--clip", "0"], "--clip"), ("clip-negative", ["--clip", "-1"], "--clip"),
        ("clip-nan", ["--clip", "nan"], "--clip"), ("lr-inf", ["--lr", "inf"], "--lr"),
        ("start-one", ["--start", "5.3"], "two numbers"),
        ("start-three", ["--start", "1,2,3"], "two numbers"),
        ("start-word", ["--start", "w,1"], "w is not a number"),
        ("start-empty", ["--start", "1,"], "b is not a number"),
        ("start-nan", ["--start", "nan,1"], "finite"),
        ("start-inf", ["--start", "1,-inf"], "finite"),
        ("start-huge", ["--start", "1e6,0"], "-100 to 100"),
        ("steps-zero", ["--steps", "0"], "--steps"), ("grid-small", ["--grid", "5"], "--grid"),
        ("grid-huge", ["--grid", "100000"], "--grid")]],
    ("experiment-cliff-out-file", ["experiment", "cliff", "--out", "blocker"], RUNTIME,
     "not a folder"),
    ("experiment-cliff-out-fifo", ["experiment", "cliff", "--out", "fifo"], RUNTIME, "fifo"),
    # ---- gradcheck
    ("gradcheck-op", ["gradcheck", "--op", "nosuch"], USAGE, "invalid choice"),
    ("gradcheck-eps-zero", ["gradcheck", "--eps", "0"], USAGE, "--eps"),
    ("gradcheck-atol-negative", ["gradcheck", "--atol", "-1"], USAGE, "--atol"),
    ("gradcheck-rtol-nan", ["gradcheck", "--rtol", "nan"], USAGE, "--rtol"),
    # ---- bench and every benchmark
    ("bench-name", ["bench", "nosuch"], USAGE, "invalid choice"),
    ("bench-overhead-ops-zero", ["bench", "overhead", "--ops", "0"], USAGE, "--ops"),
    ("bench-overhead-ops-huge", ["bench", "overhead", "--ops", "1000000000"], USAGE, "--ops"),
    ("bench-overhead-repeats", ["bench", "overhead", "--repeats", "0"], USAGE, "--repeats"),
    ("bench-lstm-repeats", ["bench", "lstm", "--repeats", "-1"], USAGE, "--repeats"),
    ("bench-lstm-kernels", ["bench", "lstm", "--kernels", "fortran"], USAGE, "--kernels"),
    ("bench-lstm-text-quick", ["bench", "lstm", "--quick", "--text", "text.txt"], USAGE,
     "--quick"),
    *[(f"bench-lstm-text-{kind}", ["bench", "lstm", "--text", name], RUNTIME, words)
      for kind, name, words in [
        ("missing", "missing.txt", "no such file"), ("empty", "empty.txt", "empty"),
        ("binary", "binary.txt", "binary"), ("latin1", "latin1.txt", "UTF-8"),
        ("fifo", "fifo.txt", "named pipe"), ("folder", "dir.txt", "folder"),
        ("device", "/dev/zero", "device"), ("short", "notes.npz", "too few")]],
    ("bench-symbolic-naive-huge", ["bench", "symbolic", "--naive-hidden", "100"], USAGE,
     "--naive-hidden"),
    ("bench-symbolic-repeat", ["bench", "symbolic", "--repeat", "0"], USAGE, "--repeat"),
    ("bench-draw-steps-zero", ["bench", "draw", "--steps", "0"], USAGE, "--steps"),
    ("bench-draw-steps-huge", ["bench", "draw", "--steps", "100000"], USAGE, "--steps"),
    ("bench-draw-cell", ["bench", "draw", "--cell", "elman"], USAGE, "--cell"),
    ("bench-draw-format", ["bench", "draw", "--format", "jpg"], USAGE, "--format"),
]


@pytest.mark.parametrize("args, status, words", [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_bad_input_is_one_line_and_changes_nothing(args, status, words, place, capsys):
    before = snapshot(place)
    got, out, err = run(args, capsys)
    assert got == status, err
    assert out == ""  # it failed before any work
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(("rnn-lab", "usage")) and "error" in lines[0], err
    assert words in lines[0], err
    assert snapshot(place) == before


def test_every_command_and_benchmark_is_in_the_table():
    commands = {row[1][0] for row in TABLE}
    assert commands == set(cli.COMMANDS)
    from rnn.commands.bench import BENCHMARKS

    assert {row[1][1] for row in TABLE if row[1][0] == "bench"} >= set(BENCHMARKS)


def test_the_default_checkpoint_is_not_replaced_either(place, capsys):
    shutil.copy2(place / "adding.npz", place / "adding-lstm.npz")  # ./<task>-<cell>.npz
    before = snapshot(place)
    status, out, err = run(TRAIN, capsys)
    assert status == 1 and out == "" and len(err.splitlines()) == 1
    assert "adding-lstm.npz already exists" in err and "--resume" in err and "--force" in err
    assert snapshot(place) == before
