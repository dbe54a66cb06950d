"""rnn.inspect's activations and unit search, checked against the readable graph unrolled
over the whole text, and the bracket-counting unit a trained LSTM grows."""

import numpy as np
import pytest

from autograd_lite.tensor import Tensor
from rnn import tasks
from rnn.cells import cell_names
from rnn.data import Corpus, Vocab
from rnn.errors import UserError
from rnn.inspect import (
    UnknownCharacters,
    bracket_depth,
    find_depth,
    find_pattern,
    line_position,
    prepare_text,
    rank_units,
    record,
    span_indicator,
)
from rnn.inspect import activations as activations_module
from rnn.inspect.activations import quantity_key
from rnn.layers import make_layer
from rnn.training import CharModel, TextProblem, Trainer

TEXT = 'say "hi (there)" to\nme (and "you")\n'


def small_model(cell="lstm", layers=2, hidden=4, embedding=0, seed=0):
    vocab = Vocab.from_text(TEXT)
    return CharModel(len(vocab), hidden, cell, num_layers=layers, embedding_dim=embedding,
                     rng=seed), vocab


def unrolled_reference(model, vocab, text):
    """Every labelled node of the readable layer unrolled over the whole text, per layer and
    label, in step order: {layer: {label: (T, H)}}."""
    layer = model.layer
    twin = make_layer(layer.cell_class.name, layer.input_size, layer.hidden_size,
                      num_layers=layer.num_layers, fused=False)
    twin.load_state_dict(layer.state_dict())
    x = activations_module.input_vectors(model, vocab.encode(text))
    outputs, _ = twin(Tensor(x[:, None, :]))
    nodes, seen, stack = [], set(), [outputs]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node.parents)
    nodes.sort(key=lambda n: n.seq)
    T, H = len(text), layer.hidden_size
    ref = {}
    for node in nodes:
        if node.parents and node.label and node.shape == (1, H):
            ref.setdefault(node.label, []).append(node.data[0])
    # layer l's nodes were made after all of layer l - 1's: split each label's list in order
    return {k: {quantity_key(label): np.array(v[k * T:(k + 1) * T]) for label, v in ref.items()
                if len(v) == T * layer.num_layers} for k in range(layer.num_layers)}


@pytest.mark.parametrize("cell", cell_names())
def test_activations_equal_the_readable_graph_unrolled_over_the_text(cell):
    model, vocab = small_model(cell)
    acts = record(model, vocab, TEXT)
    ref = unrolled_reference(model, vocab, TEXT)
    for k in range(2):
        assert set(acts.layers[k]) == set(ref[k]) and "h" in ref[k]
        for q, values in acts.layers[k].items():
            np.testing.assert_allclose(values, ref[k][q], rtol=0, atol=1e-6, err_msg=f"l{k}/{q}")


def test_lstm_records_every_gate_and_state():
    model, vocab = small_model("lstm", layers=1)
    acts = record(model, vocab, TEXT)
    assert acts.keys() == ["l0/f", "l0/i", "l0/c~", "l0/c", "l0/o", "l0/tanh(c)", "l0/h"]
    f, i, g, c, o = (acts[f"l0/{q}"] for q in ("f", "i", "c~", "c", "o"))
    c_prev = np.vstack([np.zeros((1, 4)), c[:-1]])
    np.testing.assert_allclose(c, f * c_prev + i * g, atol=1e-12)  # the equations hold
    np.testing.assert_allclose(acts["l0/h"], o * np.tanh(c), atol=1e-12)


def test_hidden_states_match_the_fused_kernel_and_blocks_do_not_matter(monkeypatch):
    model, vocab = small_model("lstm", embedding=3)
    outputs, _ = model.layer(Tensor(activations_module.input_vectors(
        model, vocab.encode(TEXT))[:, None, :]))  # the fused kernel
    acts = record(model, vocab, TEXT)
    np.testing.assert_allclose(acts["l1/h"], outputs.data[:, 0], atol=1e-12)
    monkeypatch.setattr(activations_module, "BLOCK_STEPS", 5)
    again = record(model, vocab, TEXT)
    for key in acts.keys():
        np.testing.assert_allclose(again[key], acts[key], atol=1e-14)


def test_top5_are_the_models_most_likely_next_characters():
    model, vocab = small_model("gru")
    acts = record(model, vocab, TEXT)
    logits, _ = model(vocab.encode(TEXT)[:, None])
    z = logits.data[:, 0]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert acts.top_ids.shape == (len(TEXT), 5)
    np.testing.assert_array_equal(acts.top_ids, np.argsort(-p, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(acts.top_p, np.sort(p, axis=1)[:, ::-1][:, :5], atol=1e-12)
    assert np.all(np.diff(acts.top_p, axis=1) <= 0)


def test_export_holds_the_text_every_array_and_the_top5(tmp_path):
    model, vocab = small_model("lstm", layers=1)
    text = TEXT + "é"
    acts = record(model, vocab, text, replace="")
    assert acts.replaced == 1 and acts.text.endswith(" ")
    path = tmp_path / "a.npz"
    acts.save(path)
    with np.load(path, allow_pickle=False) as z:
        assert "".join(map(chr, z["text"])) == acts.text and z["text"].dtype == np.uint32
        for key in acts.keys():
            np.testing.assert_array_equal(z[key], acts[key])
            assert z[key].shape == (len(text), 4)
        assert z["top5/ids"].shape == z["top5/p"].shape == (len(text), 5)
        assert "".join(map(chr, z["top5/chars"][:, 0])) == vocab.decode(z["top5/ids"][:, 0])


def test_unknown_characters_are_counted_and_replaced_only_when_asked():
    vocab = Vocab.from_text("ab ")
    with pytest.raises(UnknownCharacters, match=r"3 of 6 characters \(2 distinct\)") as info:
        prepare_text("abxyxa", vocab)
    assert info.value.count == 3
    assert prepare_text("abxyxa", vocab, "") == ("ab   a", 3)
    assert prepare_text("abxyxa", vocab, "b") == ("abbbba", 3)
    with pytest.raises(UserError, match="replacement"):
        prepare_text("abx", vocab, "z")


def test_targets_mark_spans_depth_and_line_position():
    text = 'a "bc" (d(e)f)\ng'
    np.testing.assert_array_equal(span_indicator(text, r'"[^"]*"')[:7], [0, 0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(bracket_depth("(a(b))c)(", "()"), [1, 1, 2, 2, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(line_position("ab\ncd"), [1, 2, 0, 1, 2])
    with pytest.raises(UserError, match="compile"):
        span_indicator(text, "(")
    with pytest.raises(UserError, match="pairs"):
        bracket_depth(text, "(")


def test_rank_units_finds_a_planted_unit():
    model, vocab = small_model("lstm", layers=1, hidden=6)
    acts = record(model, vocab, TEXT)
    target = span_indicator(TEXT, r'"[^"]*"')
    acts.layers[0]["c"][:, 3] = -2.0 * target + 0.01 * np.sin(np.arange(len(TEXT)))
    result = find_pattern(acts, r'"[^"]*"', top=3)
    assert (result.best.layer, result.best.quantity, result.best.unit) == (0, "c", 3)
    assert result.best.r < -0.99 and len(result.matches) == 3
    assert "l0/c[3]" in result.table() and "<table>" in result._repr_html_()
    with pytest.raises(UserError, match="same on every character"):
        rank_units(acts, np.ones(len(TEXT)), "nothing")


def test_a_trained_lstm_has_a_unit_that_counts_bracket_depth():
    text, _ = tasks.bracket_nesting(20000, np.random.default_rng(0))
    corpus = Corpus.from_text(text)
    model = CharModel(len(corpus.vocab), 8, "lstm", rng=0)
    Trainer(model, TextProblem(corpus, 32, 16), lr=0.02, progress=False,
            val_every=10**9).fit(600)
    test_text, depth = tasks.bracket_nesting(3000, np.random.default_rng(1))
    np.testing.assert_array_equal(bracket_depth(test_text, "()"), depth)
    result = find_depth(record(model, corpus.vocab, test_text), "()")
    assert abs(result.best.r) > 0.9, result.table()


def test_bracket_nesting_text_is_balanced_per_line():
    text, depth = tasks.bracket_nesting(5000, np.random.default_rng(3), max_depth=3)
    assert set(text) <= set("()ab\n") and depth.max() == 3 and depth.min() == 0
    assert all(depth[t - 1] == 0 for t, c in enumerate(text) if c == "\n" and t > 0)
