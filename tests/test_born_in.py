"""The "born in" task, experiment, analysis, reports and CLI."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnn import tasks
from rnn import tasks_born_in as bi
from rnn.born_in_analysis import conveyor_belt, country_units, separation, trace
from rnn.checkpoint import load_checkpoint
from rnn.experiment_born_in import (
    BornInConfig,
    country_gradients,
    held_out_batch,
    make_model,
    run_one,
    sample_gap,
)
from rnn.reports_born_in import analyse, write_reports

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
NAMES = set(bi.COUNTRIES) | set(bi.LANGUAGES)


# ---- the generator -----------------------------------------------------------------------


def test_the_gap_is_exact_for_every_gap():
    rng = np.random.default_rng(0)
    for gap in range(1, 71):
        for _ in range(20):
            words, k = bi.born_in_sentence(gap, rng)
            assert words[:5] == [*bi.KEY, bi.COUNTRIES[k]] and words[-3:] == list(bi.QUESTION)
            assert len(words[5:-3]) == gap
            assert words[5] == bi.STOP


def test_fillers_name_no_country_or_language():
    rng = np.random.default_rng(1)
    for gap in (1, 2, 7, 30, 60):
        batch = bi.born_in(gap, 200, rng)
        for words in batch.sentences:
            assert not NAMES & set(words[5:]), words
            assert not {"born", "speak", "can"} & set(words[5:-3])


def test_distractors_name_other_countries_and_keep_the_gap():
    rng = np.random.default_rng(2)
    named = 0
    for _ in range(100):
        words, k = bi.born_in_sentence(40, rng, distractors=1.0)
        filler = words[5:-3]
        assert len(filler) == 40
        assert bi.COUNTRIES[k] not in filler and not set(bi.LANGUAGES) & set(filler)
        named += bool(set(bi.COUNTRIES) & set(filler))
    assert named > 90  # with probability 1 nearly every 40-word filler names one


def test_fewer_countries_use_only_the_first_ones():
    batch = bi.born_in(30, 300, np.random.default_rng(3), countries=3, distractors=0.5)
    assert set(batch.y) == {0, 1, 2}
    words = {w for s in batch.sentences for w in s}
    assert not words & set(bi.COUNTRIES[3:])


@pytest.mark.parametrize("level", bi.LEVELS)
def test_the_same_seed_gives_the_same_data(level):
    a, b = (bi.born_in(12, 16, np.random.default_rng(7), level) for _ in range(2))
    c = bi.born_in(12, 16, np.random.default_rng(8), level)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.sentences == b.sentences and a.sentences != c.sentences


def test_word_level_ids_spell_the_sentences():
    batch = bi.born_in(9, 4, np.random.default_rng(4))
    assert batch.x.shape == (9 + 8, 4)
    for b, words in enumerate(batch.sentences):
        assert [bi.VOCAB[i] for i in batch.x[:, b]] == words
        assert words[batch.country_step[b]] == bi.COUNTRIES[batch.y[b]]


def test_char_level_pads_on_the_left_and_marks_the_country():
    batch = bi.born_in(6, 8, np.random.default_rng(5), level="char")
    for b, words in enumerate(batch.sentences):
        text = "".join(bi.CHARS[i] for i in batch.x[:, b])
        body = bi.as_text(words)
        assert text == bi.PAD * (len(text) - len(body)) + body
        country = bi.COUNTRIES[batch.y[b]]
        step = batch.country_step[b]
        assert text[step - len(country) + 1:step + 1] == country


def test_the_vocabulary_is_a_few_hundred_words():
    assert 150 <= len(bi.VOCAB) <= 500 and len(set(bi.VOCAB)) == len(bi.VOCAB)
    assert bi.vocabulary("char") == bi.CHARS and bi.PAD in bi.CHARS
    for n, templates in [*bi.TEMPLATES.items(), *bi.DISTRACTOR_TEMPLATES.items()]:
        assert all(len(t.split()) == n for t in templates)


@pytest.mark.parametrize("kwargs, message", [
    ({"gap": 0}, "at least 1"), ({"gap": -3}, "at least 1"), ({"gap": 2.5}, "at least 1"),
    ({"countries": 1}, "between 2 and 10"), ({"countries": 11}, "between 2 and 10"),
    ({"level": "phoneme"}, "unknown level"),
])
def test_bad_input_is_refused(kwargs, message):
    args = {"gap": 5, "batch": 2, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ValueError, match=message):
        bi.born_in(**args)


def test_tasks_exports_the_generator():
    assert tasks.born_in is bi.born_in


def test_training_gaps_are_log_uniform():
    rng = np.random.default_rng(0)
    gaps = np.array([sample_gap(60, rng) for _ in range(20000)])
    assert gaps.min() == 1 and gaps.max() == 60
    counts = np.bincount(gaps, minlength=61)
    expected = np.log(np.arange(2, 62) / np.arange(1, 61)) / np.log(61) * len(gaps)
    assert np.allclose(counts[1:], expected, rtol=0.2, atol=15)


# ---- the experiment ----------------------------------------------------------------------

SMALL = BornInConfig(cells=("rnn", "lstm"), gaps=(20,), seeds=1, steps=250, hidden=16,
                     embedding=8, test_size=200, grad_batch=4, record_every=1000, workers=1)


def test_lstm_remembers_where_a_tanh_rnn_forgets_for_most_seeds():
    # Same budget, same sentences per seed: after 250 steps on gaps up to 20, the LSTM names
    # the language at gap 20 and the tanh RNN does not (measured: 5 of 5 seeds).
    wins = 0
    for seed in range(5):
        lstm = run_one("lstm", seed, SMALL).accuracy[0]
        rnn = run_one("rnn", seed, SMALL).accuracy[0]
        wins += lstm >= 0.9 and rnn < 0.5
    assert wins >= 4


def test_country_gradient_follows_the_chain_rule():
    cfg = BornInConfig(hidden=5, embedding=3, countries=4)
    model = make_model("rnn", cfg, seed=2)
    batch = bi.born_in(3, 6, np.random.default_rng(9), countries=4)
    norm, share = country_gradients(model, batch)
    # by hand: h_t = tanh([h_{t-1}, x_t] @ W + b), logits = h_T @ D.T + d
    W, b = model.layer.cells[0].W.data, model.layer.cells[0].b.data
    x = model.embed.weight.data[batch.x]
    h = [np.zeros((6, 5))]
    for t in range(x.shape[0]):
        h.append(np.tanh(np.concatenate([h[-1], x[t]], axis=1) @ W + b))
    logits = h[-1] @ model.decoder.weight.data.T + model.decoder.bias.data
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(6), batch.y] -= 1  # d(summed cross-entropy)/d logits
    g = p @ model.decoder.weight.data
    at_end = np.linalg.norm(g, axis=1)
    for t in range(x.shape[0], batch.country_step[0] + 1, -1):  # back to the country's h
        g = (g * (1 - h[t] ** 2)) @ W[:5].T
    at_country = np.linalg.norm(g, axis=1)
    assert norm == pytest.approx(at_country.mean(), rel=1e-10)
    assert share == pytest.approx(np.median(at_country / at_end), rel=1e-10)


def test_run_one_reports_every_gap():
    cfg = BornInConfig(cells=("gru",), gaps=(2, 6), steps=10, hidden=4, embedding=3,
                       test_size=20, grad_batch=3, record_every=5, workers=1)
    r = run_one("gru", 1, cfg)
    assert r.cell == "gru" and r.seed == 1 and r.gaps == [2, 6] and len(r.loss) == 10
    for values in (r.accuracy, r.grad_init, r.grad_trained, r.ratio_init, r.ratio_trained):
        assert len(values) == 2 and all(np.isfinite(values))
    assert all(0 <= a <= 1 for a in r.accuracy) and r.val_step == [5, 10]


def test_every_cell_sees_the_same_test_sentences():
    a, b = held_out_batch(SMALL, 20, seed=3), held_out_batch(SMALL, 20, seed=3)
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, held_out_batch(SMALL, 20, 4).x)


# ---- the analysis ------------------------------------------------------------------------


def test_separation_finds_the_unit_that_holds_the_label():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    values = rng.normal(size=(400, 4))
    values[:, 2] += 3 * labels
    scores = separation(values, labels)
    assert scores.argmax() == 2 and scores[2] > 10 * np.delete(scores, 2).max()


def test_trace_reads_what_the_fused_layer_computes():
    model = make_model("lstm", SMALL, seed=0)
    batch = bi.born_in(4, 3, np.random.default_rng(0))
    tr = trace(model, batch.x)
    logits, (_, c_n) = model(batch.x)
    np.testing.assert_allclose(tr["c"][-1], c_n.data[0], rtol=1e-10)
    np.testing.assert_allclose(tr["logits"], logits.data, rtol=1e-10)
    assert tr["f"].shape == tr["c"].shape and ((tr["f"] > 0) & (tr["f"] < 1)).all()


def test_trace_needs_a_cell_state():
    with pytest.raises(ValueError, match="no cell state"):
        trace(make_model("gru", SMALL, seed=0), np.zeros((3, 1), dtype=np.int64))


def test_the_belt_and_the_units_of_a_small_lstm():
    cfg = BornInConfig(gaps=(6,), hidden=6, embedding=4, countries=3, analysis_gap=30)
    model = make_model("lstm", cfg, seed=0)
    belt = conveyor_belt(model, cfg, seed=0)
    assert belt["tokens"][belt["country_step"]] == "France" and belt["answer"] == "French"
    assert belt["tokens"][belt["question_step"]] == "speak" and len(belt["tokens"]) == 6 + 8
    assert belt["f"].shape == belt["c"].shape == (6, 14)
    units = country_units(model, cfg, seed=0, size=90)
    assert units["gap"] == 6 and units["trajectories"].shape == (3, 3, 14)
    assert sorted(units["order"]) == list(range(6)) and units["top"][0] == units["order"][0]


# ---- the reports and the CLI -------------------------------------------------------------


def test_write_reports(tmp_path):
    cfg = BornInConfig(cells=("rnn", "lstm"), gaps=(2, 5), seeds=2, steps=5, hidden=4,
                       embedding=3, test_size=20, grad_batch=3, record_every=5, workers=1,
                       analysis_gap=5)
    results = [run_one(cell, seed, cfg) for cell in cfg.cells for seed in cfg.seed_list]
    summary = write_reports(results, cfg, tmp_path, 3.0, analyse(results, cfg))
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["results.csv", "summary.json", "results.md", "accuracy_vs_gap.png",
         "country_gradients.png", "country_units.png", "forget_gate.png"])
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["cell"], r["seed"], r["gap"]) for r in rows[:3]] == [
        ("rnn", "0", "2"), ("rnn", "0", "5"), ("rnn", "1", "2")] and len(rows) == 8
    mean = np.mean([r.accuracy[1] for r in results if r.cell == "lstm"])
    assert summary["accuracy"]["lstm"]["mean"][1] == pytest.approx(mean)
    assert json.load(open(tmp_path / "summary.json"))["wall_seconds"] == 3.0
    assert "| lstm | " in (tmp_path / "results.md").read_text()
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "rnn", "experiment", "born-in",
                           *map(str, args)], capture_output=True, text=True, timeout=300,
                          env=ENV, **kw)


def test_cli_help_has_examples():
    result = _cli("--help")
    assert result.returncode == 0 and "rnn-lab experiment born-in --quick" in result.stdout


@pytest.mark.parametrize("args, words", [
    (["--gaps", "0"], "at least 1 word"), (["--gaps", "5,-2"], "at least 1 word"),
    (["--gaps", "ten"], "whole number"), (["--countries", "1"], "between 2 and 10"),
    (["--level", "phoneme"], "invalid choice"), (["--cells", "rnn,nope"], "choose from"),
    (["--distractors", "2"], "probability"), (["--seeds", "0"], "positive integer"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, words):
    result = _cli(*args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and words in lines[0], result.stderr


def test_cli_unwritable_out_is_exit_1(tmp_path):
    (tmp_path / "file").write_text("x")
    result = _cli("--out", tmp_path / "file")
    assert result.returncode == 1 and "not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_small_run_writes_the_reports(tmp_path):
    out = tmp_path / "bi"
    result = _cli("--quick", "--steps", 20, "--seeds", 1, "--gaps", "2,4", "--cells",
                  "rnn,lstm,mgu", "--workers", 1, "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert sorted({r["cell"] for r in rows}) == ["lstm", "mgu", "rnn"]
    assert (out / "forget_gate.png").exists() and "country units" in result.stdout
    # each cell's model of the first seed, for rnn-lab inspect
    models = json.load(open(out / "summary.json"))["checkpoints"]
    assert models == {cell: f"{cell}.npz" for cell in ("rnn", "lstm", "mgu")}
    for cell, name in models.items():
        ckpt = load_checkpoint(out / name)
        assert ckpt.kind == "born-in" and ckpt.config["cell"] == cell
    assert f"rnn-lab inspect {out / 'lstm.npz'} -o page" in result.stdout
    assert "rnn-lab inspect lstm.npz -o page" in (out / "results.md").read_text()


def _workers(pid):
    """The pool workers (spawned processes) whose parent is `pid`, read from /proc."""
    kids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                spawned = b"spawn_main" in f.read()
        except OSError:
            continue
        if parent == pid and spawned:
            kids.append(int(entry))
    return kids


def test_sigterm_ends_every_worker_and_writes_nothing(tmp_path):
    out = tmp_path / "bi"
    proc = subprocess.Popen([sys.executable, "-m", "rnn", "experiment", "born-in", "--steps",
                             "100000", "--seeds", "2", "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert "born-in:" in proc.stdout.readline()
        deadline = time.monotonic() + 60
        while len(_workers(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(proc.pid)
        time.sleep(1.0)  # the workers are training
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143 and "Traceback" not in err  # 128 + SIGTERM
    assert len(err.strip().splitlines()) == 1 and "interrupted (SIGTERM)" in err
    time.sleep(0.5)
    assert len(workers) >= 2 and not [p for p in workers if os.path.exists(f"/proc/{p}")]
    assert not out.exists()  # the folder this run made, empty, is removed with it
