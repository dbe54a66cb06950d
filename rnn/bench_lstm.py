"""One training step of a character-level LSTM: fused kernel, primitive graph, NumPy, PyTorch.

The step: 65 symbols one-hot in, an LSTM with 128 hidden units over 64 steps of a batch of
32, a linear decoder and softmax cross-entropy at every step, backward, one SGD update.
Every variant starts from the same weights, runs in this process, and the repeats are
interleaved so that drift on a noisy machine hits all variants alike; medians are reported.
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

from rnn.argtypes import Parser, positive_int

T, B, V, H = 64, 32, 65, 128  # steps, batch, symbols, hidden units
LR = 0.1
# ../shared/data/tinyshakespeare.txt from the repository root (the package never needs it)
TEXT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "..",
    "shared",
    "data",
    "tinyshakespeare.txt",
)


# ------------------------------------------------------------------------------------------
# The shared starting point
# ------------------------------------------------------------------------------------------


def _batch(seed=0):
    """Symbol ids (T + 1, B): inputs are ids[:-1] one-hot, targets ids[1:]."""
    return np.random.default_rng(seed).integers(0, V, (T + 1, B))


def _one_hot(ids, dtype):
    return np.eye(V, dtype=dtype)[ids]


def _initial_weights(seed=0):
    """Per-gate LSTM weights (our layout) and a decoder, all float64."""
    from rnn.cells import LSTMCell

    cell = LSTMCell(V, H, rng=seed)
    rng = np.random.default_rng(seed + 1)
    bound = 1.0 / np.sqrt(H)
    w = cell.weights()
    w["W_y"] = rng.uniform(-bound, bound, (V, H))  # decoder, (out, in) as nn.Linear
    w["b_y"] = rng.uniform(-bound, bound, V)
    return w


# ------------------------------------------------------------------------------------------
# Variants: each returns `step(ids) -> loss` that trains once on a batch of ids (T + 1, B)
# ------------------------------------------------------------------------------------------


def ours(weights, dtype, fused):
    """This toolkit: LSTM layer (fused kernel or primitive graph), nn.Linear, SGD."""
    from autograd_lite import Tensor, cross_entropy, nn, optim
    from rnn.layers import LSTM

    lstm = LSTM(V, H, dtype=dtype, fused=fused)
    lstm.cells[0].load_weights(weights)  # reads the cell's own names, ignores W_y, b_y
    decoder = nn.Linear(H, V, dtype=dtype)
    decoder.weight.assign(weights["W_y"])
    decoder.bias.assign(weights["b_y"])
    optimizer = optim.SGD(lstm.parameters() + decoder.parameters(), lr=LR)

    def step(ids):
        optimizer.zero_grad()
        outputs, _ = lstm(Tensor(_one_hot(ids[:-1], dtype)))
        # one (T * B, H) product for the decoder, as torch's Linear does with 3-D input
        loss = cross_entropy(decoder(outputs.reshape((T * B, H))), ids[1:].reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_loop(weights):
    """The same cell written by hand in NumPy, min-char-rnn style: a forward loop with the
    decoder and softmax inside it, a backward loop, one matrix per gate on z = [h, x],
    dz = sum_g da_g @ W_g.T and dh = dz[:, :H] (the work the primitive graph does too)."""
    p = {k: np.array(v) for k, v in weights.items()}
    p["W_y"] = p["W_y"].T.copy()  # (H, V): y = h @ W_y + b_y
    gates = "fico"

    def step(ids):
        xs = _one_hot(ids[:-1], np.float64)
        targets = ids[1:]
        rows = np.arange(B)
        zs, cs, hs, acts, tcs, ps = {}, {-1: np.zeros((B, H))}, {-1: np.zeros((B, H))}, {}, {}, {}
        loss = 0.0
        for t in range(T):  # forward pass
            z = zs[t] = np.concatenate([hs[t - 1], xs[t]], axis=1)
            f = _sigmoid(z @ p["W_f"] + p["b_f"])
            i = _sigmoid(z @ p["W_i"] + p["b_i"])
            c_tilde = np.tanh(z @ p["W_c"] + p["b_c"])
            cs[t] = f * cs[t - 1] + i * c_tilde
            o = _sigmoid(z @ p["W_o"] + p["b_o"])
            tcs[t] = np.tanh(cs[t])
            hs[t] = o * tcs[t]
            acts[t] = (f, i, c_tilde, o)
            y = hs[t] @ p["W_y"] + p["b_y"]
            e = np.exp(y - y.max(axis=1, keepdims=True))
            ps[t] = e / e.sum(axis=1, keepdims=True)  # softmax probabilities
            loss -= np.log(ps[t][rows, targets[t]]).sum()
        d = {k: np.zeros_like(v) for k, v in p.items()}
        dh_next, dc_next = np.zeros((B, H)), np.zeros((B, H))
        for t in reversed(range(T)):  # backward pass
            dy = ps[t].copy()
            dy[rows, targets[t]] -= 1  # backprop into y: softmax minus one-hot
            dy /= T * B
            d["W_y"] += hs[t].T @ dy
            d["b_y"] += dy.sum(axis=0)
            dh = dy @ p["W_y"].T + dh_next
            f, i, c_tilde, o = acts[t]
            dc = dc_next + dh * o * (1 - tcs[t] ** 2)  # backprop through tanh(c)
            da = {
                "f": dc * cs[t - 1] * f * (1 - f),
                "i": dc * c_tilde * i * (1 - i),
                "c": dc * i * (1 - c_tilde**2),
                "o": dh * tcs[t] * o * (1 - o),
            }
            dz = np.zeros((B, H + V))
            for g in gates:
                d[f"W_{g}"] += zs[t].T @ da[g]
                d[f"b_{g}"] += da[g].sum(axis=0)
                dz += da[g] @ p[f"W_{g}"].T  # backprop into z = [h, x], as the graph does
            dh_next = dz[:, :H]
            dc_next = dc * f
        for k in p:
            p[k] -= LR * d[k]
        return loss / (T * B)

    return step


def numpy_loop_stacked(weights):
    """As `numpy_loop`, with the four gates stacked into one (H + V, 4H) matrix: fewer,
    larger products (the layout the fused kernel uses). For reference, no target."""
    W = np.concatenate([weights[f"W_{g}"] for g in "ifoc"], axis=1)  # (H + V, 4H)
    b = np.concatenate([weights[f"b_{g}"] for g in "ifoc"])
    Wy, by = weights["W_y"].T.copy(), weights["b_y"].copy()  # (H, V), (V,)
    params = [W, b, Wy, by]

    def step(ids):
        xs = _one_hot(ids[:-1], np.float64)
        targets = ids[1:]
        rows = np.arange(B)
        zs, cs, hs, gates, tcs, ps = {}, {-1: np.zeros((B, H))}, {-1: np.zeros((B, H))}, {}, {}, {}
        loss = 0.0
        for t in range(T):  # forward pass
            zs[t] = np.concatenate([hs[t - 1], xs[t]], axis=1)
            a = zs[t] @ W + b
            i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 2 * H : 3 * H])
            g = np.tanh(a[:, 3 * H :])
            cs[t] = f * cs[t - 1] + i * g
            tcs[t] = np.tanh(cs[t])
            hs[t] = o * tcs[t]
            gates[t] = (i, f, o, g)
            y = hs[t] @ Wy + by
            e = np.exp(y - y.max(axis=1, keepdims=True))
            ps[t] = e / e.sum(axis=1, keepdims=True)  # softmax probabilities
            loss -= np.log(ps[t][rows, targets[t]]).sum()
        dW, db, dWy, dby = (np.zeros_like(p) for p in params)
        dh_next, dc_next = np.zeros((B, H)), np.zeros((B, H))
        for t in reversed(range(T)):  # backward pass
            dy = ps[t].copy()
            dy[rows, targets[t]] -= 1  # backprop into y: softmax minus one-hot
            dy /= T * B
            dWy += hs[t].T @ dy
            dby += dy.sum(axis=0)
            dh = dy @ Wy.T + dh_next
            i, f, o, g = gates[t]
            dc = dc_next + dh * o * (1 - tcs[t] ** 2)  # backprop through tanh(c)
            da = np.concatenate(
                [
                    dc * g * i * (1 - i),
                    dc * cs[t - 1] * f * (1 - f),
                    dh * tcs[t] * o * (1 - o),
                    dc * i * (1 - g**2),
                ],
                axis=1,
            )
            dW += zs[t].T @ da
            db += da.sum(axis=0)
            dh_next = da @ W[:H].T  # only the h part of [h, x] carries on
            dc_next = dc * f
        for p, d in zip(params, (dW, db, dWy, dby)):
            p -= LR * d
        return loss / (T * B)

    return step


def torch_lstm(weights, dtype_name):
    """torch.nn.LSTM + nn.Linear + F.cross_entropy + optim.SGD."""
    import torch

    from rnn.interop import to_torch
    from rnn.layers import LSTM

    dtype = getattr(torch, dtype_name)
    layer = LSTM(V, H, dtype=np.dtype(dtype_name))
    layer.cells[0].load_weights(weights)
    lstm = _same_training(to_torch(layer))
    decoder = torch.nn.Linear(H, V, dtype=dtype)
    with torch.no_grad():
        decoder.weight.copy_(torch.from_numpy(weights["W_y"]))
        decoder.bias.copy_(torch.from_numpy(weights["b_y"]))
    optimizer = torch.optim.SGD(list(lstm.parameters()) + list(decoder.parameters()), lr=LR)

    def step(ids):
        optimizer.zero_grad()
        x = torch.from_numpy(_one_hot(ids[:-1], np.dtype(dtype_name)))
        outputs, _ = lstm(x)
        logits = decoder(outputs)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
        )
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _same_training(lstm):
    """torch keeps two biases per gate; SGD on both moves their sum twice as far as our one
    bias. Freezing bias_hh (zero after `to_torch`) makes the training identical to ours."""
    for name, p in lstm.named_parameters():
        if name.startswith("bias_hh"):
            p.requires_grad_(False)
    return lstm


def torch_primitives(weights):
    """The readable cell written with torch ops (per-gate matmuls, cat, sigmoid, tanh)."""
    import torch

    p = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    params = list(p.values())

    def step(ids):
        x = torch.from_numpy(_one_hot(ids[:-1], np.float64))
        h = c = torch.zeros(B, H, dtype=torch.float64)
        hs = []
        for t in range(T):
            hx = torch.cat([h, x[t]], dim=1)
            f = torch.sigmoid(hx @ p["W_f"] + p["b_f"])
            i = torch.sigmoid(hx @ p["W_i"] + p["b_i"])
            c_tilde = torch.tanh(hx @ p["W_c"] + p["b_c"])
            c = f * c + i * c_tilde
            o = torch.sigmoid(hx @ p["W_o"] + p["b_o"])
            h = o * torch.tanh(c)
            hs.append(h)
        logits = torch.stack(hs) @ p["W_y"].T + p["b_y"]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
        )
        loss.backward()
        with torch.no_grad():
            for q in params:
                q -= LR * q.grad
                q.grad = None
        return loss.item()

    return step


# ------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------


def numpy_blas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses (None when it cannot be asked)."""
    import numpy

    libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs", "*openblas*"))
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


def variants(weights, use_torch: bool) -> dict:
    """Name -> step function (torch variants only when asked and importable)."""
    out = {
        "ours fused float32": ours(weights, np.float32, fused=True),
        "ours fused float64": ours(weights, np.float64, fused=True),
        "ours graph float64": ours(weights, np.float64, fused=False),
        "numpy loop float64": numpy_loop(weights),
        "numpy stacked float64": numpy_loop_stacked(weights),
    }
    if use_torch:
        out["torch nn.LSTM float32"] = torch_lstm(weights, "float32")
        out["torch nn.LSTM float64"] = torch_lstm(weights, "float64")
        out["torch primitives float64"] = torch_primitives(weights)
    return out


def measure(steps: dict, repeats: int, block: int = 5) -> dict[str, list[float]]:
    """Seconds per training step of each variant.

    Variants run in blocks of `block` timed steps, the blocks interleaved round-robin so
    that drift hits all variants alike. Each block starts with a pause and an untimed step:
    OpenBLAS and OpenMP worker threads keep spinning for a while after their last call and
    would otherwise slow down whichever library runs next.
    """
    ids = _batch(1)
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
    ids = _batch(1)
    tracemalloc.start()
    try:
        fn(ids)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def torch_peak_bytes(fn) -> int | None:
    """Peak bytes torch's CPU allocator holds during one step, replayed from the profiler:
    each op's own allocations at its start, each free when it happens (an estimate)."""
    import torch

    ids = _batch(1)
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


def text_throughput(path, steps_per_variant: int, use_torch: bool, repeats: int):
    """chars/s of truncated-BPTT training on a text file, ours (fused float32) and torch's."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    if len(text) < B * (T + 1):
        return None, len(text), 0
    symbols = sorted(set(text))
    if len(symbols) > V:
        symbols = symbols[:V]
    index = {s: k for k, s in enumerate(symbols)}
    ids_all = np.array([index.get(ch, 0) for ch in text], dtype=np.int64)
    span = len(ids_all) // B  # each batch row reads its own contiguous stretch of the text
    streams = ids_all[: span * B].reshape(B, span).T  # (span, B)
    weights = _initial_weights(0)
    runs = {"ours fused float32": _tbptt(weights, "ours", streams)}
    if use_torch:
        runs["torch nn.LSTM float32"] = _tbptt(weights, "torch", streams)
    result = {}
    for train in runs.values():
        train(1)  # warm up
    seconds = {name: [] for name in runs}
    losses = {}
    for _ in range(repeats):
        for name, train in runs.items():
            time.sleep(0.2)  # let the other library's worker threads go idle (see `measure`)
            start = time.perf_counter()
            losses[name] = train(steps_per_variant)
            seconds[name].append(time.perf_counter() - start)
    for name in runs:
        rate = steps_per_variant * T * B / statistics.median(seconds[name])
        result[name] = (rate, losses[name])
    return result, len(text), len(symbols)


def _tbptt(weights, which, streams):
    """A trainer `train(n) -> last loss` that walks the streams with truncated BPTT."""
    position = [0]
    if which == "ours":
        from autograd_lite import Tensor, cross_entropy, nn, optim
        from rnn.layers import LSTM, detach_state

        lstm = LSTM(V, H, dtype=np.float32)
        lstm.cells[0].load_weights(weights)
        decoder = nn.Linear(H, V, dtype=np.float32)
        decoder.weight.assign(weights["W_y"])
        decoder.bias.assign(weights["b_y"])
        optimizer = optim.SGD(lstm.parameters() + decoder.parameters(), lr=LR)
        state = [None]

        def train(n):
            for _ in range(n):
                ids = _window(streams, position)
                optimizer.zero_grad()
                outputs, final = lstm(Tensor(_one_hot(ids[:-1], np.float32)), state[0])
                logits = decoder(outputs.reshape((T * B, H)))
                loss = cross_entropy(logits, ids[1:].reshape(-1))
                loss.backward()
                optimizer.step()
                state[0] = detach_state(final)
            return loss.item()

        return train

    import torch

    from rnn.interop import to_torch
    from rnn.layers import LSTM

    layer = LSTM(V, H, dtype=np.float32)
    layer.cells[0].load_weights(weights)
    lstm = _same_training(to_torch(layer))
    decoder = torch.nn.Linear(H, V)
    with torch.no_grad():
        decoder.weight.copy_(torch.from_numpy(weights["W_y"]))
        decoder.bias.copy_(torch.from_numpy(weights["b_y"]))
    optimizer = torch.optim.SGD(list(lstm.parameters()) + list(decoder.parameters()), lr=LR)
    state = [None]

    def train(n):
        for _ in range(n):
            ids = _window(streams, position)
            optimizer.zero_grad()
            x = torch.from_numpy(_one_hot(ids[:-1], np.float32))
            outputs, final = lstm(x, state[0])
            loss = torch.nn.functional.cross_entropy(
                decoder(outputs).reshape(-1, V), torch.from_numpy(ids[1:]).reshape(-1)
            )
            loss.backward()
            optimizer.step()
            state[0] = tuple(s.detach() for s in final)
        return loss.item()

    return train


def _window(streams, position):
    """The next (T + 1, B) window of the streams, wrapping around at the end."""
    start = position[0]
    if start + T + 1 > len(streams):
        start = 0
    position[0] = start + T
    return streams[start : start + T + 1]


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


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
        default=TEXT,
        help="text file for the chars/s measurement (default: "
        "../shared/data/tinyshakespeare.txt from the repository root)",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    return parser


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns an exit status."""
    args = build_parser().parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 20)
    use_torch = not args.no_torch and _torch_available()
    threads = numpy_blas_threads()
    if use_torch:
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)
    weights = _initial_weights(0)
    steps = variants(weights, use_torch)
    first = {name: fn(_batch(0)) for name, fn in steps.items()}  # same weights, same loss
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

    path = args.text
    if not os.path.isfile(path):
        print(f"chars/s on text: skipped ({path} not found; pass --text FILE)")
        return 0
    rates, n_chars, n_symbols = text_throughput(path, 5, use_torch, max(3, repeats // 4))
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
