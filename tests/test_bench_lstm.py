"""`rnn-lab bench lstm`: every variant in one run, the BLAS named, results as JSON."""

import json

import numpy as np
import pytest

from rnn.bench import lstm, lstm_variants
from rnn.errors import OutputError


def test_the_variants_cover_eager_compiled_fused_numpy_and_one_step_each():
    names = set(lstm_variants.variants(lstm_variants.initial_weights(0), use_torch=False))
    assert {"ours eager float64", "ours compiled float64", "ours compiled float32",
            "ours fused float64", "numpy loop float64"} <= names
    assert {a for a, _, _ in lstm.TARGETS} <= names | {"ours fused float32"}


def test_compiled_and_eager_steps_start_from_the_same_loss():
    w = lstm_variants.initial_weights(0)
    ids = lstm_variants.batch_ids(0)
    eager = lstm_variants.ours(w, np.float64, fused=False)(ids)
    compiled_step = lstm_variants.ours(w, np.float64, fused=False, compiled=True)
    assert compiled_step(ids) == pytest.approx(eager, rel=1e-12)
    assert compiled_step.held() > 0  # the buffers its program keeps for the next call


def test_the_blas_is_named_and_says_how_it_was_found():
    info = lstm.blas_info()
    assert set(info) == {"library", "kernel", "threads", "source"}
    assert info["source"] == "threadpoolctl" or "threadpoolctl is not installed" in \
        info["source"]


def test_json_results_hold_every_variant_and_the_targets(tmp_path, monkeypatch, capsys):
    def fake(weights, use_torch):
        return {name: (lambda ids, k=k: 4.0 + k) for k, name in enumerate(
            ("ours compiled float64", "numpy loop float64", "torch primitives float64"))}

    monkeypatch.setattr(lstm, "variants", fake)
    path = tmp_path / "lstm.json"
    assert lstm.main(["--quick", "--repeats", "1", "--no-torch", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert set(report["variants"]) == set(fake(None, False))
    assert all(v["median_ms"] >= 0 and len(v["times_ms"]) == 1
               for v in report["variants"].values())
    names = {(t["variant"], t["reference"]) for t in report["targets"]}
    assert names == {("ours compiled float64", "numpy loop float64"),
                     ("ours compiled float64", "torch primitives float64")}
    out = capsys.readouterr().out
    assert "BLAS:" in out and f"results: {path}" in out


def test_a_bad_json_path_fails_before_the_benchmark_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(lstm, "variants", lambda *a: pytest.fail("the benchmark ran"))
    with pytest.raises(OutputError, match="it is a folder"):
        lstm.main(["--quick", "--no-torch", "--json", str(tmp_path)])
