"""The fused kernels' two paths (NumPy, the reference; numba, the optional `fast` extra), the
switch between them, and the buffers the kernels reuse."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.table import OPS
from rnn.bench import lstm_variants
from rnn.cells import cell_class, cell_names
from rnn.errors import UsageError
from rnn.kernels import JIT_KERNELS, select, workspace

KERNELS = {n: cell_class(n).fused_kernel() for n in cell_names()
           if cell_class(n).fused_kernel() is not None}
JIT_CELLS = [n for n, op in KERNELS.items() if op.name in JIT_KERNELS]
# float32 sums over T·B products round in proportion to their largest entry: the tolerance is
# relative to each array's largest magnitude (and absolute below 1)
TOLERANCE = {np.float32: 1e-6, np.float64: 1e-10}


def _inputs(name, sizes, seed, dtype):
    T, B, D, H = sizes
    cls = cell_class(name)
    rng = np.random.default_rng(seed)
    cell = cls(D, H, rng=seed)
    arrays = [rng.standard_normal((T, B, D)), *[rng.standard_normal((B, H)) for _ in cls.STATE],
              *[np.array(p.data) for p in cell.parameter_list()]]
    upstream = rng.standard_normal((T + len(cls.STATE) - 1, B, H))
    return [a.astype(dtype) for a in arrays], upstream.astype(dtype)


def _run(name, path, inputs, upstream):
    """The op's output and every gradient (x, states, parameters), on `path`."""
    op = KERNELS[name]
    with select.use(path):
        out, saved = op.forward(*inputs, need_dx=True)
        out = out.copy()
        grads = op.vjp(None, upstream, out, *inputs, saved=saved, need_dx=True)
    return [out, *[np.array(g) for g in grads]]


def _assert_close(a, b, dtype, what):
    assert a.dtype == b.dtype == dtype, what
    tol = TOLERANCE[dtype] * max(1.0, float(np.abs(b).max(initial=0)))
    np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=what)


def test_the_numba_kernels_cover_the_lstm_family():
    assert {KERNELS[n].name for n in JIT_CELLS} == JIT_KERNELS
    assert JIT_KERNELS == {"fused_lstm", "fused_peephole_lstm", "fused_cifg"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", JIT_CELLS)
@settings(max_examples=8, deadline=None)
@given(sizes=st.tuples(st.integers(1, 7), st.integers(1, 5), st.integers(1, 6),
                       st.integers(1, 9)), seed=st.integers(0, 2**16))
def test_numba_equals_numpy_values_and_gradients(name, dtype, sizes, seed):
    pytest.importorskip("numba")
    inputs, upstream = _inputs(name, sizes, seed, dtype)
    ours = _run(name, "numba", inputs, upstream)
    reference = _run(name, "numpy", inputs, upstream)
    assert len(ours) == len(reference)
    for k, (a, b) in enumerate(zip(ours, reference)):
        _assert_close(a, b, dtype, f"{name} {sizes}: {'output' if k == 0 else f'gradient {k}'}")


@pytest.mark.parametrize("name", JIT_CELLS)
def test_numba_equals_numpy_at_the_benchmark_width(name):
    pytest.importorskip("numba")
    inputs, upstream = _inputs(name, (16, 8, 65, 128), 0, np.float32)
    for a, b in zip(_run(name, "numba", inputs, upstream), _run(name, "numpy", inputs, upstream)):
        _assert_close(a, b, np.float32, name)


@pytest.mark.parametrize("name", JIT_CELLS)
def test_numba_keeps_nan_and_stays_finite_at_extremes(name):
    pytest.importorskip("numba")
    inputs, upstream = _inputs(name, (4, 2, 3, 5), 1, np.float32)
    inputs[0] = inputs[0] * 1e4
    with np.errstate(all="raise"):
        values = _run(name, "numba", inputs, upstream)
    assert all(np.isfinite(v).all() for v in values)
    inputs[0][1, 0, 0] = np.nan  # a NaN from step 1 on must show, as on the NumPy path
    out = _run(name, "numba", inputs, upstream)[0]
    assert np.isnan(out[1:, 0]).all() and not np.isnan(out[0]).any()


def test_auto_takes_numba_for_float32_only_when_it_is_installed(monkeypatch):
    monkeypatch.delenv(select.ENV, raising=False)
    monkeypatch.setattr(select, "_numba", [True])
    assert select.fused_path(np.float32) == "numba"
    assert select.fused_path(np.float64) == "numpy"
    monkeypatch.setattr(select, "_numba", [False])
    assert select.fused_path(np.float32) == "numpy"


def test_the_environment_variable_and_use_force_a_path(monkeypatch):
    monkeypatch.setattr(select, "_numba", [True])
    monkeypatch.setenv(select.ENV, "numpy")
    assert select.fused_path(np.float32) == "numpy"
    with select.use("numba"):  # use() wins over the environment
        assert select.fused_path(np.float64) == "numba"
    monkeypatch.setenv(select.ENV, "numba")
    assert select.fused_path(np.float64) == "numba"


def test_a_bad_choice_is_a_usage_error_naming_it(monkeypatch):
    monkeypatch.setenv(select.ENV, "fortran")
    with pytest.raises(UsageError, match="RNN_LAB_KERNELS='fortran': choose one of auto"):
        select.fused_path()
    monkeypatch.setenv(select.ENV, "numba")
    monkeypatch.setattr(select, "_numba", [False])
    with pytest.raises(UsageError, match=r"numba is not installed \(pip install 'rnn-lab\[fast\]'"):
        select.fused_path()
    with pytest.raises(UsageError, match="path=numba: numba is not installed"), select.use("numba"):
        pass


def test_a_numpy_run_never_imports_numba():
    code = ("import os, sys, numpy as np; os.environ['RNN_LAB_KERNELS'] = 'numpy'\n"
            "from rnn.layers import make_layer\n"
            "make_layer('lstm', 3, 4, dtype=np.float32)(np.ones((2, 1, 3), np.float32))\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _address(a):
    return a.__array_interface__["data"][0]


def test_a_held_buffer_or_a_view_of_it_is_never_handed_out_again():
    workspace.clear()
    shape = (64, 1024)  # 256 KiB: pooled
    a = workspace.empty(shape, np.float32)
    first = _address(a)
    view = a[1:]
    del a
    b = workspace.empty(shape, np.float32)
    assert _address(b) != first  # the view still holds the first buffer
    del view
    c = workspace.empty(shape, np.float32)
    assert _address(c) == first  # free again: reused (b is still held here)
    assert workspace.held_bytes() == 2 * c.nbytes
    assert workspace.empty(shape, np.float64).dtype == np.float64  # dtype is part of the key


def test_the_pool_stays_under_its_limit(monkeypatch):
    workspace.clear()
    monkeypatch.setattr(workspace, "LIMIT", 3 * 2**20)
    for n in range(1, 12):
        workspace.empty((n, 2**18 // n), np.float32)  # about 1 MiB each, all different
    assert workspace.held_bytes() <= workspace.LIMIT
    small = workspace.empty((4, 4), np.float32)
    assert small is not workspace.empty((4, 4), np.float32)  # small arrays: not pooled


def test_a_float32_training_step_makes_no_float64_array(monkeypatch):
    made = []

    def watch(op, attr):
        fn = getattr(op, attr)

        def wrapped(*args, **kwargs):
            result = fn(*args, **kwargs)
            for a in result if isinstance(result, tuple) else (result,):
                if isinstance(a, np.ndarray) and a.dtype == np.float64:
                    made.append(f"{op.name}.{attr}")
            return result

        monkeypatch.setattr(op, attr, wrapped)

    for op in OPS.values():
        watch(op, "forward")
        watch(op, "vjp")
    step = lstm_variants.ours(lstm_variants.initial_weights(0), np.float32, fused=True)
    for path in ("numpy", "numba") if select.numba_installed() else ("numpy",):
        with select.use(path):
            loss = step(lstm_variants.batch_ids(0))
    assert made == [] and np.isfinite(loss)
