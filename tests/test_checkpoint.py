"""Tests for rnn.checkpoint: atomic saves, strict loads, and pickles never loaded."""

import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from rnn import checkpoint as ck
from rnn.checkpoint import Checkpoint, CheckpointError, check_arrays, load_checkpoint
from rnn.errors import UserError


def _example() -> Checkpoint:
    rng = np.random.default_rng(7)
    rng.random(3)
    return Checkpoint(
        config={"task": "adding", "hidden": 3, "note": "é ☃ \"quoted\""},
        params={"layer.cells.0.W": rng.standard_normal((5, 3)),
                "decoder.b": rng.standard_normal(1).astype(np.float32)},
        step=12,
        optim={"steps": np.array(12), "m.0": np.zeros((5, 3))},
        rng_state=rng.bit_generator.state,
        history={"loss": rng.random(12), "val_step": np.array([5, 10])},
        vocab=["\n", " ", "a", "é"],
        carry=[rng.standard_normal((1, 2, 3))],
    )


def _assert_same(a: Checkpoint, b: Checkpoint) -> None:
    assert a.config == b.config and a.step == b.step and a.vocab == b.vocab
    assert a.rng_state == b.rng_state
    for group in ("params", "optim", "history"):
        x, y = getattr(a, group), getattr(b, group)
        assert sorted(x) == sorted(y)
        for name in x:
            assert x[name].dtype == y[name].dtype
            np.testing.assert_array_equal(x[name], y[name])
    assert len(a.carry) == len(b.carry)
    for u, v in zip(a.carry, b.carry):
        np.testing.assert_array_equal(u, v)


def test_round_trip(tmp_path):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    _assert_same(load_checkpoint(path), _example())


def test_file_is_plain_npz_without_objects(tmp_path):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    with np.load(path, allow_pickle=False) as z:
        assert z["config"].dtype == np.uint8
        assert json.loads(z["config"].tobytes())["hidden"] == 3
        assert all(not z[k].dtype.hasobject for k in z.files)


def test_round_trip_in_a_fresh_process(tmp_path):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    code = (
        "import sys, hashlib, json\n"
        "from rnn.checkpoint import load_checkpoint\n"
        "c = load_checkpoint(sys.argv[1])\n"
        "d = {g + '/' + k: [str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]\n"
        "     for g in ('params', 'optim', 'history') for k, a in getattr(c, g).items()}\n"
        "print(json.dumps({'arrays': d, 'config': c.config, 'step': c.step, 'vocab': c.vocab,\n"
        "                  'rng': c.rng_state}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True).stdout
    got = json.loads(out)
    import hashlib
    ref = _example()
    for group in ("params", "optim", "history"):
        for k, a in getattr(ref, group).items():
            assert got["arrays"][f"{group}/{k}"] == [
                str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]
    assert got["config"] == ref.config and got["step"] == 12 and got["vocab"] == ref.vocab
    assert got["rng"] == ref.rng_state


def test_restored_rng_continues_the_same_stream(tmp_path):
    path = tmp_path / "run.npz"
    ref = _example()
    ck.save_checkpoint(path, ref)
    a = np.random.default_rng()
    a.bit_generator.state = load_checkpoint(path).rng_state
    b = np.random.default_rng()
    b.bit_generator.state = ref.rng_state
    np.testing.assert_array_equal(a.random(5), b.random(5))


def _no_temp_files(folder) -> bool:
    return sorted(os.listdir(folder)) == ["run.npz"]


def test_failing_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ck.np, "savez", broken_savez)
    with pytest.raises(CheckpointError, match=r"cannot save checkpoint .*run\.npz.*space"):
        ck.save_checkpoint(path, _example())
    assert path.read_bytes() == before and _no_temp_files(tmp_path)


def test_failing_replace_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ck.os, "replace", broken_replace)
    with pytest.raises(CheckpointError, match="permission denied"):
        ck.save_checkpoint(path, _example())
    assert path.read_bytes() == before and _no_temp_files(tmp_path)


def test_interrupted_save_removes_the_temp_and_reraises(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    ck.save_checkpoint(path, _example())
    before = path.read_bytes()

    def interrupted(f, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(ck.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(path, _example())
    assert path.read_bytes() == before and _no_temp_files(tmp_path)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.save_checkpoint(tmp_path / "nope" / "run.npz", _example())
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.check_writable(tmp_path / "nope" / "run.npz")
    assert isinstance(CheckpointError("x"), UserError)


def _good_bytes(tmp_path) -> bytes:
    path = tmp_path / "good.npz"
    ck.save_checkpoint(path, _example())
    return path.read_bytes()


@pytest.mark.parametrize("make, words", [
    (lambda good: b"", "empty"),
    (lambda good: good[: len(good) // 2], "truncated or corrupt"),
    (lambda good: good[:-30], "truncated or corrupt"),
    (lambda good: np.random.default_rng(0).bytes(4000), "corrupt"),
    (lambda good: b"PK\x03\x04" + np.random.default_rng(1).bytes(500), "corrupt"),
    (lambda good: pickle.dumps({"a": 1}), "corrupt"),
])
def test_corrupt_files_raise_naming_the_path(tmp_path, make, words):
    path = tmp_path / "bad.npz"
    path.write_bytes(make(_good_bytes(tmp_path)))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_flipped_bytes_inside_a_member_raise(tmp_path):
    good = bytearray(_good_bytes(tmp_path))
    start = good.find(b"\x93NUMPY", 200)
    good[start + 140: start + 150] = b"\xff" * 10  # inside the data: the CRC catches it
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(good))
    with pytest.raises(CheckpointError, match="flipped.npz"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.npz")


class _Marker:
    """Unpickling this would create the marker file: the test checks that it never appears."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_is_never_loaded(tmp_path):
    marker = tmp_path / "UNPICKLED"
    arrays = ck.to_arrays(_example())
    payload = np.empty(1, dtype=object)
    payload[0] = _Marker(str(marker))
    arrays["param/evil"] = payload
    path = tmp_path / "evil.npz"
    np.savez(path, allow_pickle=True, **arrays)
    with pytest.raises(CheckpointError, match=r"evil\.npz.*pickle"):
        load_checkpoint(path)
    assert not marker.exists()
    # the same payload as a bare .npy or pickle file under a checkpoint's name
    np.save(tmp_path / "evil2.npy", payload, allow_pickle=True)
    with pytest.raises(CheckpointError, match="evil2"):
        load_checkpoint(tmp_path / "evil2.npy")
    (tmp_path / "evil3.npz").write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(CheckpointError, match="evil3"):
        load_checkpoint(tmp_path / "evil3.npz")
    assert not marker.exists()


def test_object_array_cannot_be_saved(tmp_path):
    bad = _example()
    bad.params["x"] = np.array([object()])
    with pytest.raises(TypeError, match="object"):
        ck.save_checkpoint(tmp_path / "x.npz", bad)
    assert os.listdir(tmp_path) == []


def _rewrite(tmp_path, change):
    arrays = ck.to_arrays(_example())
    change(arrays)
    path = tmp_path / "edited.npz"
    np.savez(path, allow_pickle=False, **arrays)
    return path


def _json(value):
    return np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)


@pytest.mark.parametrize("change, words", [
    (lambda a: a.pop("meta"), "missing 'meta'"),
    (lambda a: a.pop("config"), "missing 'config'"),
    (lambda a: a.__setitem__("config", np.array(["x"])), "uint8"),
    (lambda a: a.__setitem__("config", np.frombuffer(b"{not json", np.uint8)), "JSON"),
    (lambda a: a.__setitem__("meta", _json({"format": "other"})), "not an rnn-lab"),
    (lambda a: a.__setitem__("meta", _json({"format": ck.FORMAT, "version": 99, "step": 1})),
     "version 99"),
    (lambda a: a.__setitem__("rng", _json({"bit_generator": "MT19937"})), "RNG state"),
    (lambda a: a.__setitem__("rng", _json({"bit_generator": "PCG64", "state": {}})),
     "RNG state"),
    (lambda a: a.__setitem__("vocab", _json(["ab"])), "vocabulary"),
    (lambda a: a.__setitem__("vocab", _json(["b", "a"])), "vocabulary"),
    (lambda a: a.__setitem__("weird", np.zeros(2)), "unexpected entry"),
    (lambda a: a.__setitem__("history/loss", np.zeros((2, 2))), "1-D"),
    (lambda a: a.__setitem__("param/x", np.array(["s"])), "dtype"),
    (lambda a: a.pop("carry/0"), "carry"),
])
def test_structural_defects_raise(tmp_path, change, words):
    path = _rewrite(tmp_path, change)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "edited.npz" in str(info.value) and words in str(info.value)


def test_check_arrays_names_shapes_and_dtypes():
    ref = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    check_arrays("p.npz", "parameter", {"W": np.ones((2, 3)), "b": np.ones(3)}, ref)
    with pytest.raises(CheckpointError, match="missing parameter b"):
        check_arrays("p.npz", "parameter", {"W": np.ones((2, 3))}, ref)
    with pytest.raises(CheckpointError, match=r"W has shape \(3, 2\)"):
        check_arrays("p.npz", "parameter", {"W": np.ones((3, 2)), "b": np.ones(3)}, ref)
    with pytest.raises(CheckpointError, match="dtype float32"):
        check_arrays("p.npz", "parameter",
                     {"W": np.ones((2, 3), np.float32), "b": np.ones(3)}, ref)
    with pytest.raises(CheckpointError, match="unexpected parameter c"):
        check_arrays("p.npz", "parameter",
                     {"W": np.ones((2, 3)), "b": np.ones(3), "c": np.ones(1)}, ref)


def test_header_claiming_more_data_than_stored(tmp_path):
    # a member whose header promises a huge array must not be allocated
    path = tmp_path / "huge.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("param/x.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="claims shape"):
        load_checkpoint(path)
