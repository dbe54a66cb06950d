"""Paper vs ours: the published results on the long-memory tasks as data (`RECORDS`), the sweep
settings that mirror them within a budget (`paper_settings`), and the table that puts each
published figure next to ours (`paper_table`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rnn import tasks
from rnn.errors import UsageError, UserError

# The claims a record can make about its model, each checked against ours by `_verdict`.
CLAIMS = {
    "beats_baseline": "ends clearly below the trivial baseline",
    "stays_at_baseline": "does not beat the trivial baseline",
    "solves": "meets its success criterion",
    "fails": "does not meet its success criterion",
}
# "Clearly below the baseline": the 95% CI of our median lies under this fraction of it.
CLEAR = 0.9
URNN_BUDGET = "RMSprop, lr 1e-3, decay 0.9, gradient clip 1; iterations as plotted"
# Sections and figures as numbered in the authors' source, amarshah/complex_RNN
# paper/uRNN/uRNN.tex (December 2015); the sizes are also in ratschlab/uRNN run_experiments.sh.
URNN_WHERE = "Section 5.2 and Figure 2 (adding, T = 100, 200, 400, 750)"
ARJOVSKY = "Arjovsky, Shah & Bengio 2016, Unitary Evolution Recurrent Neural Networks (ICML)"
HS1997 = "Hochreiter & Schmidhuber 1997, Long Short-Term Memory (Neural Computation 9(8))"
CYBERTRON = "cybertronai/schmidhuber-problems, a NumPy reproduction of the 1997 experiments"
CELL_1997 = ("the 1997 LSTM has no forget gate and shares its gates within memory cell blocks; "
             "ours is the modern LSTM (Gers et al. 2000) with a forget gate")
CYBERTRON_TASK = ("their task: U(-1, 1) values, one marker in each half, a fixed T, target "
                  "X1 + X2 (predict-the-mean MSE 2/3), success MSE < 0.04; ours (1997): X1 in "
                  "the first ten steps, X2 in the first T/2, lengths T to T + T/10, target "
                  "0.5 + (X1 + X2)/4; compare MSE / baseline")


@dataclass(frozen=True)
class Record:
    """One published figure: who, where, on what task and model, and what it claims."""

    key: str
    source: str  # the citation
    where: str  # section, table or figure; or repository and file
    task: str  # "adding", "copy" or "reber"
    variant: str | None  # the adding problem's definition (rnn.tasks.ADDING_VARIANTS)
    cell: str  # our registered cell closest to the source's model
    init: str  # our init closest to the source's
    hidden: int | None  # the source's hidden size (None: not recorded here)
    T: tuple[int, ...]  # the lengths the source ran (empty for reber)
    claim_T: int | None  # the length the claim below is about
    trials: str  # runs or seeds behind the figure
    budget: str  # optimiser and training length, in words
    sequences: int | None  # training sequences behind the figure, when the source says
    metric: str
    figure: str  # the published figure, in words and numbers
    claim: str  # a key of CLAIMS
    rate: float | None = None  # the published success rate, for a "solves" claim
    normalised: float | None = None  # the published MSE / its task's predict-the-mean MSE
    definition: str = ""  # how the source's task or model differs from ours ("": it doesn't)


RECORDS = (
    Record("urnn-adding-lstm", ARJOVSKY, URNN_WHERE, "adding", "urnn", "lstm", "uniform", 128,
           (100, 200, 400, 750), 400, "one run per T, the better of batch 20 and 50",
           URNN_BUDGET, None, "test MSE",
           "beats the 0.167 baseline at T = 100, 200 and 400; at T = 750 below it but not "
           "near 0", "beats_baseline"),
    Record("urnn-adding-rnn", ARJOVSKY, URNN_WHERE, "adding", "urnn", "rnn", "uniform", 128,
           (100, 200, 400, 750), 100, "one run per T, the better of batch 20 and 50",
           URNN_BUDGET, None, "test MSE",
           "the tanh RNN does not beat the 0.167 baseline at any T", "stays_at_baseline"),
    Record("urnn-adding-irnn", ARJOVSKY, URNN_WHERE, "adding", "urnn", "irnn", "identity", 128,
           (100, 200, 400, 750), 100, "one run per T, the better of batch 20 and 50",
           URNN_BUDGET + " (the IRNN only with very low learning rates)", None, "test MSE",
           "the IRNN does not beat the 0.167 baseline at any T (too poor to plot)",
           "stays_at_baseline"),
    Record("le-adding-irnn", "Le, Jaitly & Hinton 2015, A Simple Way to Initialize Recurrent "
           "Networks of Rectified Linear Units", "the adding problem, as reported by Arjovsky "
           "et al. 2016, Section 5.2", "adding", "urnn", "irnn", "identity", None, (300,), 300,
           "not recorded here", "SGD with momentum; over 1,000,000 iterations", None,
           "test MSE", "the IRNN solves T = 300 (their tanh RNN T = 150), after more than a "
           "million iterations before it starts learning", "solves",
           definition="Le et al.'s generator is not re-checked here (taken as the urnn "
           "definition)"),
    Record("urnn-copy-lstm", ARJOVSKY, "Section 5.1 and Figure 1 (copy, T = 100, 200, 300, "
           "500; LSTM 40, RNN and IRNN 80 units)", "copy", None, "lstm", "uniform", 40, (100, 200, 300, 500), 100,
           "one run per T", URNN_BUDGET, None, "test cross-entropy per step",
           "beats the memoryless baseline 10 ln 8 / (T + 20) (0.173 at T = 100) only at "
           "T = 100; at T = 200, 300 and 500 it stays on it", "beats_baseline"),
    Record("hs1997-reber-lstm", HS1997, "Section 5.1, Table 1, as quoted by cybertronai/"
           "schmidhuber-problems embedded-reber/README.md", "reber", None, "lstm", "uniform", 4,
           (), None, "150 trials", "online training until the criterion is met; "
           "8,440 sequences on average", 8440, "trials solved",
           "148 of 150 trials solved (4 memory cell blocks of size 1), after 8,440 training "
           "sequences on average (sd 3,070)", "solves", rate=148 / 150,
           definition=CELL_1997 + "; the source needs every next symbol right on the "
           "training and the test set, the sweep on its test set"),
    Record("hs1997-adding-lstm", HS1997, "Section 5.4 (Experiment 4); NIPS 1996 version at "
           "idsia.ch/~juergen/nipslstm/node4.html; 74,000 as quoted at discuss.pytorch.org/t/"
           "21588", "adding", "1997", "lstm", "uniform", 4, (100, 500, 1000), 100,
           "not recorded here", "online, until the mean training error is below 0.01 and the "
           "2000 most recent sequences are right: 74,000 sequences at T = 100", 74000,
           "sequences right (|error| < 0.04)", "meets its stopping criterion at T = 100 after "
           "74,000 training sequences (2 memory cell blocks of size 2)", "solves",
           definition=CELL_1997 + "; the source's success is |error| < 0.04 on the 2000 "
           "latest training sequences, the sweep's is its threshold on a test set"),
    Record("cybertron-adding-lstm", CYBERTRON, "adding-problem/README.md (Results) and "
           "adding_problem.py", "adding", "1997", "lstm", "uniform", 8, (100,), 100, "5 seeds",
           "Adam lr 5e-3 halved every 1500 iterations, clip 1, batch 32, 8000 iterations: "
           "256,000 sequences", 256000, "test MSE",
           "MSE 0.0007 (seed 0); 5 of 5 seeds below 0.04, median 0.0009", "solves",
           normalised=0.0009 / (2 / 3), definition=CYBERTRON_TASK),
    Record("cybertron-adding-rnn", CYBERTRON, "adding-problem/README.md (Results) and "
           "adding_problem.py", "adding", "1997", "rnn", "uniform", 8, (100,), 100, "1 seed",
           "Adam lr 5e-3 halved every 1500 iterations, clip 1, batch 32, 5000 iterations: "
           "160,000 sequences", 160000, "test MSE",
           "MSE 0.0706 (seed 0), above their 0.04 threshold", "fails",
           normalised=0.0706 / (2 / 3), definition=CYBERTRON_TASK),
)


@dataclass(frozen=True)
class Budget:
    """How much a paper run may cost: our settings shrink the sources' to fit it."""

    name: str
    max_hidden: int
    max_T: int
    steps: int
    batch: int
    seeds: int

    def __post_init__(self):
        for field in ("max_hidden", "max_T", "steps", "batch", "seeds"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"paper budget {self.name!r}: {field} must be a positive "
                                 f"integer, got {value!r}")
        if self.max_T < tasks.ADDING_MIN_LEN["1997"]:
            raise UsageError(f"paper budget {self.name!r}: max_T must be at least "
                             f"{tasks.ADDING_MIN_LEN['1997']} (the 1997 adding problem's "
                             f"shortest), got {self.max_T}")


# quick: `rnn-lab experiment paper --quick` took 85 s on two cores (800 steps: the LSTM solves
# adding at T = 50 after about 500); default: 11.9 minutes on two quiet cores (3000 steps: at
# 1000 the LSTM did not solve adding at T = 200, at 3000 it does in 5 of 5 seeds; README).
BUDGETS = {
    "quick": Budget("quick", max_hidden=16, max_T=50, steps=800, batch=32, seeds=3),
    "default": Budget("default", max_hidden=32, max_T=200, steps=3000, batch=32, seeds=5),
}


def _budget(budget) -> Budget:
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise UsageError(f"unknown paper budget {budget!r}; choose from {', '.join(BUDGETS)}")
    return BUDGETS[budget]


def _setting(rec: Record, b: Budget) -> dict:
    hidden = min(rec.hidden or b.max_hidden, b.max_hidden)
    T = None if rec.claim_T is None else min(rec.claim_T, b.max_T)
    smaller = []
    if rec.hidden is not None and hidden < rec.hidden:
        smaller.append(f"hidden {hidden} of the source's {rec.hidden}")
    if T is not None and T < rec.claim_T:
        smaller.append(f"T = {T} of the source's {rec.claim_T}")
    if rec.sequences and b.steps * b.batch < rec.sequences:
        smaller.append(f"{b.steps * b.batch:,} training sequences of the source's "
                       f"{rec.sequences:,}")
    return {"record": rec.key, "task": rec.task, "variant": rec.variant, "cell": rec.cell,
            "init": rec.init, "T": T, "hidden": hidden, "steps": b.steps, "batch": b.batch,
            "seeds": b.seeds, "smaller": smaller}


def paper_settings(budget="default") -> list[dict]:
    """The sweep settings that mirror each record within `budget` (a name of BUDGETS or a
    Budget), one per record, in RECORDS' order.

    Each is {"record", "task", "variant" (None but for adding), "cell", "init", "T" (None for
    reber), "hidden", "steps", "batch", "seeds", "smaller"}: "smaller" lists, in words, where
    the setting is smaller than its source (hidden size, T, training sequences). The learning
    rate is left to the sweep's search. A small budget can cut two records to the same
    setting (the IRNN of Arjovsky et al. and of Le et al. at T = 50): run it once.
    """
    b = _budget(budget)
    return [_setting(rec, b) for rec in RECORDS]


SUMMARY_KEYS = ("task", "cell", "init", "T", "hidden", "steps", "batch", "lr", "seeds",
                "successes", "success_rate", "success_ci", "metric", "median", "median_ci",
                "baseline", "threshold", "median_steps_to_success", "median_seconds",
                "worse_than_baseline")


def _check_rows(ours) -> list[dict]:
    rows = list(ours)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UserError(f"paper table: summary row {i} is a {type(row).__name__}, not a "
                            f"dict")
        missing = [k for k in SUMMARY_KEYS if k not in row]
        if missing:
            raise UserError(f"paper table: summary row {i} ({row.get('task')}, "
                            f"{row.get('cell')}) lacks {', '.join(missing)}")
    return rows


def _variant(row: dict) -> str | None:
    return (row.get("variant") or "urnn") if row["task"] == "adding" else None


def _number(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def match(rec: Record, ours) -> dict | None:
    """The summary row that best stands for `rec` (None: no run of its task, variant and cell).

    Preferred, in order: the record's init; its T (else the longest T below it, else the
    shortest above); the hidden size nearest the source's (the largest if unrecorded); more
    seeds.
    """
    candidates = [r for r in ours if r["task"] == rec.task and r["cell"] == rec.cell and
                  _variant(r) == rec.variant]

    def preference(r):
        T = _number(r["T"]) if rec.claim_T is not None else None
        if T is None:
            t_key = (False, False, 0.0)
        else:
            t_key = (T == rec.claim_T, T <= rec.claim_T, T if T <= rec.claim_T else -T)
        h = _number(r["hidden"]) or 1.0
        h_key = h if rec.hidden is None else -abs(math.log(max(h, 1.0) / rec.hidden))
        return (r["init"] == rec.init, *t_key, h_key, _number(r["seeds"]) or 0)

    return max(candidates, key=preference, default=None)


def _g(x) -> str:
    x = _number(x)
    return "—" if x is None else f"{x:.3g}"


def _pct(x) -> str:
    x = _number(x)
    return "—" if x is None else f"{x:.0%}"


def _pair(ci) -> tuple:
    return tuple(ci) if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)


def ours_text(row: dict) -> str:
    """Our figure for one setting: median with its 95% CI, success with its 95% CI."""
    lo, hi = _pair(row["median_ci"])
    s_lo, s_hi = _pair(row["success_ci"])
    median = (f"{row['metric']} median {_g(row['median'])} [{_g(lo)}, {_g(hi)}] "
              f"(baseline {_g(row['baseline'])})")
    success = (f"success {row['successes']}/{row['seeds']} = {_pct(row['success_rate'])} "
               f"[{_pct(s_lo)}, {_pct(s_hi)}] at threshold {_g(row['threshold'])}")
    threshold, base = _number(row["threshold"]), _number(row["baseline"])
    if threshold is not None and base:
        success += f" ({threshold / base:.2g} of the baseline)"
    parts = [median, success]
    steps = _number(row["median_steps_to_success"])
    if steps is not None:
        parts.append(f"median {steps:,.0f} steps to success")
    worse = row["worse_than_baseline"]
    if worse is True or (not isinstance(worse, bool) and _number(worse)):
        parts.append("worse than the baseline" if worse is True
                     else f"{_g(worse)} seeds worse than the baseline")
    return "; ".join(parts)


def _verdict(rec: Record, row: dict) -> str:
    lo, hi = (_number(v) for v in _pair(row["median_ci"]))
    s_lo, s_hi = (_number(v) for v in _pair(row["success_ci"]))
    base = _number(row["baseline"])
    out = "unclear"
    if rec.claim in ("beats_baseline", "stays_at_baseline") and None not in (lo, hi, base):
        below, above = hi < CLEAR * base, lo >= CLEAR * base
        if below or above:
            out = "reproduced" if below == (rec.claim == "beats_baseline") else "not reproduced"
    elif rec.claim == "solves" and rec.rate is not None and None not in (s_lo, s_hi):
        out = "reproduced" if s_lo <= rec.rate <= s_hi else "not reproduced"
    elif rec.claim in ("solves", "fails") and None not in (s_lo, s_hi) and \
            (s_lo > 0.5 or s_hi < 0.5):
        out = "reproduced" if (s_lo > 0.5) == (rec.claim == "solves") else "not reproduced"
    if rec.normalised is not None and None not in (lo, hi, base) and base > 0:
        n_lo, n_hi = lo / base, hi / base
        where = ("inside" if n_lo <= rec.normalised <= n_hi else
                 "below" if rec.normalised < n_lo else "above")
        out += (f"; MSE / baseline: source {rec.normalised:.2g}, {where} our "
                f"[{n_lo:.2g}, {n_hi:.2g}]")
    return out


def _budget_text(rec: Record, row: dict) -> str:
    steps, batch = _number(row["steps"]), _number(row["batch"])
    if steps is None or batch is None:
        return f"the source: {rec.budget}"
    n = steps * batch
    text = f"{steps:,.0f} steps x {batch:,.0f} = {n:,.0f} sequences per seed"
    if rec.sequences:
        ratio = rec.sequences / n if n else math.inf
        text += (f" ({ratio:.2g}x fewer than the source's {rec.sequences:,})" if ratio > 1 else
                 f" ({1 / ratio:.2g}x the source's {rec.sequences:,})")
    return f"{text}; the source: {rec.budget}"


def differences(rec: Record, row: dict) -> list[str]:
    """Where our run differs from the source: task definition, init, hidden size, T, budget."""
    out = [rec.definition] if rec.definition else []
    if row["init"] != rec.init:
        out.append(f"init {row['init']} (the source's nearest: {rec.init})")
    if rec.hidden is None:
        out.append(f"hidden {row['hidden']} (the source's size is not recorded here)")
    elif _number(row["hidden"]) != rec.hidden:
        out.append(f"hidden {row['hidden']}, the source's {rec.hidden}")
    if rec.claim_T is not None and _number(row["T"]) != rec.claim_T:
        ran = ", ".join(map(str, rec.T))
        out.append(f"T = {row['T']}, the claim is at T = {rec.claim_T} (the source ran {ran})")
    out.append(_budget_text(rec, row))
    out.append(f"{row['seeds']} seeds at lr {_g(row['lr'])} (the source: {rec.trials})")
    return out


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


CSV_HEADER = ["record", "source", "where", "task", "variant", "cell", "paper_claim",
              "paper_figure", "paper_hidden", "paper_T", "paper_sequences", "ours_init",
              "ours_hidden", "ours_T", "ours_steps", "ours_batch", "ours_lr", "ours_seeds",
              "metric", "ours_median", "ours_median_lo", "ours_median_hi", "baseline",
              "threshold", "ours_successes", "ours_success_rate", "ours_success_lo",
              "ours_success_hi", "ours_median_steps_to_success", "worse_than_baseline",
              "verdict", "differences"]


def _csv_row(rec: Record, row: dict | None, verdict: str, diffs: list[str]) -> list:
    paper = [rec.key, rec.source, rec.where, rec.task, rec.variant or "", rec.cell, rec.claim,
             rec.figure, rec.hidden if rec.hidden is not None else "",
             " ".join(map(str, rec.T)), rec.sequences or ""]
    if row is None:
        return paper + [""] * (len(CSV_HEADER) - len(paper) - 2) + [verdict, "; ".join(diffs)]
    lo, hi = _pair(row["median_ci"])
    s_lo, s_hi = _pair(row["success_ci"])
    ours = [row["init"], row["hidden"], row["T"], row["steps"], row["batch"], row["lr"],
            row["seeds"], row["metric"], row["median"], lo, hi, row["baseline"],
            row["threshold"], row["successes"], row["success_rate"], s_lo, s_hi,
            row["median_steps_to_success"], row["worse_than_baseline"]]
    return paper + ["" if v is None else v for v in ours] + [verdict, "; ".join(diffs)]


def short_source(source: str) -> str:
    """A repository's name, or a paper's authors and year ("Arjovsky, Shah & Bengio 2016")."""
    first = source.split(",")[0]
    found = None if "/" in first else re.match(r".*?\b(19|20)\d\d\b", source)
    return found.group(0) if found else first


def _task_text(rec: Record) -> str:
    """The task and the source's model: "adding (urnn), lstm 128, T = 400"."""
    task = f"{rec.task} ({rec.variant})" if rec.variant else rec.task
    cell = f"{rec.cell} {rec.hidden}" if rec.hidden else rec.cell
    return f"{task}, {cell}" + (f", T = {rec.claim_T}" if rec.claim_T else "")


def paper_table(records, ours) -> tuple[str, list[list]]:
    """The paper-vs-ours table: (Markdown text, CSV rows with CSV_HEADER first).

    `ours` holds the sweep's per-setting summaries (SUMMARY_KEYS, plus "variant" for adding;
    a missing variant is "urnn"). Each record gets one row: its published figure, ours with
    95% CIs from the best-matching summary (`match`), a verdict on the record's claim and the
    differences; a record with no matching run says "not run".
    """
    rows = _check_rows(ours)
    header = ("| Task, cell | Source | Published | Ours (median [95% CI]; success [95% CI]) | "
              "Verdict | Differences |")
    lines = [header, "|---|---|---|---|---|---|"]
    csv_rows = [list(CSV_HEADER)]
    for rec in records:
        row = match(rec, rows)
        if row is None:
            ours_cell, verdict = "not run", "not run"
            diffs = [f"no sweep result for {_task_text(rec)}"]
        else:
            ours_cell, verdict = ours_text(row), _verdict(rec, row)
            diffs = differences(rec, row)
        lines.append("| " + " | ".join(_cell(c) for c in (
            _task_text(rec), f"{short_source(rec.source)}: {rec.where}",
            f"{rec.figure}; runs: {rec.trials}", ours_cell, verdict, "; ".join(diffs))) + " |")
        csv_rows.append(_csv_row(rec, row, verdict, diffs))
    rule = (f"Verdicts: a claim to beat the trivial baseline is reproduced when the 95% CI of "
            f"our median lies below {CLEAR:g} x the baseline, and contradicted when it lies at "
            f"or above it (the other way round for a claim not to beat it); a claim to solve "
            f"(or to fail) when the 95% CI of our success rate lies above (or below) 50%, or "
            f"contains the published rate; otherwise unclear. Our runs are smaller than the "
            f"sources' (see Differences).")
    lines += ["", rule, "", "Sources:"]
    lines += [f"- {rec.key}: {rec.source}; {rec.where}." for rec in records]
    return "\n".join(lines) + "\n", csv_rows
