"""Training with a compiled step: chosen where it pays, the same run as eager, kept on resume."""

import numpy as np
import pytest

from autograd_lite import Tensor
from rnn.data import one_hot
from rnn.errors import UserError
from rnn.training import (
    CharModel,
    Problem,
    RegressionModel,
    TrainConfig,
    Trainer,
    sequence_cross_entropy,
)


def _trainer(compile=None, **config):
    config = TrainConfig(**{"task": "adding", "hidden": 6, "seq_len": 5, "batch": 4,
                            "steps": 4, "val_every": 100, "val_size": 8, **config})
    return Trainer.from_config(config, progress=False, compile=compile)


@pytest.mark.parametrize("config, chosen", [
    ({"fused": False}, True),                         # the readable graph: compiled
    ({"cell": "mgu"}, True),                          # no kernel: the readable graph
    ({}, False),                                      # the fused kernel is fast already
    ({"task": "reber", "fused": False}, False),       # batches change length
])
def test_the_step_is_compiled_where_it_pays(config, chosen):
    trainer = _trainer(**config)
    assert trainer.compile is chosen and trainer.config.compile is chosen
    assert ("compiled" in trainer._describe()) is chosen


@pytest.mark.parametrize("config", [
    {"task": "adding", "fused": False},
    {"task": "copy", "cell": "gru", "fused": False, "seq_len": 3},
    {"task": "reber", "cell": "mgu", "embedding": 3},
])
def test_a_compiled_run_follows_the_eager_run(config):
    runs = []
    for compile in (False, True):
        trainer = _trainer(compile=compile, **config)
        trainer.fit()
        runs.append((trainer.history["loss"], trainer.model.state_dict()))
    (eager_loss, eager_params), (loss, params) = runs
    np.testing.assert_allclose(loss, eager_loss, rtol=1e-10)
    for k, v in eager_params.items():
        np.testing.assert_allclose(params[k], v, rtol=1e-9, atol=1e-12)


def test_a_text_run_carries_its_state_through_the_compiled_step(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abcabcabd " * 40, encoding="utf-8")
    histories = []
    for compile in (False, True):
        config = TrainConfig(task="text", text=str(text), cell="mgu", hidden=5, seq_len=4,
                             batch=2, steps=6, val_every=100, compile=compile)
        trainer = Trainer.from_config(config, progress=False)
        trainer.fit()
        histories.append(trainer.history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-10)


def test_the_choice_is_saved_and_a_resumed_run_keeps_it(tmp_path):
    path = tmp_path / "run.npz"
    trainer = _trainer(fused=False)
    trainer.checkpoint_path = str(path)
    trainer.fit(2)
    trainer.save()
    resumed = Trainer.resume(path, progress=False)
    assert resumed.compile and resumed.config.compile is True


class _Peeking(Problem):
    """A problem whose loss branches on a value: it cannot be compiled."""

    def batch(self, step, rng):
        return (rng.standard_normal((3, 2, 2)),)

    def loss(self, model, batch, state=None):
        pred, _ = model(batch[0])
        scale = 2.0 if pred.sum().item() > 0 else 1.0
        return (pred * scale).sum(), None

    def evaluate(self, model):
        return {}


def test_a_step_that_cannot_be_compiled_runs_eagerly_unless_compile_was_asked_for():
    notes = []
    model = RegressionModel(2, 3, fused=False, rng=0)
    trainer = Trainer(model, _Peeking(), log=notes.append, progress=False)
    assert trainer.compile
    trainer.train_step()  # chosen, not asked for: it runs eagerly and says why
    assert not trainer.compile and "runs eagerly" in notes[0] and "item()" in notes[0]
    forced = Trainer(model, _Peeking(), progress=False, compile=True)
    with pytest.raises(UserError, match=r"--compile: compile\(_eager_loss\).*item\(\)"):
        forced.train_step()


def test_one_hot_inputs_are_the_same_values_as_before():
    model = CharModel(5, 3, "mgu", rng=0)
    ids = np.array([[0, 4], [2, 2]])
    logits, _ = model(ids)
    before, _ = model.layer(Tensor(one_hot(ids, 5)))
    np.testing.assert_array_equal(logits.data, model.decoder(before).data)


def test_masked_cross_entropy_is_the_mean_over_the_masked_steps():
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((3, 2, 4)), rng.integers(0, 4, (3, 2))
    mask = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    expected = -(picked * mask).sum() / 3
    assert sequence_cross_entropy(Tensor(logits), targets, mask).item() == \
        pytest.approx(expected, rel=1e-13)
    nothing = sequence_cross_entropy(Tensor(logits), targets, np.zeros((3, 2)))
    assert nothing.item() == 0.0  # no masked step: divided by one, not by zero
