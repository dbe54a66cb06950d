"""What ran a benchmark's figures: NumPy's BLAS and its threads (threadpoolctl), PyTorch's
libraries and threads, and the fused kernels' path (NumPy or numba) with numba's first-call
cost."""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_info

from rnn.kernels import select
from rnn.layers import make_layer

BLAS_FIELDS = ("internal_api", "version", "num_threads", "architecture")


def blas_info() -> dict:
    """NumPy's BLAS as threadpoolctl sees it now: internal_api (e.g. openblas), version,
    num_threads and architecture (the kernel family it picked); None where it cannot tell."""
    info = next((i for i in threadpool_info() if i.get("user_api") == "blas"), {})
    return {field: info.get(field) for field in BLAS_FIELDS}


def blas_text(info: dict) -> str:
    """One short line: "openblas 0.3.31 SkylakeX, 1 thread"."""
    if info.get("internal_api") is None:
        return "BLAS unknown (threadpoolctl found none)"
    threads = info.get("num_threads")
    return (f"{info['internal_api']} {info.get('version') or '?'} "
            f"{info.get('architecture') or '?'}, {threads} thread{'s' * (threads != 1)}")


def torch_info(torch) -> dict:
    """PyTorch's libraries (MKL, oneDNN: linked into torch, so threadpoolctl cannot see them)
    and its intra-op threads."""
    libraries = [name for name, backend in (("MKL", torch.backends.mkl),
                                            ("oneDNN", torch.backends.mkldnn))
                 if backend.is_available()]
    return {"version": torch.__version__, "libraries": libraries,
            "num_threads": torch.get_num_threads()}


def torch_text(info: dict) -> str:
    threads = info["num_threads"]
    return (f"torch {info['version']} {' + '.join(info['libraries']) or 'native'}, "
            f"{threads} thread{'s' * (threads != 1)}")


def numba_first_call(dtypes) -> dict:
    """Seconds to import numba, and of the first numba kernel calls (compiling them, or loading
    them from numba's cache) on a tiny LSTM forward and backward for each dtype; how many
    functions the cache served and how many were compiled."""
    start = time.perf_counter()
    jit = select.steps("numba")  # imports numba
    imported = time.perf_counter()
    with select.use("numba"):
        for dtype in dtypes:
            layer = make_layer("lstm", 2, 3, dtype=dtype, rng=0)
            out, _ = layer(np.ones((2, 1, 2), dtype))
            out.sum().backward()
    functions = (jit.lstm_forward_step, jit.lstm_backward_step)
    return {"import_s": imported - start, "first_calls_s": time.perf_counter() - imported,
            "loaded_from_cache": sum(sum(f.stats.cache_hits.values()) for f in functions),
            "compiled": sum(sum(f.stats.cache_misses.values()) for f in functions),
            "cache": str(functions[0].stats.cache_path)}
