"""rnn.io's one rule for output files, checked on every writer: whole or nothing, symbolic links
written through, named pipes, devices, sockets and folders refused, missing folders not made."""

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn import cli, draw, io
from rnn.checkpoint import Checkpoint, save_checkpoint
from rnn.errors import OutputError, UserError
from rnn.experiment import LongTermConfig, RunResult
from rnn.plots import plot_history
from rnn.reports import write_reports

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]


def _report(path):
    """write_reports with `path` standing where it writes results.md."""
    assert path.name == "results.md"
    cfg = LongTermConfig(lags=(4,), grad_lag=4, steps=3)
    results = [RunResult(cell, 4, 3, 0.1, 0.1, 1.0, None, loss=[0.3, 0.2, 0.1],
                         val_step=[3], val_loss=[0.1], grad_init=[1.0] * 4,
                         grad_trained=[1.0] * 4) for cell in ("rnn", "lstm")]
    write_reports(results, cfg, path.parent, 1.0)


def _derive_markdown(path):
    """The `derive --markdown FILE` command, in this process; its error raised again."""
    if cli.main(["derive", "rnn", "--markdown", str(path)]) != 0:
        raise UserError("derive --markdown failed")


# name -> (file name, write(path)): every kind of file the package writes
WRITERS = {
    "text": ("out.txt", lambda p: io.write_text(p, "new\n")),
    "figure-svg": ("out.svg", lambda p: draw.render(draw.gate(), p, "svg")),
    "figure-dot": ("out.dot", lambda p: draw.render(draw.gate(), p, "dot")),
    "matplotlib": ("out.png", lambda p: plot_history({"loss": [1.0, 0.5],
                                                      "grad_norm": [1.0, 1.0]}, p)),
    "checkpoint": ("out.npz", lambda p: save_checkpoint(p, Checkpoint(
        config={}, params={"w": np.ones(2)}))),
    "report": ("results.md", _report),
    "derive-markdown": ("out.md", _derive_markdown),
}


@pytest.fixture(autouse=True)
def no_hang():
    """Opening a named pipe for writing blocks until a reader comes: fail instead of hanging."""

    def stuck(signum, frame):
        raise TimeoutError("a writer blocked: it opened the special file")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _special(path: Path, kind: str) -> None:
    """Make a node of `kind` at `path` (skip the test where that is not permitted)."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a character device needs privileges")
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(str(path))
        except OSError as exc:
            pytest.skip(f"cannot bind a Unix socket here: {exc}")
        finally:
            server.close()
    elif kind == "folder":
        path.mkdir()


KINDS = {"fifo": ("named pipe", stat.S_ISFIFO), "chardev": ("character device", stat.S_ISCHR),
         "socket": ("socket", stat.S_ISSOCK), "folder": ("folder", stat.S_ISDIR)}


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("writer", list(WRITERS))
def test_special_file_is_refused_and_left_alone(writer, kind, tmp_path, capsys):
    name, write = WRITERS[writer]
    path = tmp_path / name
    _special(path, kind)
    before = _entries(tmp_path)
    with pytest.raises(UserError) as caught:
        write(path)
    word, is_kind = KINDS[kind]
    if writer == "derive-markdown":  # the CLI printed the one line
        message = capsys.readouterr().err
        assert len(message.strip().splitlines()) == 1
    else:
        message = str(caught.value)
    assert name in message and word in message
    assert is_kind(os.lstat(path).st_mode)
    after = [n for n in _entries(tmp_path) if n != name]
    assert not [n for n in after if n.startswith(".")]  # no temporary file left
    if writer != "report":  # the report writes its other files first
        assert _entries(tmp_path) == before


@pytest.mark.parametrize("writer", list(WRITERS))
def test_symlink_to_a_file_is_written_through(writer, tmp_path):
    name, write = WRITERS[writer]
    real = tmp_path / "real"
    real.mkdir()
    target = real / name
    target.write_bytes(b"old")
    link = tmp_path / name
    link.symlink_to(target)
    write(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() not in (b"", b"old")
    assert [n for n in _entries(real) if n.startswith(".")] == []
    assert [n for n in _entries(tmp_path) if n.startswith(".")] == []


@pytest.mark.parametrize("writer", list(WRITERS))
def test_dangling_symlink_gets_its_target_written(writer, tmp_path):
    name, write = WRITERS[writer]
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / name
    link.symlink_to(real / name)
    write(link)
    assert link.is_symlink() and (real / name).stat().st_size > 0
    assert _entries(real) == [name]


@pytest.mark.parametrize("writer", list(WRITERS))
def test_symlink_to_a_named_pipe_is_refused(writer, tmp_path):
    name, write = WRITERS[writer]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / name
    link.symlink_to(fifo)
    with pytest.raises(UserError):
        write(link)
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("writer", [w for w in WRITERS if w != "report"])
def test_missing_folder_is_refused_not_made(writer, tmp_path, capsys):
    name, write = WRITERS[writer]
    with pytest.raises(UserError):
        write(tmp_path / "no" / name)
    assert _entries(tmp_path) == []
    if writer != "derive-markdown":
        with pytest.raises(UserError, match="empty"):
            write("")


def test_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), io.replacing(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert _entries(tmp_path) == ["plot.png"]


def test_write_text_replaces_the_whole_file(tmp_path):
    path = io.write_text(tmp_path / "a.txt", "one\n")
    io.write_text(path, "two\r\n")
    assert path.read_bytes() == b"two\r\n"  # line ends as given
    assert _entries(tmp_path) == ["a.txt"]


def test_output_folder_makes_one_level_only(tmp_path):
    assert io.output_folder(tmp_path / "out").is_dir()
    with pytest.raises(OutputError, match="does not exist"):
        io.output_folder(tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        io.output_folder(tmp_path / "file")
    with pytest.raises(OutputError, match="file is not a folder"):
        io.output_folder(tmp_path / "file" / "sub")
    assert _entries(tmp_path) == ["file", "out"]


# ---- the command line: refused before any work, one line, exit status 1 -------------------

CLI_WRITERS = {
    "draw": ("f.svg", ["draw", "forget", "-o", "{}"]),
    "derive": ("d.md", ["derive", "lstm", "--markdown", "{}"]),
    "train-checkpoint": ("c.npz", ["train", "--steps", "1", "--hidden", "4", "--no-progress",
                                   "--checkpoint", "{}"]),
    "train-plot": ("p.png", ["train", "--steps", "1", "--hidden", "4", "--no-progress",
                             "--checkpoint", "c.npz", "--plot", "{}"]),
}


def rnn_lab(*args, cwd):
    return subprocess.run([PYTHON, "-m", "rnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("command", list(CLI_WRITERS))
def test_cli_refuses_a_named_pipe_before_any_work(command, tmp_path):
    name, args = CLI_WRITERS[command]
    os.mkfifo(tmp_path / name)
    done = rnn_lab(*[a.format(name) for a in args], cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert name in done.stderr and "named pipe" in done.stderr
    assert done.stdout == ""  # nothing ran: no derivation, no training
    assert _entries(tmp_path) == [name] and stat.S_ISFIFO(os.lstat(tmp_path / name).st_mode)


@pytest.mark.parametrize("command", list(CLI_WRITERS))
def test_cli_writes_through_a_symlink(command, tmp_path):
    name, args = CLI_WRITERS[command]
    (tmp_path / "real").mkdir()
    (tmp_path / name).symlink_to(tmp_path / "real" / name)
    done = rnn_lab(*[a.format(name) for a in args], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name).is_symlink() and (tmp_path / "real" / name).stat().st_size > 0


@pytest.mark.parametrize("args", [["draw", "forget", "-o", ""], ["train", "--checkpoint", ""],
                                  ["derive", "lstm", "--markdown", ""], ["demo", "--out", ""],
                                  ["draw", "--all", ""], ["train", "--plot", ""]])
def test_cli_empty_file_name_is_a_usage_error(args, tmp_path):
    done = rnn_lab(*args, cwd=tmp_path)
    assert done.returncode == 2 and "empty" in done.stderr
    assert _entries(tmp_path) == []


@pytest.mark.parametrize("args", [["draw", "forget", "-o", "no/f.svg"],
                                  ["derive", "lstm", "--markdown", "no/d.md"],
                                  ["train", "--steps", "1", "--checkpoint", "no/c.npz"],
                                  ["demo", "--quick", "--out", "no/out"],
                                  ["experiment", "long-term", "--out", "no/out"],
                                  ["draw", "--all", "no/out"]])
def test_cli_missing_folder_is_refused_the_same_way_everywhere(args, tmp_path):
    done = rnn_lab(*args, cwd=tmp_path)
    assert done.returncode == 1 and "folder no does not exist" in done.stderr, done.stderr
    assert _entries(tmp_path) == []
