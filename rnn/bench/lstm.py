"""One training step of a character-level LSTM: fused kernel, primitive graph, NumPy, PyTorch.

The step: 65 symbols one-hot in, an LSTM with 128 hidden units over 64 steps of a batch of
32, a linear decoder and softmax cross-entropy at every step, backward, one SGD update.
Every variant (`lstm_variants`) starts from the same weights, runs in this process, and the
repeats are interleaved so that drift on a noisy machine hits all variants alike; medians are
reported. Then peak memory, and characters per second on a text (`lstm_text`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

from rnn.argtypes import Parser, file_name, positive_int
from rnn.bench.lstm_text import text_throughput
from rnn.bench.lstm_variants import B, H, T, V, batch_ids, initial_weights, variants
from rnn.data import DataError, read_text

# ../shared/data/tinyshakespeare.txt from the repository root (the package never needs it)
TEXT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "..",
    "shared",
    "data",
    "tinyshakespeare.txt",
)


def numpy_blas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses (None when it cannot be asked)."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return int(fn())
    return None


def measure(steps: dict, repeats: int, block: int = 5) -> dict[str, list[float]]:
    """Seconds per training step of each variant.

    Variants run in blocks of `block` timed steps, the blocks interleaved round-robin so
    that drift hits all variants alike. Each block starts with a pause and an untimed step:
    OpenBLAS and OpenMP worker threads keep spinning for a while after their last call and
    would otherwise slow down whichever library runs next.
    """
    ids = batch_ids(1)
    for fn in steps.values():  # warm up: imports, caches, allocator, thread pools
        fn(ids)
    times = {name: [] for name in steps}
    while any(len(t) < repeats for t in times.values()):
        for name, fn in steps.items():
            time.sleep(0.2)
            fn(ids)
            for _ in range(min(block, repeats - len(times[name]))):
                start = time.perf_counter()
                fn(ids)
                times[name].append(time.perf_counter() - start)
    return times


def numpy_peak_bytes(fn) -> int:
    """Peak bytes NumPy/Python allocate during one step (tracemalloc; NumPy reports to it)."""
    ids = batch_ids(1)
    tracemalloc.start()
    try:
        fn(ids)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def torch_peak_bytes(fn) -> int | None:
    """Peak bytes torch's CPU allocator holds during one step, replayed from the profiler:
    each op's own allocations at its start, each free when it happens (an estimate)."""
    import torch  # optional: only when PyTorch is compared

    ids = batch_ids(1)
    with (
        _quiet_stderr(),
        torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
        ) as prof,
    ):
        fn(ids)
    changes = []
    for e in prof.events():
        size = e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        if size:
            changes.append((e.time_range.start, size))
    if not changes:
        return None
    live = peak = 0
    for _, size in sorted(changes):
        live += size
        peak = max(peak, live)
    return peak


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level chatter on stderr (the profiler logs its start and stop there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def build_parser() -> argparse.ArgumentParser:
    """The options of this benchmark."""
    parser = Parser(
        prog="rnn-lab bench lstm",
        description=f"Milliseconds per training step (forward, backward, SGD) of a "
        f"character-level LSTM: batch {B}, {T} steps, {V} symbols one-hot, hidden {H}, "
        f"linear decoder and cross-entropy at every step. Compares the fused kernel, the "
        f"primitive graph, a hand-written NumPy loop and PyTorch, in one run.",
        epilog="Example: rnn-lab bench lstm --repeats 30",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=None,
        help="timed steps per variant, interleaved (default 20; 5 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="5 repeats, and skip the memory and text measurements"
    )
    parser.add_argument(
        "--text",
        type=file_name,
        default=None,
        help="UTF-8 text file for the chars/s measurement (default: "
        "../shared/data/tinyshakespeare.txt from the repository root, skipped if missing)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    return parser


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _text(args) -> str | None:
    """The chars/s text, read and checked now: --text must be a usable text file long
    enough for one batch (DataError); the default text may be missing (None: skipped)."""
    if args.quick or (args.text is None and not os.path.isfile(TEXT)):
        return None
    path = args.text or TEXT
    text = read_text(path)
    if len(text) < B * (T + 1):
        raise DataError(f"{path}: {len(text)} characters are too few for the chars/s "
                        f"measurement; it needs at least {B * (T + 1)}")
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns an exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.text is not None and args.quick:
        parser.error("--text is for the chars/s measurement, which --quick skips")
    text = _text(args)  # a bad --text fails before the benchmark runs
    repeats = args.repeats or (5 if args.quick else 20)
    use_torch = not args.no_torch and _torch_available()
    threads = numpy_blas_threads()
    if use_torch:
        import torch  # optional: only when PyTorch is compared

        torch.set_num_threads(threads or os.cpu_count() or 1)
    weights = initial_weights(0)
    steps = variants(weights, use_torch)
    first = {name: fn(batch_ids(0)) for name, fn in steps.items()}  # same weights, same loss
    times = measure(steps, repeats)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}

    print(
        f"LSTM training step: batch {B}, {T} steps, {V} symbols one-hot, hidden {H}, "
        f"decoder + cross-entropy, SGD; median of {repeats} steps (interleaved blocks)"
    )
    print(
        f"threads: NumPy's OpenBLAS {threads if threads else 'unknown'}"
        + (
            f", torch.set_num_threads({torch.get_num_threads()})"
            if use_torch
            else " (PyTorch left out)"
        )
    )
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        print(f"note: OPENBLAS_CORETYPE={coretype} selects NumPy's matrix-product kernels")
    if use_torch and torch.backends.mkldnn.is_available():
        print("note: torch nn.LSTM float32 runs oneDNN's fused LSTM kernel on this CPU")
    spread = max(first.values()) - min(first.values())
    print(
        f"first-step loss of every variant (same weights): {min(first.values()):.6f} "
        f"(spread {spread:.1e})"
    )
    reference = {"float32": "torch nn.LSTM float32", "float64": "torch nn.LSTM float64"}
    print(f"{'variant':<26} {'ms':>8}  {'vs nn.LSTM':>10}")
    for name, ms in medians.items():
        ref = medians.get(reference["float32" if "float32" in name else "float64"])
        ratio = f"{ms / ref:.2f}x" if ref else "-"
        print(f"{name:<26} {ms:>8.1f}  {ratio:>10}")
    print("targets (ratio <= 1.00):")
    checks = [
        ("ours fused float32", "torch nn.LSTM float32"),
        ("ours graph float64", "torch primitives float64"),
        ("ours graph float64", "numpy loop float64"),
    ]
    for a, b in checks:
        if a in medians and b in medians:
            ratio = medians[a] / medians[b]
            print(f"  {a} / {b}: {ratio:.2f} {'ok' if ratio <= 1.0 else 'MISSED'}")
    if args.quick:
        return 0

    print("peak memory of one step (NumPy paths: tracemalloc; torch: profiler memory events):")
    for name, fn in steps.items():
        peak = None
        if name.startswith("torch"):
            with contextlib.suppress(Exception):  # the profiler API moves between versions
                peak = torch_peak_bytes(fn)
        else:
            peak = numpy_peak_bytes(fn)
        print(f"  {name:<26} {'n/a' if peak is None else f'{peak / 2**20:8.1f} MiB'}")

    if text is None:
        print(f"chars/s on text: skipped ({TEXT} not found; pass --text FILE)")
        return 0
    path = args.text or TEXT
    rates, n_chars, n_symbols = text_throughput(text, 5, use_torch, max(3, repeats // 4))
    if rates is None:
        print(
            f"chars/s on text: skipped ({path} has {n_chars} characters; it needs at least "
            f"{B * (T + 1)})"
        )
        return 0
    print(
        f"chars/s of char-level training (TBPTT, float32, same model and updates) on "
        f"{os.path.basename(path)} ({n_chars} chars, {n_symbols} symbols):"
    )
    for name, (rate, loss) in rates.items():
        print(f"  {name:<26} {rate:>10.0f} chars/s   (loss after the last step {loss:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
