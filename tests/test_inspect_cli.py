"""`rnn-lab inspect`: what it writes, its page in a real browser, and its one-line errors."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn.checkpoint import load_checkpoint
from rnn.inspect import find_pattern, record
from rnn.inspect import page as page_module
from rnn.inspect.page import write_page
from rnn.training import TrainConfig, model_from_checkpoint, train

ROOT = Path(__file__).resolve().parents[1]
TEXT = 'He said "stop (now)" and left.\nShe said "go [on]".\n' * 6


def rnn_lab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rnn", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, status):
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect")
    text = folder / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    ckpt = folder / "model.npz"
    train(TrainConfig(task="text", text=str(text), hidden=6, layers=2, steps=15, seq_len=16,
                      batch=4, val_every=1000), checkpoint=str(ckpt), progress=False)
    adding = folder / "adding.npz"
    train(TrainConfig(task="adding", hidden=4, steps=2, seq_len=5, batch=4, val_every=1000),
          checkpoint=str(adding), progress=False)
    return folder, text, ckpt, adding


def test_inspect_writes_the_page_the_arrays_and_the_findings(trained, tmp_path):
    folder, text, ckpt, _ = trained
    out = tmp_path / "out"
    result = rnn_lab("inspect", ckpt, "--text", text, "-o", out, "--find", '"[^"]*"',
                     "--find-depth", "--find-column", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert 'inside /"[^"]*"/' in result.stdout and "nesting depth of ()[]{}" in result.stdout
    assert "position in the line" in result.stdout and "index.html" in result.stdout
    model, _, vocab = model_from_checkpoint(load_checkpoint(str(ckpt)))
    acts = record(model, vocab, TEXT)
    with np.load(out / "activations.npz", allow_pickle=False) as z:
        assert set(z.files) >= {"text", "l0/f", "l0/c", "l0/h", "l1/o", "top5/ids", "top5/p"}
        for key in acts.keys():
            np.testing.assert_allclose(z[key], acts[key], rtol=0, atol=1e-6)
    page = (out / "index.html").read_text(encoding="utf-8")
    meta = json.loads(re.search(r'<script type="application/json" id="meta">(.*?)</script>',
                                page, re.S)[1])
    assert meta["T"] == len(TEXT) and meta["H"] == 6 and meta["layers"] == 2
    assert [f["target"] for f in meta["finds"]][0] == 'inside /"[^"]*"/'
    best = meta["finds"][0]["matches"][0]
    assert meta["initial"] == {"layer": best["layer"], "unit": best["unit"],
                               "quantity": best["quantity"]}
    assert "http" not in page.replace("http-equiv", "")  # offline: no network, no CDN
    assert (out / "data" / "b0.js").exists() and (out / "data" / "l1" / "u5-b0.js").exists()


def test_inspect_gradients_writes_arrays_and_plots(trained, tmp_path):
    _, text, ckpt, _ = trained
    out = tmp_path / "g"
    result = rnn_lab("inspect", ckpt, "--text", text, "-o", out, "--gradients",
                     "--grad-chars", "12")
    assert result.returncode == 0, result.stderr
    assert "sum to the gradient within" in result.stdout
    with np.load(out / "gradients.npz", allow_pickle=False) as z:
        assert z["connectivity"].shape == (12, 12) and z["lyapunov"].shape == (12,)
        for name in z["contrib_names"]:
            np.testing.assert_allclose(z[f"contrib/{name}"].sum(axis=0), z[f"full/{name}"],
                                       atol=1e-10)
    for png in ("connectivity.png", "contributions.png", "jacobian.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png in (out / "index.html").read_text(encoding="utf-8")


def test_a_long_text_is_paged_into_small_files(trained, tmp_path, monkeypatch):
    _, _, ckpt, _ = trained
    model, _, vocab = model_from_checkpoint(load_checkpoint(str(ckpt)))
    monkeypatch.setattr(page_module, "BLOCK_CHARS", 2000)
    monkeypatch.setattr(page_module, "PAGE_CHARS", 500)
    text = (TEXT * 40)[:7000]
    acts = record(model, vocab, text)
    write_page(acts, tmp_path)
    sizes = {p.relative_to(tmp_path / "data").as_posix(): p.stat().st_size
             for p in (tmp_path / "data").rglob("*.js")}
    # 4 blocks of text, per layer 6 units x 4 blocks and one search file per quantity
    assert len(sizes) == 4 + 2 * (6 * 4 + 7)
    # a view loads one text block and one unit file; each is about as big as its characters
    assert sizes["b0.js"] < 2000 * 5 * 3 * 1.4 + 5000
    assert sizes["l0/u0-b0.js"] < 2000 * 7 * 2 * 1.4 + 200
    # no activations in the page itself: it hardly grows with the text
    short = page_module.render(record(model, vocab, text[:300]), "t")
    assert (tmp_path / "index.html").stat().st_size < len(short.encode()) + 1000


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_shows_a_unit_and_its_gates_in_a_real_browser(trained, tmp_path):
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    _, text, ckpt, _ = trained
    model, _, vocab = model_from_checkpoint(load_checkpoint(str(ckpt)))
    acts = record(model, vocab, TEXT)
    write_page(acts, tmp_path)
    url = (tmp_path / "index.html").as_uri() + "#l=1&q=c&u=4&c=40"
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    spans = re.findall(r'<span (?:class="[^"]*" )?data-i="(\d+)"[^>]*'
                       r'style="background: ([^"]+)"', dom)
    assert [int(i) for i, _ in spans] == list(range(len(TEXT)))
    assert len({colour for _, colour in spans}) > 10  # coloured by the unit, not uniform
    tip = re.search(r'id="tip"(.*?)</div>\s*<h2', dom, re.S)[1]
    assert "character 40: " in tip and "layer 1, unit 4" in tip
    shown = dict(re.findall(r"<td>([^<]+)</td><td class=\"v\">(-?[0-9.]+)</td>", tip))
    for q in acts.quantities(1):
        assert float(shown[q]) == pytest.approx(acts[f"l1/{q}"][40, 4], abs=2e-3)
    assert "next character, top 5" in tip
    assert f"{100 * acts.top_p[40, 0]:.1f}%" in tip


def test_not_a_character_model_is_one_line_and_writes_nothing(trained, tmp_path):
    _, text, _, adding = trained
    out = tmp_path / "out"
    line = assert_one_line_error(rnn_lab("inspect", adding, "--text", text, "-o", out), 1)
    assert "not a character model" in line and not out.exists()


def test_unknown_characters_are_counted_and_replaced_on_request(trained, tmp_path):
    _, _, ckpt, _ = trained
    odd = tmp_path / "odd.txt"
    odd.write_text("He said ünd ü.", encoding="utf-8")
    out = tmp_path / "out"
    line = assert_one_line_error(rnn_lab("inspect", ckpt, "--text", odd, "-o", out), 1)
    assert "2 of 14 characters (1 distinct)" in line and "--replace-unknown" in line
    assert not out.exists()
    result = rnn_lab("inspect", ckpt, "--text", odd, "-o", out, "--replace-unknown")
    assert result.returncode == 0 and "2 unknown characters replaced" in result.stdout


@pytest.mark.parametrize("args, status, words", [
    (["--find", "(unclosed"], 2, "does not compile"),
    (["--unit", "6"], 2, "--unit 6 is out of range: the model has 6 units"),
    (["--layer", "2"], 2, "--layer 2 is out of range"),
    (["--quantity", "zz"], 2, "--quantity 'zz'"),
    (["--find-depth", "((("], 2, "pairs"),
])
def test_bad_arguments_are_one_line_and_write_nothing(trained, tmp_path, args, status, words):
    _, text, ckpt, _ = trained
    out = tmp_path / "out"
    line = assert_one_line_error(rnn_lab("inspect", ckpt, "--text", text, "-o", out, *args),
                                 status)
    assert words in line and not out.exists()


def test_an_empty_text_is_one_line(trained, tmp_path):
    _, _, ckpt, _ = trained
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    line = assert_one_line_error(rnn_lab("inspect", ckpt, "--text", empty, "-o",
                                         tmp_path / "out"), 1)
    assert "empty" in line


def test_help_has_examples():
    result = rnn_lab("inspect", "--help")
    assert result.returncode == 0 and "rnn-lab inspect model.npz --text" in result.stdout


def test_the_page_finds_units_in_a_real_browser(trained, tmp_path):
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    _, _, ckpt, _ = trained
    model, _, vocab = model_from_checkpoint(load_checkpoint(str(ckpt)))
    acts = record(model, vocab, TEXT)
    write_page(acts, tmp_path)
    page = tmp_path / "index.html"
    # press "find" for inside-quotes over every quantity, as a reader would
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
setTimeout(function () {
  document.getElementById("fpattern").value = '"[^"]*"';
  document.getElementById("fquantity").value = "all";
  document.getElementById("fgo").click();
}, 300);
</script></body>"""), encoding="utf-8")
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=8000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    table = re.search(r'<div id="fresult">(.*?)</div>', dom, re.S)[1]
    rows = re.findall(r"<tr class=\"pick\"><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td>"
                      r"<td>(\d+)</td><td>([+-][0-9.]+)</td></tr>", table)
    assert len(rows) == 10
    # the page searches the layer on screen (0): the same ranking as Python's, over layer 0
    expected = next(m for m in find_pattern(acts, '"[^"]*"', top=200).matches
                    if m.layer == 0)
    rank1 = rows[0]
    assert (int(rank1[1]), rank1[2].replace("&gt;", ">"), int(rank1[3])) == (
        expected.layer, expected.quantity, expected.unit)
    assert float(rank1[4]) == pytest.approx(expected.r, abs=0.02)  # 8-bit copies


def test_a_pattern_that_never_matches_fails_before_any_work(trained, tmp_path):
    _, text, ckpt, _ = trained
    out = tmp_path / "out"
    line = assert_one_line_error(rnn_lab("inspect", ckpt, "--text", text, "-o", out,
                                         "--find", "zzz"), 1)
    assert "inside /zzz/: the target is the same on every character" in line
    assert not out.exists()
