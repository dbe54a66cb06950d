"""Tests for rnn.data: reading text files, the vocabulary, splits and char-rnn batches."""

import numpy as np
import pytest

from rnn.data import Corpus, DataError, StreamBatches, Vocab, one_hot, read_text, split_ids
from rnn.errors import UserError


def test_read_text_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("héllo ☃\n", encoding="utf-8")
    assert read_text(path) == "héllo ☃\n"


def test_read_text_strips_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfabc")
    assert read_text(path) == "abc"


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    (b"", "empty"),
    (b"abc\x00def", "binary"),
    (b"caf\xe9 au lait", "not valid UTF-8"),
])
def test_read_text_errors_name_the_path(tmp_path, content, words):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_text(path)
    assert str(path) in str(info.value) and words in str(info.value)
    assert isinstance(info.value, UserError)


def test_read_text_directory(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_text(tmp_path)


def test_vocab_sorted_and_round_trip():
    vocab = Vocab.from_text("hello world")
    assert vocab.chars == sorted(set("hello world"))
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64
    assert vocab.decode(ids) == "hello"
    assert Vocab.from_json(vocab.to_json()) == vocab


def test_vocab_unknown_characters_raise():
    vocab = Vocab.from_text("abc")
    with pytest.raises(DataError, match=r"--prime has characters not in the vocabulary: 'x', 'z'"):
        vocab.encode("axbz", what="--prime")


def test_vocab_rejects_unsorted_or_duplicate():
    with pytest.raises(DataError):
        Vocab(["b", "a"])
    with pytest.raises(DataError):
        Vocab(["a", "a"])


def test_split_ids_keeps_order():
    train, val = split_ids(np.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_corpus_from_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abcabcabc" * 10)
    corpus = Corpus.from_file(path, val_fraction=0.2)
    assert len(corpus.vocab) == 3
    assert len(corpus.train) + len(corpus.val) == 90 and len(corpus.val) == 18


def test_stream_batches_are_contiguous_streams():
    ids = np.arange(101)
    batches = StreamBatches(ids, batch_size=2, seq_len=5)
    assert len(batches) == 10  # 50 ids per stream: 10 batches of 5 steps
    x0, y0 = batches.batch(0)
    x1, _ = batches.batch(1)
    assert x0.shape == (5, 2)
    assert x0[:, 0].tolist() == [0, 1, 2, 3, 4] and x0[:, 1].tolist() == [50, 51, 52, 53, 54]
    assert x1[:, 0].tolist() == [5, 6, 7, 8, 9]  # stream 0 continues where batch 0 ended
    np.testing.assert_array_equal(y0, x0 + 1)  # targets are the next characters
    assert batches.starts_epoch(0) and batches.starts_epoch(10) and not batches.starts_epoch(3)
    np.testing.assert_array_equal(batches.batch(10)[0], x0)


def test_stream_batches_too_little_text():
    with pytest.raises(DataError, match="too few"):
        StreamBatches(np.arange(10), batch_size=4, seq_len=5, name="tiny.txt")


def test_one_hot():
    out = one_hot(np.array([[0, 2]]), 3, np.float32)
    assert out.dtype == np.float32
    assert out.tolist() == [[[1, 0, 0], [0, 0, 1]]]
