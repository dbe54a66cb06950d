"""One training step of a character-level LSTM: fused kernel, primitive graph (eager and
compiled), NumPy, PyTorch.

The step: 65 symbols one-hot in, an LSTM with 128 hidden units over 64 steps of a batch of
32, a linear decoder and softmax cross-entropy at every step, backward, one SGD update.
Every variant (`lstm_variants`) starts from the same weights, runs in this process, and the
repeats are interleaved so that drift on a noisy machine hits all variants alike; medians are
reported, with the BLAS that ran them. Then peak memory, and characters per second on a text
(`lstm_text`). `--json FILE` writes every figure and ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import textwrap
import time
import tracemalloc

import numpy as np

from rnn.argtypes import Parser, file_name, positive_int
from rnn.bench.lstm_text import text_throughput
from rnn.bench.lstm_variants import B, H, T, V, batch_ids, initial_weights, variants
from rnn.bench.runtime import blas_info, blas_text, numba_first_call, torch_info, torch_text
from rnn.data import DataError, read_text
from rnn.io import output_target, write_text
from rnn.kernels import select, workspace

# (variant, reference, most the ratio may be): the targets the run is checked against.
TARGETS = (
    ("ours fused float32", "torch nn.LSTM float32", 1.3),
    ("ours fused float32 numpy", "torch nn.LSTM float32", 1.3),
    ("ours eager float64", "torch primitives float64", 1.0),
    ("ours eager float64", "numpy loop float64", 1.0),
    ("ours compiled float64", "numpy loop float64", 0.9),
    ("ours compiled float64", "torch primitives float64", 0.8),
    ("ours compiled float32", "torch primitives float32", 1.0),
)

# ../shared/data/tinyshakespeare.txt from the repository root (the package never needs it)
TEXT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "..",
    "shared",
    "data",
    "tinyshakespeare.txt",
)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(steps: dict, repeats: int, block: int = 5,
            clock=time.perf_counter) -> dict[str, list[float]]:
    """Seconds per training step of each variant, by `clock`.

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
                start = clock()
                fn(ids)
                times[name].append(clock() - start)
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
        description=textwrap.fill(
            f"Milliseconds per training step (forward, backward, SGD) of a character-level "
            f"LSTM: batch {B}, {T} steps, {V} symbols one-hot, hidden {H}, linear decoder and "
            f"cross-entropy at every step. Compares the fused kernel (NumPy and numba paths), "
            f"the primitive graph (eager, and compiled by autograd_lite.compile), a "
            f"hand-written NumPy loop and PyTorch, in one run; each row names the BLAS (and "
            f"threads) it ran on.", 79),
        epilog="Examples:\n  rnn-lab bench lstm --repeats 30 --json lstm.json\n"
        "  OPENBLAS_NUM_THREADS=1 rnn-lab bench lstm --repeats 30 --clock cpu --kernels numpy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time (default), or this process's CPU time: steadier on a "
                             "shared machine, and the same as wall time with one BLAS thread "
                             "(OPENBLAS_NUM_THREADS=1)")
    parser.add_argument("--kernels", choices=select.CHOICES, default=None,
                        help="path of the fused kernels' per-step work: numpy, numba (the "
                             "optional fast extra) or auto, numba for float32 when installed "
                             f"(default: ${select.ENV}, else auto); where numba runs, the "
                             "NumPy path is measured too")
    parser.add_argument("--json", type=file_name, metavar="FILE",
                        help="also write every variant's times, median and ratios to FILE")
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
    kernels = select.check(args.kernels, "--kernels") if args.kernels else select.choice()
    if args.json is not None:
        output_target(args.json, "benchmark results")  # a bad --json fails first
    text = _text(args)  # a bad --text fails before the benchmark runs
    with select.use(kernels):  # (the chars/s runs too)
        return _run(args, kernels, text)


def _run(args, kernels, text) -> int:
    repeats = args.repeats or (5 if args.quick else 20)
    use_torch = not args.no_torch and _torch_available()
    blas = blas_info()
    if use_torch:
        import torch  # optional: only when PyTorch is compared

        torch.set_num_threads(blas["num_threads"] or os.cpu_count() or 1)
    weights = initial_weights(0)
    steps = variants(weights, use_torch, kernels)
    jit = None
    if any(getattr(fn, "path", None) == "numba" for fn in steps.values()):
        jit = numba_first_call([np.float32, np.float64])
    first = {name: fn(batch_ids(0)) for name, fn in steps.items()}  # same weights, same loss
    times = measure(steps, repeats, clock=CLOCKS[args.clock])
    blas = blas_info()  # (as it ran: a library may have changed the threads since)
    torch_runs = torch_info(torch) if use_torch else None
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    report = {"step": {"T": T, "B": B, "V": V, "H": H}, "repeats": repeats,
              "clock": args.clock, "kernels": kernels, "blas": blas, "torch": torch_runs,
              "numba": jit, "variants": {}}
    for name in steps:
        on_torch = name.startswith("torch")
        report["variants"][name] = {
            "median_ms": medians[name], "times_ms": [t * 1e3 for t in times[name]],
            "first_loss": float(first[name]), "fused_path": getattr(steps[name], "path", None),
            "ran_on": (torch_text(torch_runs) if torch_runs else "-") if on_torch
            else blas_text(blas)}

    print(
        f"LSTM training step: batch {B}, {T} steps, {V} symbols one-hot, hidden {H}, "
        f"decoder + cross-entropy, SGD; median of {repeats} steps (interleaved blocks), "
        f"{args.clock} time"
    )
    threads = blas["num_threads"]
    if args.clock == "cpu" and (threads or 1) > 1:
        print(f"note: CPU time adds up all {threads} BLAS threads; with OPENBLAS_NUM_THREADS=1 "
              f"it is the step's own time")
    print(f"NumPy's BLAS (threadpoolctl): {blas_text(blas)}"
          + (f"; PyTorch: {torch_text(torch_runs)}" if use_torch else "; PyTorch left out"))
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        print(f"note: OPENBLAS_CORETYPE={coretype} selects NumPy's matrix-product kernels")
    if use_torch and torch.backends.mkldnn.is_available():
        print("note: torch nn.LSTM float32 runs oneDNN's fused LSTM kernel on this CPU")
    print(f"fused kernels: --kernels {kernels}; path of each fused row in its own column")
    if jit is not None:
        how = (f"{jit['compiled']} compiled" if jit["compiled"] else
               f"{jit['loaded_from_cache']} loaded from {jit['cache']}")
        print(f"numba: import {jit['import_s']:.2f} s, first calls {jit['first_calls_s']:.2f} s "
              f"({how})")
    print("eager and compiled: this toolkit's readable primitive graph (every gate a node), "
          "run eagerly, or as a program compiled by autograd_lite.compile")
    spread = max(first.values()) - min(first.values())
    print(
        f"first-step loss of every variant (same weights): {min(first.values()):.6f} "
        f"(spread {spread:.1e})"
    )
    reference = {"float32": "torch nn.LSTM float32", "float64": "torch nn.LSTM float64"}
    print(f"{'variant':<26} {'ms':>8}  {'vs nn.LSTM':>10}  {'fused':<5}  ran on")
    for name, ms in medians.items():
        ref = medians.get(reference["float32" if "float32" in name else "float64"])
        ratio = f"{ms / ref:.2f}x" if ref else "-"
        report["variants"][name]["vs_nn_lstm"] = ms / ref if ref else None
        row = report["variants"][name]
        print(f"{name:<26} {ms:>8.1f}  {ratio:>10}  {row['fused_path'] or '-':<5}  "
              f"{row['ran_on']}")
    print("targets:")
    report["targets"] = []
    for a, b, most in TARGETS:
        if a in medians and b in medians:
            ratio = medians[a] / medians[b]
            met = ratio <= most
            report["targets"].append({"variant": a, "reference": b, "ratio": ratio,
                                      "at_most": most, "met": met})
            print(f"  {a} / {b}: {ratio:.2f} (at most {most:.2f}) "
                  f"{'ok' if met else 'MISSED'}")
    if not args.quick:
        _peak_memory(steps, use_torch, report)
        _chars_per_second(args, text, use_torch, repeats, report)
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n", "benchmark results")
        print(f"results: {args.json}")
    return 0


def _peak_memory(steps, use_torch, report) -> None:
    print("peak memory of one step (NumPy paths: tracemalloc; torch: profiler memory events; "
          "compiled: with the buffers its program keeps between calls; fused: with the "
          "kernels' reused buffers):")
    report["peak_memory_mib"] = {}
    for name, fn in steps.items():
        peak = None
        if name.startswith("torch"):
            with contextlib.suppress(Exception):  # the profiler API moves between versions
                peak = torch_peak_bytes(fn)
        elif getattr(fn, "path", None) is not None:
            workspace.clear()  # then one step fills the pool with this variant's buffers only
            fn(batch_ids(1))
            peak = numpy_peak_bytes(fn) + workspace.held_bytes()
        else:
            peak = numpy_peak_bytes(fn) + (fn.held() if hasattr(fn, "held") else 0)
        report["peak_memory_mib"][name] = None if peak is None else peak / 2**20
        print(f"  {name:<26} {'n/a' if peak is None else f'{peak / 2**20:8.1f} MiB'}")


def _chars_per_second(args, text, use_torch, repeats, report) -> None:
    if text is None:
        print(f"chars/s on text: skipped ({TEXT} not found; pass --text FILE)")
        return
    path = args.text or TEXT
    rates, n_chars, n_symbols = text_throughput(text, 5, use_torch, max(3, repeats // 4))
    if rates is None:
        print(
            f"chars/s on text: skipped ({path} has {n_chars} characters; it needs at least "
            f"{B * (T + 1)})"
        )
        return
    print(
        f"chars/s of char-level training (TBPTT, float32, same model and updates) on "
        f"{os.path.basename(path)} ({n_chars} chars, {n_symbols} symbols):"
    )
    report["chars_per_second"] = {name: rate for name, (rate, _) in rates.items()}
    for name, (rate, loss) in rates.items():
        print(f"  {name:<26} {rate:>10.0f} chars/s   (loss after the last step {loss:.3f})")


if __name__ == "__main__":
    sys.exit(main())
