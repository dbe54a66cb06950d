"""The LSTM benchmark's throughput on real text: characters per second of truncated-BPTT
training (fused float32), ours beside torch.nn.LSTM, with the same model and updates."""

from __future__ import annotations

import statistics
import time

import numpy as np

from autograd_lite import Tensor, cross_entropy
from rnn.bench.lstm_variants import B, H, T, V, initial_weights, one_hot, our_model, torch_model
from rnn.layers import detach_state


def text_throughput(text: str, steps_per_variant: int, use_torch: bool, repeats: int):
    """chars/s of truncated-BPTT training on a text, ours (fused float32) and torch's."""
    if len(text) < B * (T + 1):
        return None, len(text), 0
    symbols = sorted(set(text))
    if len(symbols) > V:
        symbols = symbols[:V]
    index = {s: k for k, s in enumerate(symbols)}
    ids_all = np.array([index.get(ch, 0) for ch in text], dtype=np.int64)
    span = len(ids_all) // B  # each batch row reads its own contiguous stretch of the text
    streams = ids_all[: span * B].reshape(B, span).T  # (span, B)
    weights = initial_weights(0)
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
        lstm, decoder, optimizer = our_model(weights, np.float32)
        state = [None]

        def train(n):
            for _ in range(n):
                ids = _window(streams, position)
                optimizer.zero_grad()
                outputs, final = lstm(Tensor(one_hot(ids[:-1], np.float32)), state[0])
                logits = decoder(outputs.reshape((T * B, H)))
                loss = cross_entropy(logits, ids[1:].reshape(-1))
                loss.backward()
                optimizer.step()
                state[0] = detach_state(final)
            return loss.item()

        return train

    import torch  # optional: only when PyTorch is compared

    lstm, decoder, optimizer = torch_model(weights, "float32")
    state = [None]

    def train(n):
        for _ in range(n):
            ids = _window(streams, position)
            optimizer.zero_grad()
            x = torch.from_numpy(one_hot(ids[:-1], np.float32))
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
