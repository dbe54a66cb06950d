"""`rnn-lab demo --quick`: run once in a subprocess, then check everything it promised."""

import json
import re
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rnn import demo

ROOT = Path(__file__).resolve().parents[1]

CONCEPTS = ["folded", "unrolled", "rnn-module", "lstm-module", "legend", "cell-state", "gate",
            "forget", "input", "update", "output", "gru", "peephole"]
GRAPHS = ["gradient-overlay", "graph-lstm-grad", "graph-rnn-grad"]
PLOTS = ["plots/conveyor_belt.png", "plots/char_model_loss.png", "plots/path_magnitudes.png",
         "experiment/loss_curves.png", "experiment/grad_norm_vs_lag.png",
         "born-in/accuracy_vs_gap.png", "born-in/country_gradients.png",
         "born-in/country_units.png", "born-in/forget_gate.png"]
OTHER = ["index.html", "summary.json", "derivation.txt", "crosscheck.txt", "sample.txt",
         "experiment/results.md", "experiment/results.csv", "experiment/grad_norms.csv",
         "experiment/summary.json", "born-in/results.md", "born-in/results.csv",
         "born-in/summary.json"]
PROMISED = ([f"figures/{n}.svg" for n in CONCEPTS + GRAPHS] + PLOTS + OTHER)

# Text each SVG must carry (Graphviz writes labels as <text> elements).
SVG_LABELS = {
    "lstm-module": ["σ", "tanh", "×", "+"],
    "forget": ["σ", "f"],
    "cell-state": ["×", "+", "c"],
    "gradient-overlay": ["RNN", "LSTM", "h_t", "loss"],
    "graph-lstm-grad": ["f_t", "c_t", "h_t", "W_f", "loss"],
    "graph-rnn-grad": ["h_t", "loss"],
}


def run_demo(out: Path, seed: int = 0):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "rnn", "demo", "--quick", "--out", str(out),
                             "--seed", str(seed)], cwd=out.parent, capture_output=True,
                            text=True, timeout=240, check=False)
    return result, time.perf_counter() - started


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """(completed process, output folder, seconds) of one `demo --quick --seed 0`."""
    out = tmp_path_factory.mktemp("demo") / "out"
    result, seconds = run_demo(out)
    return result, out, seconds


def summary_block(stdout: str) -> list[str]:
    """The printed summary's lines, from its heading up to (not including) the wall time."""
    lines = stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("Summary ("))
    stop = next(k for k, line in enumerate(lines) if "wall time" in line and k > start)
    return lines[start:stop]


def test_exits_0_without_errors(quick):
    # (its wall time is printed by the demo and measured there, not asserted: a shared
    # machine's load decides it)
    result, _, _seconds = quick
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "warn" not in result.stderr.lower()


def test_prints_the_five_parts_with_timings(quick):
    out = quick[0].stdout
    for k in range(1, 6):
        assert f"[{k}/5] " in out
    assert len(re.findall(r"^ +done in \d+\.\d s$", out, re.MULTILINE)) == 5


def test_every_promised_file_exists_and_is_non_empty(quick):
    _, out, _ = quick
    for name in PROMISED:
        path = out / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name


def test_no_temporary_files_are_left(quick):
    _, out, _ = quick
    left = [p for p in out.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
    assert left == []


def test_svgs_parse_and_carry_their_labels(quick):
    _, out, _ = quick
    for name in CONCEPTS + GRAPHS:
        root = ET.parse(out / "figures" / f"{name}.svg").getroot()
        assert root.tag.endswith("svg"), name
        texts = {"".join(el.itertext()) for el in root.iter() if el.tag.endswith("text")}
        for label in SVG_LABELS.get(name, []):
            assert any(label in t for t in texts), (name, label)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR", path
    assert data[-12:-4] == b"\x00\x00\x00\x00IEND", path  # complete: ends with IEND
    return struct.unpack(">II", data[16:24])


def test_pngs_are_complete_pngs(quick):
    _, out, _ = quick
    for name in PLOTS:
        width, height = png_size(out / name)
        assert width >= 400 and height >= 300, name


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])


def test_index_shows_every_figure_and_plot_and_links_resolve(quick):
    _, out, _ = quick
    parser = _Links()
    parser.feed((out / "index.html").read_text(encoding="utf-8"))
    figures = {f"figures/{n}.svg" for n in CONCEPTS + GRAPHS}
    assert figures | set(PLOTS) <= set(parser.images)
    for ref in parser.images + parser.links:
        assert not ref.startswith(("/", "http:", "https:", "file:")), ref  # relative only
        assert (out / ref).is_file(), ref


def test_index_escapes_the_text_it_shows(quick):
    _, out, _ = quick
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "(&lt; 0.01)" in page  # from the summary's verdict
    assert "<pre>" in page and "δfₜ" in page


def test_prints_the_closed_forms_and_the_cross_check(quick):
    out = quick[0].stdout
    for lhs, rhs in [("δfₜ", "δcₜ·cₜ₋₁"), ("δa_f", "δfₜ·fₜ·(1 - fₜ)"), ("δcₜ₋₁", "δcₜ·fₜ"),
                     ("δa_c", "δc̃ₜ·(1 - c̃ₜ²)")]:
        assert re.search(rf"{re.escape(lhs)} +{re.escape('= ' + rhs)}$", out, re.MULTILINE), lhs
    assert "∂cₜ/∂cₜ₋₁ = fₜ" in out
    errors = re.findall(r"engine, (?:primitive graph|fused LSTM kernel).*?(\S+)$", out,
                        re.MULTILINE)
    assert len(errors) == 2 and all(float(e) < 1e-10 for e in errors)


def test_summary_reports_what_was_measured(quick):
    result, out, _ = quick
    block = "\n".join(summary_block(result.stdout))
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    T = data["adding"]["grad_lag"]
    mse = data["adding"]["test_mse"]
    assert f"tanh RNN test MSE {mse[f'rnn@{T}']:.4f}" in block
    assert f"LSTM     test MSE {mse[f'lstm@{T}']:.4f}" in block
    assert "predicting the mean (0.167)" in block or mse[f"rnn@{T}"] < 0.1
    assert mse[f"lstm@{T}"] < 0.01  # the LSTM learns the long-term dependency...
    assert mse[f"rnn@{T}"] > 0.1  # ...the tanh RNN does not, with the same budget
    grads = data["adding"]["gradients"]
    assert grads["rnn_trained"]["ratio_lag_max_to_0"] < grads["lstm_trained"][
        "ratio_lag_max_to_0"]
    assert f"validation loss {data['char_model']['val_loss']:.4f} nats/char" in block
    assert data["cross_check"]["ok"]
    assert re.search(r"wall time \d+ s", result.stdout)
    for name in ("index.html", "summary.json", "figures/gradient-overlay.svg"):
        assert str(out / name) in result.stdout  # the paths of what it wrote


def test_prints_the_sample_it_wrote(quick):
    result, out, _ = quick
    sample = (out / "sample.txt").read_text(encoding="utf-8").rstrip("\n")
    assert sample.startswith("The ")
    printed = [line[len("      | "):] for line in result.stdout.splitlines()
               if line.startswith("      | ")]
    assert printed == sample.splitlines()


def test_same_seed_gives_the_same_numbers(quick, tmp_path):
    first, out, _seconds = quick
    second, _ = run_demo(tmp_path / "again")
    assert second.returncode == 0, second.stderr[-2000:]
    assert summary_block(second.stdout) == summary_block(first.stdout)
    again = (tmp_path / "again" / "sample.txt").read_text(encoding="utf-8")
    assert again == (out / "sample.txt").read_text(encoding="utf-8")


# ---- in-process pieces ------------------------------------------------------------------


def test_default_text_is_the_language_reference():
    text, name = demo.load_text()
    assert len(text) > 100_000 and "language reference" in name


def test_verdicts_follow_the_baseline():
    base = 1 / 6
    assert demo._verdict(0.001, base).startswith("learned the long-term")
    assert demo._verdict(0.16, base).startswith("no better than predicting the mean")
    assert demo._verdict(0.05, base) == "learned it only partly"
