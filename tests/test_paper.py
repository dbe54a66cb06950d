"""Tests for rnn.sweep.paper: the published records, the settings that mirror them, and the
paper-vs-ours table built from summary rows made by hand here."""

import csv
import io

import pytest

from rnn import tasks
from rnn.cells import cell_names
from rnn.errors import UsageError, UserError
from rnn.reports import csv_text
from rnn.sweep import paper

TASK_NAMES = {"adding", "copy", "reber"}
KNOWN_CELLS = set(cell_names()) | {"irnn"}  # irnn is registered by the init branch


def summary(task, cell, T, hidden, *, init="uniform", variant=None, median=0.1,
            median_ci=(0.05, 0.2), successes=0, seeds=5, success_ci=(0.0, 0.43),
            baseline=1 / 6, threshold=0.01, steps=1000, batch=32, lr=0.01, worse=False):
    """One per-setting summary, with exactly the sweep's keys (plus variant when given)."""
    row = {"task": task, "cell": cell, "init": init, "T": T, "hidden": hidden, "steps": steps,
           "batch": batch, "lr": lr, "seeds": seeds, "successes": successes,
           "success_rate": successes / seeds, "success_ci": list(success_ci),
           "metric": "test_mse", "median": median, "median_ci": list(median_ci),
           "baseline": baseline, "threshold": threshold,
           "median_steps_to_success": 300 if successes else None, "median_seconds": 9.5,
           "worse_than_baseline": worse}
    if variant is not None:
        row["variant"] = variant
    return row


def record(key):
    return next(r for r in paper.RECORDS if r.key == key)


def test_records_are_complete():
    keys = [r.key for r in paper.RECORDS]
    assert len(keys) == len(set(keys))
    for r in paper.RECORDS:
        for text in (r.source, r.where, r.trials, r.budget, r.metric, r.figure):
            assert isinstance(text, str) and text.strip(), (r.key, text)
        assert r.task in TASK_NAMES and r.cell in KNOWN_CELLS, r.key
        assert r.init in {"uniform", "identity"}, r.key
        assert r.claim in paper.CLAIMS, r.key
        if r.task == "adding":
            assert r.variant in tasks.ADDING_VARIANTS, r.key
        else:
            assert r.variant is None, r.key
        if r.task == "reber":
            assert r.T == () and r.claim_T is None
        else:
            assert r.claim_T in r.T and all(isinstance(t, int) and t > 0 for t in r.T), r.key
        assert r.hidden is None or (isinstance(r.hidden, int) and r.hidden > 0), r.key
        if r.hidden is None:  # an unknown size must be said, not guessed
            assert "not re-checked" in r.definition or "not recorded" in r.trials, r.key
        assert r.sequences is None or r.sequences > 0
        assert r.rate is None or (r.claim == "solves" and 0 < r.rate <= 1)
        assert r.normalised is None or r.normalised > 0


def test_records_cover_the_issues_published_list():
    got = {(paper.short_source(r.source), r.task, r.cell, r.hidden, r.claim) for r in
           paper.RECORDS}
    arjovsky = "Arjovsky, Shah & Bengio 2016"
    for cell, claim in (("lstm", "beats_baseline"), ("rnn", "stays_at_baseline"),
                        ("irnn", "stays_at_baseline")):
        assert (arjovsky, "adding", cell, 128, claim) in got
    assert (arjovsky, "copy", "lstm", 40, "beats_baseline") in got
    assert ("Le, Jaitly & Hinton 2015", "adding", "irnn", None, "solves") in got
    assert record("le-adding-irnn").claim_T == 300
    assert record("urnn-copy-lstm").claim_T == 100 and record("urnn-adding-lstm").claim_T == 400
    reber = record("hs1997-reber-lstm")
    assert reber.rate == pytest.approx(148 / 150) and reber.sequences == 8440
    lstm, rnn = record("cybertron-adding-lstm"), record("cybertron-adding-rnn")
    assert (lstm.hidden, lstm.claim_T, rnn.hidden) == (8, 100, 8)
    assert "0.0007" in lstm.figure and "5 of 5" in lstm.figure and "0.0706" in rnn.figure
    assert (lstm.claim, rnn.claim) == ("solves", "fails")
    assert {lstm.variant, rnn.variant} == {"1997"}


@pytest.mark.parametrize("name", sorted(paper.BUDGETS))
def test_each_record_has_a_matching_setting(name):
    budget = paper.BUDGETS[name]
    settings = paper.paper_settings(name)
    assert [s["record"] for s in settings] == [r.key for r in paper.RECORDS]
    for rec, s in zip(paper.RECORDS, settings):
        assert (s["task"], s["variant"], s["cell"], s["init"]) == \
            (rec.task, rec.variant, rec.cell, rec.init)
        assert (s["steps"], s["batch"], s["seeds"]) == (budget.steps, budget.batch, budget.seeds)
        assert s["hidden"] <= budget.max_hidden and s["hidden"] <= (rec.hidden or s["hidden"])
        if rec.task == "reber":
            assert s["T"] is None
        else:
            assert s["T"] <= min(rec.claim_T, budget.max_T)
            if rec.task == "adding":
                assert s["T"] >= tasks.ADDING_MIN_LEN[rec.variant]
        if rec.hidden and s["hidden"] < rec.hidden:
            assert f"hidden {s['hidden']} of the source's {rec.hidden}" in s["smaller"]
        if s["T"] is not None and s["T"] < rec.claim_T:
            assert f"T = {s['T']} of the source's {rec.claim_T}" in s["smaller"]
    # a run of every setting is the run the table picks for that setting's record (two
    # records may share a setting when the budget cuts both to the same T and size)
    rows = [summary(s["task"], s["cell"], s["T"], s["hidden"], init=s["init"],
                    variant=s["variant"]) for s in settings]
    for rec, row in zip(paper.RECORDS, rows):
        assert paper.match(rec, rows) == row, rec.key


def test_default_settings_are_smaller_than_the_papers_and_say_so():
    s = {x["record"]: x for x in paper.paper_settings()}
    assert s["urnn-adding-lstm"]["hidden"] == 32 and s["urnn-adding-lstm"]["T"] == 200
    assert "hidden 32 of the source's 128" in s["urnn-adding-lstm"]["smaller"]
    assert s["hs1997-reber-lstm"]["hidden"] == 4 and s["hs1997-reber-lstm"]["smaller"] == []
    assert s["cybertron-adding-lstm"]["smaller"] == [
        "96,000 training sequences of the source's 256,000"]


def test_a_bad_budget_is_a_clear_error():
    with pytest.raises(UsageError, match="unknown paper budget 'huge'; choose from quick, def"):
        paper.paper_settings("huge")
    with pytest.raises(UsageError, match="max_T must be at least 20"):
        paper.Budget("tiny", max_hidden=8, max_T=10, steps=10, batch=4, seeds=2)
    with pytest.raises(UsageError, match="seeds must be a positive integer, got 0"):
        paper.Budget("none", max_hidden=8, max_T=50, steps=10, batch=4, seeds=0)
    own = paper.Budget("mine", max_hidden=8, max_T=64, steps=50, batch=16, seeds=2)
    assert {s["hidden"] for s in paper.paper_settings(own)} <= {4, 8}


def _lines(markdown):
    return {line.split(" | ")[0].lstrip("| "): line for line in markdown.splitlines()
            if line.startswith("| ") and not line.startswith("| Task")}


def test_table_shows_the_papers_figure_next_to_ours_with_the_differences():
    ours = [summary("adding", "lstm", 200, 32, median=0.0021, median_ci=(0.0012, 0.0048),
                    successes=5, success_ci=(0.566, 1.0))]
    markdown, rows = paper.paper_table([record("urnn-adding-lstm")], ours)
    line = _lines(markdown)["adding (urnn), lstm 128, T = 400"]
    assert record("urnn-adding-lstm").figure in line
    assert "test_mse median 0.0021 [0.0012, 0.0048] (baseline 0.167)" in line
    assert "success 5/5 = 100% [57%, 100%] at threshold 0.01 (0.06 of the baseline)" in line
    assert "hidden 32, the source's 128" in line
    assert "T = 200, the claim is at T = 400 (the source ran 100, 200, 400, 750)" in line
    assert "1,000 steps x 32 = 32,000 sequences per seed; the source: RMSprop" in line
    assert "| reproduced |" in line
    assert rows[0] == paper.CSV_HEADER and len(rows) == 2
    got = dict(zip(rows[0], rows[1]))
    assert (got["paper_hidden"], got["ours_hidden"], got["paper_T"], got["ours_T"]) == \
        (128, 32, "100 200 400 750", 200)
    assert (got["ours_median_lo"], got["ours_median_hi"]) == (0.0012, 0.0048)
    assert got["verdict"] == "reproduced" and "hidden 32" in got["differences"]


def test_a_record_with_no_run_says_not_run():
    ours = [summary("adding", "rnn", 100, 32, median=0.166, median_ci=(0.16, 0.17))]
    markdown, rows = paper.paper_table(paper.RECORDS, ours)
    lines = _lines(markdown)
    assert len(lines) == len(paper.RECORDS)  # nothing disappears
    copy = lines["copy, lstm 40, T = 100"]
    assert "| not run | not run | no sweep result for copy, lstm 40, T = 100 |" in copy
    assert "| reproduced |" in lines["adding (urnn), rnn 128, T = 100"]
    by_key = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_key["urnn-copy-lstm"]["verdict"] == "not run"
    assert by_key["urnn-copy-lstm"]["ours_median"] == ""
    assert by_key["urnn-copy-lstm"]["paper_figure"] == record("urnn-copy-lstm").figure


def test_a_missing_variant_is_urnn():
    no_variant = summary("adding", "rnn", 100, 8)
    assert paper.match(record("urnn-adding-rnn"), [no_variant]) is no_variant
    assert paper.match(record("cybertron-adding-rnn"), [no_variant]) is None
    in_1997 = summary("adding", "rnn", 100, 8, variant="1997")
    assert paper.match(record("cybertron-adding-rnn"), [no_variant, in_1997]) is in_1997


def test_match_prefers_the_records_init_then_its_T_then_its_hidden_size():
    rec = record("urnn-adding-lstm")  # lstm, uniform, T = 400, hidden 128
    chrono = summary("adding", "lstm", 400, 128, init="chrono")
    short = summary("adding", "lstm", 100, 32)
    longer = summary("adding", "lstm", 200, 16)
    beyond = summary("adding", "lstm", 750, 128)
    wide = summary("adding", "lstm", 200, 64)
    assert paper.match(rec, [chrono, short]) is short  # init first
    assert paper.match(rec, [short, longer, beyond]) is longer  # longest T up to the claim's
    assert paper.match(rec, [beyond]) is beyond
    assert paper.match(rec, [longer, wide]) is wide  # hidden nearest 128
    assert paper.match(rec, [summary("copy", "lstm", 400, 128)]) is None
    assert "init chrono (the source's nearest: uniform)" in paper.differences(rec, chrono)


@pytest.mark.parametrize("key,ci,verdict", [
    ("urnn-adding-lstm", (0.001, 0.01), "reproduced"),
    ("urnn-adding-lstm", (0.16, 0.17), "not reproduced"),
    ("urnn-adding-lstm", (0.1, 0.17), "unclear"),
    ("urnn-adding-rnn", (0.16, 0.17), "reproduced"),
    ("urnn-adding-rnn", (0.001, 0.01), "not reproduced"),
    ("urnn-adding-rnn", (0.1, 0.17), "unclear"),
])
def test_baseline_claims_are_judged_by_the_medians_ci(key, ci, verdict):
    row = summary("adding", record(key).cell, 100, 32, median_ci=ci)
    assert paper.paper_table([record(key)], [row])[1][1][-2] == verdict


@pytest.mark.parametrize("key,successes,ci,verdict", [
    ("hs1997-reber-lstm", 5, (0.57, 1.0), "reproduced"),  # 148/150 is inside
    ("hs1997-reber-lstm", 2, (0.12, 0.77), "not reproduced"),  # and here it is not
    ("le-adding-irnn", 5, (0.57, 1.0), "reproduced"),
    ("le-adding-irnn", 0, (0.0, 0.43), "not reproduced"),
    ("le-adding-irnn", 3, (0.23, 0.88), "unclear"),
    ("cybertron-adding-rnn", 0, (0.0, 0.43), "reproduced"),
    ("cybertron-adding-rnn", 5, (0.57, 1.0), "not reproduced"),
])
def test_success_claims_are_judged_by_the_success_ci(key, successes, ci, verdict):
    rec = record(key)
    row = summary(rec.task, rec.cell, rec.claim_T, 8, init=rec.init, variant=rec.variant,
                  successes=successes, success_ci=ci)
    assert paper.paper_table([rec], [row])[1][1][-2].split(";")[0] == verdict


def test_a_normalised_figure_is_placed_against_our_ci():
    rec = record("cybertron-adding-lstm")  # MSE / baseline 0.0009 / (2/3) = 0.00135
    base = tasks.adding_baseline_mse(100, "1997")
    row = summary("adding", "lstm", 100, 8, variant="1997", baseline=base, successes=5,
                  success_ci=(0.57, 1.0), median_ci=(0.0005 * base, 0.01 * base))
    verdict = paper.paper_table([rec], [row])[1][1][-2]
    assert verdict == "reproduced; MSE / baseline: source 0.0014, inside our [0.0005, 0.01]"
    # and the differences say how their task differs from ours
    assert "target X1 + X2 (predict-the-mean MSE 2/3)" in paper.differences(rec, row)[0]


def test_a_summary_without_the_sweeps_keys_is_a_clear_error():
    row = summary("adding", "lstm", 100, 32)
    del row["median_ci"], row["lr"]
    with pytest.raises(UserError, match=r"summary row 0 \(adding, lstm\) lacks lr, median_ci"):
        paper.paper_table(paper.RECORDS, [row])
    with pytest.raises(UserError, match="summary row 0 is a list"):
        paper.paper_table(paper.RECORDS, [["adding"]])


def test_csv_rows_fit_the_header_and_the_markdown_survives_pipes():
    ours = [summary("adding", "lstm", 200, 32), summary("reber", "lstm", None, 4)]
    ours[1]["metric"] = "strings|wrong"
    markdown, rows = paper.paper_table(paper.RECORDS, ours)
    assert all(len(r) == len(paper.CSV_HEADER) for r in rows)
    back = list(csv.reader(io.StringIO(csv_text(rows))))
    assert back[0] == paper.CSV_HEADER and len(back) == len(paper.RECORDS) + 1
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert all(line.replace("\\|", "").count("|") == 7 for line in table)
    assert "strings\\|wrong median" in markdown
