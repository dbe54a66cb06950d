"""rnn.io.remove_leftovers: the temporary files of a writer that was killed go, nothing else."""

import os

from rnn.io import remove_leftovers, replacing


def test_only_the_dead_writers_temporary_files_go(tmp_path):
    target = tmp_path / "run.npz"
    target.write_bytes(b"whole")
    with replacing(target) as tmp:  # what a writer's temporary file is called
        ours = tmp.name
        tmp.write_bytes(b"new")
    pid = os.getpid()
    dead = tmp_path / ours.replace(f".{pid}.", ".4242.")
    dead.write_bytes(b"half")
    others = [tmp_path / ".run.4243.ab.tmp.npz", tmp_path / ".other.4242.ab.tmp.npz",
              tmp_path / ".run.4242..tmp.npz.bak"]
    for f in others:
        f.write_bytes(b"keep")
    assert remove_leftovers(target, 4242) == [dead]
    assert target.read_bytes() == b"new"
    assert all(f.exists() for f in others)
