"""`rnn-lab bench lstm`: every variant in one run, the BLAS named, results as JSON."""

import json

import numpy as np
import pytest

from rnn import cli
from rnn.bench import lstm, lstm_variants, runtime
from rnn.errors import OutputError, UsageError
from rnn.kernels import select


def test_the_variants_cover_eager_compiled_fused_numpy_and_one_step_each():
    names = set(lstm_variants.variants(lstm_variants.initial_weights(0), use_torch=False))
    assert {"ours eager float64", "ours compiled float64", "ours compiled float32",
            "ours fused float64", "numpy loop float64"} <= names
    # "ours fused float32 numpy" is there when the main fused row runs numba
    assert {a for a, _, _ in lstm.TARGETS} <= names | {"ours fused float32 numpy"}


def test_compiled_and_eager_steps_start_from_the_same_loss():
    w = lstm_variants.initial_weights(0)
    ids = lstm_variants.batch_ids(0)
    eager = lstm_variants.ours(w, np.float64, fused=False)(ids)
    compiled_step = lstm_variants.ours(w, np.float64, fused=False, compiled=True)
    assert compiled_step(ids) == pytest.approx(eager, rel=1e-12)
    assert compiled_step.held() > 0  # the buffers its program keeps for the next call


def test_the_blas_is_named_with_its_threads():
    info = runtime.blas_info()
    assert set(info) == {"internal_api", "version", "num_threads", "architecture"}
    assert info["internal_api"] in {"openblas", "mkl", "blis", "accelerate"}
    assert info["num_threads"] >= 1
    text = runtime.blas_text(info)
    assert text.startswith(info["internal_api"]) and f"{info['num_threads']} thread" in text


def test_the_fused_rows_say_their_path_and_numba_runs_beside_numpy(monkeypatch):
    w = lstm_variants.initial_weights(0)
    steps = lstm_variants.variants(w, use_torch=False, kernels="numpy")
    assert steps["ours fused float32"].path == steps["ours fused float64"].path == "numpy"
    assert "ours fused float32 numpy" not in steps
    assert steps["ours eager float64"].path is None  # no fused kernel in that row
    monkeypatch.setattr(select, "_numba", [True])
    steps = lstm_variants.variants(w, use_torch=False, kernels="auto")
    assert steps["ours fused float32"].path == "numba"
    assert steps["ours fused float32 numpy"].path == "numpy"  # the reference, same run
    assert steps["ours fused float64"].path == "numpy"


def test_numba_and_numpy_steps_give_the_same_loss():
    pytest.importorskip("numba")
    w = lstm_variants.initial_weights(0)
    ids = lstm_variants.batch_ids(0)
    losses = [lstm_variants.ours(w, np.float32, fused=True, path=path)(ids)
              for path in ("numpy", "numba")]
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_numba_first_call_is_timed_and_says_whether_it_compiled():
    pytest.importorskip("numba")
    info = runtime.numba_first_call([np.float32])
    assert info["import_s"] >= 0 and info["first_calls_s"] > 0
    assert info["compiled"] + info["loaded_from_cache"] >= 0


def test_kernels_numba_without_numba_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(select, "_numba", [False])
    monkeypatch.setattr(lstm, "variants", lambda *a: pytest.fail("the benchmark ran"))
    with pytest.raises(UsageError, match="--kernels=numba: numba is not installed"):
        lstm.main(["--quick", "--no-torch", "--kernels", "numba"])


def test_a_bad_kernels_variable_stops_the_command_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv(select.ENV, "fast")
    assert cli.main(["bench", "lstm", "--quick", "--no-torch"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "RNN_LAB_KERNELS='fast'" in err


def test_json_results_hold_every_variant_and_the_targets(tmp_path, monkeypatch, capsys):
    def fake(weights, use_torch, kernels):
        return {name: (lambda ids, k=k: 4.0 + k) for k, name in enumerate(
            ("ours compiled float64", "numpy loop float64", "torch primitives float64"))}

    monkeypatch.setattr(lstm, "variants", fake)
    path = tmp_path / "lstm.json"
    assert lstm.main(["--quick", "--repeats", "1", "--no-torch", "--kernels", "numpy",
                      "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert set(report["variants"]) == set(fake(None, False, "numpy"))
    assert all(v["median_ms"] >= 0 and len(v["times_ms"]) == 1
               for v in report["variants"].values())
    assert report["blas"] == runtime.blas_info() and report["kernels"] == "numpy"
    rows = report["variants"]
    assert rows["ours compiled float64"]["ran_on"] == runtime.blas_text(report["blas"])
    assert rows["torch primitives float64"]["ran_on"] == "-"  # (PyTorch was left out)
    assert all(v["fused_path"] is None for v in rows.values())
    names = {(t["variant"], t["reference"]) for t in report["targets"]}
    assert names == {("ours compiled float64", "numpy loop float64"),
                     ("ours compiled float64", "torch primitives float64")}
    out = capsys.readouterr().out
    assert "NumPy's BLAS (threadpoolctl): " in out and f"results: {path}" in out


def test_a_bad_json_path_fails_before_the_benchmark_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(lstm, "variants", lambda *a: pytest.fail("the benchmark ran"))
    with pytest.raises(OutputError, match="it is a folder"):
        lstm.main(["--quick", "--no-torch", "--json", str(tmp_path)])
