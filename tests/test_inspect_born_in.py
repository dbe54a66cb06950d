"""The born-in experiment's models in `rnn-lab inspect`: their checkpoint, word tokens, the
sentence inspect generates, the country unit, and the page in a real browser."""

import json
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from autograd_lite import ops
from rnn import cli
from rnn import tasks_born_in as bi
from rnn.born_in_analysis import country_unit, country_units
from rnn.born_in_checkpoint import from_checkpoint, save_born_in, to_checkpoint
from rnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, to_arrays
from rnn.data import DataError, WordVocab
from rnn.experiment_born_in import BornInConfig, run_one
from rnn.inspect import UnknownWords, prepare_words, record, span_indicator
from rnn.reports_born_in import write_checkpoints
from rnn.training import TrainConfig

# 150 steps: the LSTM names the language of 95% of the test sentences, and its country unit
# is not unit 0 (the page's fallback), so the tests below see the default chosen
CFG = BornInConfig(cells=("lstm", "gru"), gaps=(2, 6), seeds=1, steps=150, hidden=8,
                   embedding=4, test_size=20, grad_batch=3, record_every=150, workers=1,
                   analysis_gap=6)
SENTENCE = "I was born in Spain.\nthe dog slept . so I can speak\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny born-in run of an LSTM and a GRU (words) and an LSTM (characters), saved."""
    folder = tmp_path_factory.mktemp("born-in")
    results = [run_one(cell, 0, CFG) for cell in CFG.cells]
    written = write_checkpoints(results, CFG, folder)
    char_cfg = replace(CFG, cells=("lstm",), level="char", steps=5)
    char = run_one("lstm", 0, char_cfg)
    save_born_in(folder / "char.npz", char, char_cfg)
    (folder / "sentence.txt").write_text(SENTENCE, encoding="utf-8")
    return folder, {r.cell: r for r in results}, written, char


def inspect(capsys, *args):
    """(status, stdout, stderr) of `rnn-lab inspect args` in this process."""
    try:
        status = cli.main(["inspect", *map(str, args)])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def page_meta(folder) -> dict:
    page = (folder / "index.html").read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="meta">(.*?)</script>',
                                page, re.S)[1])


# ---- the checkpoint ------------------------------------------------------------------------


def test_the_experiment_writes_one_checkpoint_per_cell(runs):
    folder, results, written, _ = runs
    assert written == {"lstm": "lstm.npz", "gru": "gru.npz"}
    for cell, result in results.items():
        ckpt = load_checkpoint(folder / written[cell])
        assert ckpt.kind == "born-in" and ckpt.step == CFG.steps
        run = from_checkpoint(ckpt)
        assert (run.cell, run.seed, run.level, run.cfg) == (cell, 0, "word", CFG)
        assert run.vocab.tokens == list(bi.VOCAB)
        assert run.pairs == list(bi.PAIRS[:CFG.countries])
        assert run.languages == list(bi.LANGUAGES[:CFG.countries])
        for name, value in run.model.state_dict().items():
            np.testing.assert_array_equal(value, result.params[name])
        np.testing.assert_array_equal(ckpt.history["loss"], result.loss)


def test_the_restored_model_answers_as_the_trained_one(runs):
    folder, results, _, _ = runs
    run = from_checkpoint(load_checkpoint(folder / "lstm.npz"))
    trained = from_checkpoint(to_checkpoint(results["lstm"], CFG)).model
    batch = bi.born_in(6, 8, np.random.default_rng(1))
    np.testing.assert_array_equal(run.model(batch.x)[0].data, trained(batch.x)[0].data)


@pytest.mark.parametrize("change, words", [
    (lambda c: c.config["experiment"].__setitem__("hidden", 7), "has shape"),
    (lambda c: c.config.__setitem__("pairs", c.config["pairs"][:3]), "'pairs'"),
    (lambda c: c.config.__setitem__("cell", "nosuch"), "unknown cell 'nosuch'"),
    (lambda c: c.config.__setitem__("seed", -1), "invalid seed"),
    (lambda c: c.config.pop("experiment"), "a born-in config holds"),
    (lambda c: c.config["experiment"].__setitem__("level", "phoneme"), "unknown level"),
    (lambda c: c.config["experiment"].__setitem__("colour", 1), "unknown experiment config"),
    (lambda c: setattr(c, "vocab", ["I", "I"]), "vocabulary"),
    (lambda c: setattr(c, "vocab", ["two words"] + c.vocab[1:]), "word-level vocabulary"),
    (lambda c: setattr(c, "vocab", None), "needs its vocabulary"),
    (lambda c: c.params.__setitem__("decoder.bias", c.params["decoder.bias"] * np.nan), "NaN"),
])
def test_a_defective_checkpoint_is_refused_naming_the_path(runs, tmp_path, change, words):
    folder, *_ = runs
    ckpt = load_checkpoint(folder / "lstm.npz")
    change(ckpt)
    path = tmp_path / "edited.npz"
    save_checkpoint(path, ckpt)
    with pytest.raises(CheckpointError) as info:
        from_checkpoint(load_checkpoint(path))
    assert "edited.npz" in str(info.value) and words in str(info.value)


def test_an_unknown_kind_and_a_truncated_file_are_refused(runs, tmp_path):
    folder, *_ = runs
    arrays = to_arrays(load_checkpoint(folder / "lstm.npz"))
    meta = json.loads(arrays["meta"].tobytes())
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "kind": "other"}).encode(), np.uint8)
    np.savez(tmp_path / "kind.npz", **arrays)
    with pytest.raises(CheckpointError, match="kind 'other'"):
        load_checkpoint(tmp_path / "kind.npz")
    data = (folder / "lstm.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz"):
        load_checkpoint(tmp_path / "cut.npz")


def test_a_born_in_model_is_not_a_training_run(runs):
    folder, *_ = runs
    ckpt = load_checkpoint(folder / "lstm.npz")
    with pytest.raises(CheckpointError, match="not a checkpoint of rnn-lab train"):
        TrainConfig.from_checkpoint(ckpt)


# ---- words ---------------------------------------------------------------------------------


def test_a_text_splits_into_the_tasks_words():
    vocab = WordVocab(bi.VOCAB)
    words = prepare_words(SENTENCE, vocab)
    assert words == ("I", "was", "born", "in", "Spain", ".", "the", "dog", "slept", ".", "so",
                     "I", "can", "speak")
    sentence, _ = bi.born_in_sentence(9, np.random.default_rng(2))
    assert prepare_words(bi.as_text(sentence), vocab) == tuple(sentence)  # as_text's inverse
    assert bi.born_country(SENTENCE) == bi.COUNTRIES.index("Spain")
    assert bi.born_country("he flew to Spain . I can speak") is None


def test_an_unknown_word_is_named_with_its_line_and_column():
    vocab = WordVocab(bi.VOCAB)
    with pytest.raises(UnknownWords) as info:
        prepare_words("I was born in Spain.\nThe dog slept in Canada .", vocab, "mine.txt")
    message = str(info.value)
    assert message.startswith("mine.txt: line 2, column 1 (word 7): 'The' is not in")
    assert "did you mean 'the'?" in message and "1 other unknown word after it" in message
    with pytest.raises(DataError, match="no words"):
        prepare_words(" \n ", vocab)


def test_a_word_vocabulary_holds_distinct_words_without_spaces():
    for bad in (["a", "a"], ["a b"], [""], ["a."]):
        with pytest.raises(DataError):
            WordVocab(bad)
    assert WordVocab(["_", ".", "I"]).encode(["I", "."]).tolist() == [2, 1]


def test_a_regex_marks_every_word_it_overlaps():
    words = ("I", "was", "born", "in", "France", ".", "I", "can", "speak")
    marked = span_indicator(words, r"born in", " ")
    assert marked.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert span_indicator(words, r"ance \. I", " ").tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert not span_indicator(words, r" ", " ").any()  # the space between words is no word's


# ---- inspect ---------------------------------------------------------------------------------


def test_inspect_runs_over_a_generated_sentence_without_text(runs, tmp_path, capsys):
    folder, *_ = runs
    out = tmp_path / "page"
    status, stdout, err = inspect(capsys, folder / "lstm.npz", "-o", out)
    assert status == 0, err
    run = from_checkpoint(load_checkpoint(folder / "lstm.npz"))
    words, k = bi.born_in_sentence(CFG.shown_gap, np.random.default_rng(0))
    acts = record(run.model, run.vocab, words, classes=run.languages)
    with np.load(out / "activations.npz", allow_pickle=False) as z:
        assert z["words"].tolist() == words  # one entry per word
        assert z["l0/c"].shape == (len(words), CFG.hidden)
        for key in acts.keys():
            np.testing.assert_allclose(z[key], acts[key], rtol=0, atol=1e-12)
        assert z["classes"].tolist() == run.languages
        assert z["top5/classes"][-1].tolist() == [run.languages[i] for i in acts.top_ids[-1]]
    meta = page_meta(out)
    quantity, unit, _ = country_unit(run.model, CFG, 0)
    assert meta["T"] == len(words) and meta["token"] == "word" and meta["predicts"] == "class"
    assert unit != 0 and meta["initial"] == {"layer": 0, "unit": unit, "quantity": quantity}
    assert meta["answer"] == bi.LANGUAGES[k] and meta["outputs"] == run.languages
    assert f"country unit: layer 0, c, unit {unit}" in stdout


def test_the_country_unit_is_the_one_the_report_names(runs):
    folder, *_ = runs
    run = from_checkpoint(load_checkpoint(folder / "lstm.npz"))
    quantity, unit, score = country_unit(run.model, CFG, 0)
    units = country_units(run.model, CFG, 0)
    assert (quantity, unit) == ("c", units["top"][0])
    assert score == pytest.approx(units["scores"][unit], rel=1e-9)
    gru = from_checkpoint(load_checkpoint(folder / "gru.npz"))
    assert country_unit(gru.model, CFG, 0)[0] == "h"  # no cell state: its h


def test_gap_seed_and_country_choose_the_sentence(runs, tmp_path, capsys):
    folder, *_ = runs
    out = tmp_path / "page"
    status, _, err = inspect(capsys, folder / "gru.npz", "-o", out, "--gap", 11, "--seed", 3,
                             "--country", "Japan")
    assert status == 0, err
    words, _ = bi.born_in_sentence(11, np.random.default_rng(3),
                                   country=bi.COUNTRIES.index("Japan"))
    with np.load(out / "activations.npz", allow_pickle=False) as z:
        assert z["words"].tolist() == words and len(words) == 11 + 8
    meta = page_meta(out)
    assert meta["answer"] == "Japanese" and meta["findPattern"] == "Japan.*speak"
    gru = from_checkpoint(load_checkpoint(folder / "gru.npz"))
    _, unit, _ = country_unit(gru.model, CFG, 0)
    assert unit != 0 and meta["initial"] == {"layer": 0, "unit": unit, "quantity": "h"}


def test_a_text_file_gradients_and_find_over_words(runs, tmp_path, capsys):
    folder, *_ = runs
    out = tmp_path / "page"
    status, stdout, err = inspect(capsys, folder / "lstm.npz", "-o", out, "--text",
                                  folder / "sentence.txt", "--find", "born in", "--top", "3",
                                  "--gradients")
    assert status == 0, err
    assert "inside /born in/:" in stdout and "gradient flow over 14 words" in stdout
    meta = page_meta(out)
    assert meta["T"] == 14 and meta["answer"] == "Spanish"
    best = meta["finds"][0]["matches"][0]
    assert meta["initial"] == {k: best[k] for k in ("layer", "unit", "quantity")}
    run = from_checkpoint(load_checkpoint(folder / "lstm.npz"))
    words = prepare_words(SENTENCE, run.vocab)
    with np.load(out / "gradients.npz", allow_pickle=False) as z:
        assert z["words"].tolist() == list(words) and z["connectivity"].shape == (14, 14)
        for name in z["contrib_names"]:
            np.testing.assert_allclose(z[f"contrib/{name}"].sum(axis=0), z[f"full/{name}"],
                                       atol=1e-12)
    # the loss is the cross-entropy of the text's answer (Spanish) after the last word
    logits, _ = run.model(run.vocab.encode(words)[:, None])
    loss = ops.cross_entropy(logits, np.array([bi.COUNTRIES.index("Spain")])).item()
    assert f"(loss {loss:.4f})" in stdout


def test_a_character_level_model_reads_characters(runs, tmp_path, capsys):
    folder, *_ = runs
    out = tmp_path / "page"
    status, _, err = inspect(capsys, folder / "char.npz", "-o", out, "--find-column")
    assert status == 0, err
    words, _ = bi.born_in_sentence(CFG.shown_gap, np.random.default_rng(0))
    with np.load(out / "activations.npz", allow_pickle=False) as z:
        assert "".join(map(chr, z["text"])) == bi.as_text(words)
        assert z["top5/classes"].shape == (len(bi.as_text(words)), 5)
    assert page_meta(out)["token"] == "character"


@pytest.mark.parametrize("args, status, words", [
    (["--text", "unknown.txt"], 2, "line 1, column 15 (word 5): 'Canada' is not in"),
    (["--gap", "0"], 2, "a gap is from 1"),
    (["--country", "Canada"], 2, "--country 'Canada'"),
    (["--text", "sentence.txt", "--seed", "1"], 2, "drop it with --text"),
    (["--find-depth"], 2, "--find-depth reads characters"),
    (["--unit", "8"], 2, "--unit 8 is out of range"),
    (["--text", "nocountry.txt", "--gradients"], 1, "--gradients needs the answer"),
])
def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys, args, status,
                                                  words):
    folder, *_ = runs
    (tmp_path / "unknown.txt").write_text("I was born in Canada . I can speak\n")
    (tmp_path / "nocountry.txt").write_text("the dog slept . I can speak\n")
    shutil.copy(folder / "sentence.txt", tmp_path / "sentence.txt")
    args = [str(tmp_path / a) if a.endswith(".txt") else a for a in args]
    got, stdout, err = inspect(capsys, folder / "lstm.npz", "-o", tmp_path / "out", *args)
    assert got == status and stdout == "" and len(err.splitlines()) == 1, err
    assert words in err and not (tmp_path / "out").exists()


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_word_page_in_a_real_browser(runs, tmp_path, capsys):
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    folder, *_ = runs
    status, _, err = inspect(capsys, folder / "lstm.npz", "-o", tmp_path)
    assert status == 0, err
    words, k = bi.born_in_sentence(CFG.shown_gap, np.random.default_rng(0))
    last = len(words) - 1
    with np.load(tmp_path / "activations.npz", allow_pickle=False) as z:
        best, p = z["top5/classes"][last, 0], z["top5/p"][last, 0]
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom",
                          (tmp_path / "index.html").as_uri() + f"#c={last}"],
                         capture_output=True, text=True, timeout=120).stdout
    spans = re.findall(r'<span (?:class="[^"]*" )?data-i="(\d+)"[^>]*>([^<]*)</span>', dom)
    assert [w for _, w in spans] == words  # one token per word, in order
    tip = re.search(r'id="tip"(.*?)</div>\s*<h2', dom, re.S)[1]
    assert f"word {last}: 'speak'" in tip and "the model's answer if asked here" in tip
    assert f"the text's answer: '{bi.LANGUAGES[k]}'" in tip
    shown = 100 * float(np.float16(p))  # the page holds float16 copies
    assert f"'{best}'</td><td class=\"v\">{shown:.1f}%" in tip
    assert "go to <span id=\"gotoname\">word</span>" in dom
