"""Output files and folders: every file rnn-lab writes goes through `replacing` (or `write_text`).

One rule for every command and every kind of file (figures, plots, checkpoints, reports, pages):
- Whole or not at all: the file is written to a hidden temporary file in the target's folder,
  flushed to disk (fsync) and renamed onto the target (`os.replace`). A failure or Ctrl-C leaves
  the old file as it was and no temporary file behind.
- A symbolic link (to a file, or dangling) is written through: its target is replaced, from a
  temporary file in the target's folder, and the link stays.
- A path that exists and is not a regular file (a folder, named pipe, device or socket), or an
  empty name, is refused with `OutputError`: one line naming the path and what it is.
- No folder is created for a file: its folder must exist. `output_folder` makes the one folder
  a command writes into (`--out DIR`, `draw --all DIR`), inside a folder that exists; inside
  `new_folders()` the folders it makes are recorded, so that a run that fails can remove those
  it left empty (`remove_empty`).
- Errors say which path and why in words ("read-only file system"), never "[Errno 30]".
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from rnn.errors import OutputError

_SPECIAL = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISSOCK, "a socket"))


# What to do about the errors a user can fix, after the error's own words.
_HINTS = {errno.ENOSPC: "free some space or write elsewhere",
          errno.EDQUOT: "free some space or write elsewhere",
          errno.EROFS: "write to another folder",
          errno.EFBIG: "the file size limit was reached (see ulimit -f)",
          errno.EACCES: "check the permissions", errno.EPERM: "check the permissions"}


def reason(exc: OSError) -> str:
    """An OSError in words, without "[Errno N]": "read-only file system (write to another
    folder)"."""
    words = (exc.strerror or str(exc) or type(exc).__name__).lower()
    hint = _HINTS.get(exc.errno)
    return f"{words} ({hint})" if hint else words


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


_made: list[list[Path]] = []  # one list per active `new_folders` block


@contextlib.contextmanager
def new_folders():
    """Within the block, every folder `output_folder` makes is added to the yielded list."""
    made: list[Path] = []
    _made.append(made)
    try:
        yield made
    finally:
        _made.remove(made)


def remove_empty(folders) -> None:
    """Remove those of `folders` that are empty, deepest first (a failed run's leftovers)."""
    for folder in sorted(map(Path, folders), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only ever removes an empty folder


def _kind(mode: int) -> str:
    """What a file of this `st_mode` is, in words ("a named pipe (FIFO)")."""
    return next((name for test, name in _SPECIAL if test(mode)), "a special file")


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be written into `folder`, or None if they can."""
    if folder.is_dir():
        if os.access(folder, os.W_OK | os.X_OK):
            return None
        if _read_only(folder):
            return f"folder {folder} is on a read-only file system"
        return f"folder {folder} is not writable (check its permissions)"
    return f"{folder} is not a folder" if folder.exists() else f"folder {folder} does not exist"


def output_target(path, what: str = "file") -> Path:
    """The file that writing `path` replaces (a symlink's target); OutputError if it cannot be.

    Call it before any long work, so that a bad output path fails first.
    """
    name = os.fspath(path)
    if not name:
        raise OutputError(f"cannot save {what}: the file name is empty")
    linked = os.path.islink(name)
    target = Path(os.path.realpath(name) if linked else name)
    problem = _folder_problem(target.parent)
    if problem is None:
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG  # a new file
        except OSError as exc:  # a loop of links, say
            problem = reason(exc)
        if problem is None and not stat.S_ISREG(mode):
            it = f"it links to {target}, which is" if linked else "it is"
            problem = f"{it} {_kind(mode)}, not a regular file"
    if problem is not None:
        raise OutputError(f"cannot save {what} {name}: {problem}")
    return target


@contextlib.contextmanager
def replacing(path, what: str = "file"):
    """Yield a temporary path; what the block writes there then replaces `path`'s target.

    The temporary file is hidden, in the target's folder, and keeps its suffix (matplotlib
    and Graphviz read the format from it). An OSError becomes an OutputError naming `path`.
    """
    target = output_target(path, what)
    tmp = _temporary(target, os.getpid(), os.urandom(4).hex())
    try:
        yield tmp
        with open(tmp, "rb") as f:  # on disk before it takes the target's name
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot save {what} {os.fspath(path)}: {reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _temporary(target: Path, pid, tag: str) -> Path:
    # The hidden temporary file `replacing` writes first, named for the writing process.
    return target.with_name(f".{target.stem}.{pid}.{tag}.tmp{target.suffix}")


def remove_leftovers(path, pid: int) -> list[Path]:
    """Remove the temporary files process `pid` left beside `path` (it was killed while
    writing it, so `replacing` could not clean up); the files removed."""
    target = output_target(path)
    head, _, tail = _temporary(target, pid, "\0").name.partition("\0")
    removed = []
    for tmp in target.parent.iterdir():
        if tmp.name.startswith(head) and tmp.name.endswith(tail) and \
                len(tmp.name) > len(head) + len(tail):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def write_text(path, text: str, what: str = "file") -> Path:
    """Write `text` to `path` as UTF-8, line ends as given, by the module's rule."""
    with replacing(path, what) as tmp, open(tmp, "x", encoding="utf-8", newline="") as f:
        f.write(text)
    return Path(path)


def output_folder(folder, what: str = "output folder") -> Path:
    """`folder`, made if missing (in a folder that exists); OutputError if it cannot be used."""
    name = os.fspath(folder)
    if not name:
        raise OutputError(f"cannot write into the {what}: the folder name is empty")
    folder = Path(name)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {name}: it exists and is not a folder")
    if not folder.is_dir():
        problem = _folder_problem(folder.parent)
        if problem is None:
            try:
                folder.mkdir()
            except OSError as exc:
                problem = f"cannot create the folder: {reason(exc)}"
            else:
                for made in _made:
                    made.append(folder)
        if problem is not None:
            raise OutputError(f"cannot write into {name}: {problem}")
    problem = _folder_problem(folder)
    if problem is not None:
        raise OutputError(f"cannot write into {name}: {problem}")
    return folder


def check_output_folder(folder, what: str = "output folder") -> None:
    """OutputError now if `output_folder(folder)` would fail; makes nothing (fail before
    long work)."""
    name = os.fspath(folder)
    if not name:
        raise OutputError(f"cannot write into the {what}: the folder name is empty")
    folder = Path(name)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {name}: it exists and is not a folder")
    problem = _folder_problem(folder if folder.is_dir() else folder.parent)
    if problem is not None:
        raise OutputError(f"cannot write into {name}: {problem}")
