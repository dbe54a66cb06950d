"""A newcomer's path through the real command line, each step in a subprocess: help with an
example everywhere, one clear line for every mistake, and Ctrl-C that leaves only whole files.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rnn import cli
from rnn.commands.bench import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]


def rnn_lab(*args, cwd=ROOT, timeout=120):
    return subprocess.run([sys.executable, "-m", "rnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_line_error(result, status):
    assert result.returncode == status, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- help -------------------------------------------------------------------------------


def test_top_level_help_lists_every_command_and_an_example():
    result = rnn_lab("--help")
    assert result.returncode == 0
    assert "example" in result.stdout.lower()
    for name in cli.COMMANDS:
        assert name in result.stdout


def test_demo_is_the_first_command():
    assert next(iter(cli.COMMANDS)) == "demo"


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_help_has_an_example(command):
    result = rnn_lab(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "example" in result.stdout.lower()
    assert f"rnn-lab {command}" in result.stdout


@pytest.mark.parametrize("benchmark", list(BENCHMARKS))
def test_every_benchmark_help_has_an_example(benchmark):
    result = rnn_lab("bench", benchmark, "--help")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "example" in result.stdout.lower()


# ---- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["no-such-command"],
    ["demo", "--seed", "zero"],
    ["demo", "--bogus"],
    ["demo", "extra-argument"],
    ["gradcheck", "--eps", "abc"],
    ["derive", "no-such-cell"],
    ["draw", "no-such-diagram"],
    ["draw", "unrolled", "--steps", "0"],
    ["train", "--task", "no-such-task"],
    ["train", "--steps", "many"],
    ["sample"],
    ["sample", "x.npz", "--length", "long"],
    ["experiment", "no-such-experiment"],
    ["experiment", "long-term", "--workers", "two"],
    ["bench", "no-such-benchmark"],
])
def test_bad_arguments_exit_2_with_one_line(args):
    line = assert_one_line_error(rnn_lab(*args), 2)
    assert "error" in line


# ---- bad input files ---------------------------------------------------------------------

BAD_FILES = {
    "missing": (None, "no such file"),
    "empty": (b"", "empty"),
    "binary": (b"PK\x03\x04\x00\x00binary\x00\xff", "binary"),
    "not-utf8": ("café au lait, crème brûlée\n".encode("latin-1"), "UTF-8"),
}


def bad_file(folder: Path, kind: str) -> Path:
    content, _ = BAD_FILES[kind]
    path = folder / f"{kind}.txt"
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_train_on_a_bad_text_file_exits_1_with_one_line(kind, tmp_path):
    path = bad_file(tmp_path, kind)
    result = rnn_lab("train", "--task", "text", "--text", path, "--steps", "1",
                     "--checkpoint", tmp_path / "run.npz", "--no-progress", cwd=tmp_path)
    line = assert_one_line_error(result, 1)
    assert path.name in line and BAD_FILES[kind][1] in line
    assert not (tmp_path / "run.npz").exists()


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_demo_on_a_bad_text_file_exits_1_before_any_work(kind, tmp_path):
    path = bad_file(tmp_path, kind)
    result = rnn_lab("demo", "--quick", "--text", path, "--out", tmp_path / "out", cwd=tmp_path)
    line = assert_one_line_error(result, 1)
    assert path.name in line and BAD_FILES[kind][1] in line
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_demo_on_too_short_a_text_exits_1(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("Too short to learn from.\n", encoding="utf-8")
    result = rnn_lab("demo", "--quick", "--text", path, "--out", tmp_path / "out", cwd=tmp_path)
    assert "too little text" in assert_one_line_error(result, 1)


# ---- output that cannot be written -------------------------------------------------------


@pytest.mark.parametrize("make_args", [
    lambda f: ["demo", "--quick", "--out", f / "sub"],
    lambda f: ["demo", "--quick", "--out", f],
    lambda f: ["experiment", "long-term", "--quick", "--out", f / "sub"],
    lambda f: ["draw", "--all", f / "sub"],
    lambda f: ["draw", "lstm-module", "-o", f / "lstm.svg"],
    lambda f: ["train", "--steps", "1", "--checkpoint", f / "run.npz", "--no-progress"],
], ids=["demo-under-file", "demo-onto-file", "experiment", "draw-all", "draw-one", "train"])
def test_an_unwritable_output_folder_exits_1_with_one_line(make_args, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where a folder is expected\n")
    result = rnn_lab(*make_args(blocker), cwd=tmp_path)
    line = assert_one_line_error(result, 1)
    assert "a-file" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing else written


# ---- corrupt checkpoints -----------------------------------------------------------------


@pytest.fixture(scope="module")
def text_checkpoint(tmp_path_factory):
    """A real (tiny) character-model checkpoint, trained through the CLI."""
    folder = tmp_path_factory.mktemp("ckpt")
    text = folder / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 20, encoding="utf-8")
    path = folder / "good.npz"
    result = rnn_lab("train", "--task", "text", "--text", text, "--steps", "2", "--hidden", "8",
                     "--seq-len", "8", "--batch", "2", "--checkpoint", path, "--no-progress",
                     cwd=folder)
    assert result.returncode == 0, result.stderr
    return path


def test_sample_from_a_good_checkpoint_works(text_checkpoint):
    result = rnn_lab("sample", text_checkpoint, "--prime", "the ", "--length", "20")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the ")


@pytest.mark.parametrize("corrupt", ["truncated", "random-bytes", "empty", "text"])
def test_sample_from_a_corrupt_checkpoint_exits_1_with_one_line(corrupt, text_checkpoint,
                                                                tmp_path):
    good = text_checkpoint.read_bytes()
    content = {"truncated": good[: len(good) // 2], "random-bytes": os.urandom(2048),
               "empty": b"", "text": b"not a checkpoint at all\n"}[corrupt]
    path = tmp_path / f"{corrupt}.npz"
    path.write_bytes(content)
    line = assert_one_line_error(rnn_lab("sample", path), 1)
    assert path.name in line


# ---- Ctrl-C ------------------------------------------------------------------------------


def interrupt_when(args, marker: str, cwd: Path, settle: float = 0.3, timeout: float = 120):
    """Start `rnn-lab args`, send SIGINT once a stdout line contains `marker` (plus `settle`
    seconds); returns (exit status, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "rnn", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    seen = []

    def read():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"finished before {marker!r}: {''.join(seen)}"
            seen.append(line)
            if marker in line:
                break
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            seen.append(line)
    return status, "".join(seen), err


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]


def assert_complete(path: Path) -> None:
    """`path` is a whole file of its kind."""
    data = path.read_bytes()
    assert data, path
    if path.suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND", path
    elif path.suffix == ".svg":
        ET.fromstring(data)
    elif path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".html":
        assert data.rstrip().endswith(b"</html>"), path
    elif path.suffix == ".npz":
        from rnn.checkpoint import load_checkpoint

        load_checkpoint(path)


def test_ctrl_c_during_training_saves_a_whole_checkpoint_and_exits_130(tmp_path):
    status, _out, err = interrupt_when(
        ["train", "--task", "adding", "--steps", "100000", "--val-every", "20",
         "--checkpoint", tmp_path / "run.npz", "--no-progress"], "step", tmp_path)
    assert status == 130, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    assert_complete(tmp_path / "run.npz")


@pytest.mark.parametrize("marker, settle", [("[2/5]", 0.0), ("adding problem:", 0.5),
                                            ("character model:", 0.5)],
                         ids=["drawing", "adding-problem-workers", "character-model"])
def test_ctrl_c_during_the_demo_leaves_only_whole_files_and_exits_130(marker, settle,
                                                                      tmp_path):
    out_dir = tmp_path / "out"
    status, out, err = interrupt_when(["demo", "--quick", "--out", out_dir], marker, tmp_path,
                                      settle=settle)
    assert status == 130, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "interrupted" in err
    assert "Summary" not in out  # it really stopped part way
    assert temp_files(tmp_path) == []
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert files  # part 1 had finished
    for path in files:
        assert_complete(path)
