"""Seeing the "born in" LSTM work: its country units and its forget gate along one sentence.

The country units are the units whose cell state best separates the countries at the question
word ("speak"): the ratio of the variance between the countries' means to the variance within
each country. The forget gate and the cell state are read from the readable cell's labelled
nodes (`f_t`, `c_t`), step by step, so what is drawn is what the cell computes.
"""

from __future__ import annotations

import numpy as np

from autograd_lite.graph import nearest_labelled
from autograd_lite.tensor import no_grad
from rnn import tasks_born_in as bi

ANALYSIS_SENTENCES = 600  # sentences the country units are found on


def trace(model, ids) -> dict:
    """Step the model's readable cell over ids (T, B): {"c": (T, B, H), "f": (T, B, H),
    "logits": (B, C)}; the cell must keep a state c and a forget gate f_t (the LSTM)."""
    cell = model.layer.cells[0]
    if "c" not in cell.STATE:
        raise ValueError(f"trace: the {cell.name} cell keeps no cell state c")
    ids = np.asarray(ids)
    state, fs, cs = None, [], []
    for t in range(ids.shape[0]):
        state = cell(model.embed(ids[t]), state)
        c = state[cell.STATE.index("c")]
        fs.append(np.array(nearest_labelled(c, "f_t").data))  # this step's gate: the nearest f_t
        cs.append(np.array(c.data))
    logits = model.decoder(state[cell.STATE.index("h")])
    return {"c": np.stack(cs), "f": np.stack(fs), "logits": np.array(logits.data)}


def separation(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per column of values (N, H): variance between the label means over variance within."""
    labels = np.asarray(labels)
    mean = values.mean(axis=0)
    between = np.zeros(values.shape[1])
    within = np.zeros(values.shape[1])
    for k in np.unique(labels):
        group = values[labels == k]
        between += len(group) * (group.mean(axis=0) - mean) ** 2
        within += ((group - group.mean(axis=0)) ** 2).sum(axis=0)
    return between / np.maximum(within, 1e-12)


def centroid_accuracy(train, train_labels, test, test_labels) -> float:
    """Accuracy of the nearest class mean (Euclidean) fitted on `train`, tested on `test`."""
    classes = np.unique(train_labels)
    means = np.stack([train[train_labels == k].mean(axis=0) for k in classes])
    dist = ((test[:, None, :] - means[None]) ** 2).sum(axis=-1)
    return float((classes[dist.argmin(axis=1)] == test_labels).mean())


def analysis_batch(cfg, seed: int, size: int = ANALYSIS_SENTENCES):
    """The sentences (at gap cfg.shown_gap) the country units are found on, for `seed`."""
    return bi.born_in(cfg.shown_gap, size, np.random.default_rng([seed, 5]), cfg.level,
                      cfg.countries, cfg.distractors)


def country_unit(model, cfg, seed: int,
                 size: int = ANALYSIS_SENTENCES) -> tuple[str, int, float]:
    """(quantity, unit, separation) of the unit of the last layer that best separates the
    countries at the question word, for any cell: its cell state c where it keeps one (the
    unit `country_units` ranks first), else its h."""
    batch = analysis_batch(cfg, seed, size)
    cell = model.layer.cells[-1]
    quantity = "c" if "c" in cell.STATE else "h"
    with no_grad():
        _, state = model.layer(model.embed(batch.x))
    state = state if isinstance(state, tuple) else (state,)
    scores = separation(np.asarray(state[cell.STATE.index(quantity)].data[-1]), batch.y)
    unit = int(np.argmax(scores))
    return quantity, unit, float(scores[unit])


def country_units(model, cfg, seed: int, top: int = 3,
                  size: int = ANALYSIS_SENTENCES) -> dict:
    """The units whose cell state holds the country at the question word (gap cfg.shown_gap).

    Returns the separation score per unit, the top units, their mean trajectory per country
    over the sentence, the step-by-step score of the best unit, and how well the best unit
    (and the top ones) alone tell the countries apart (nearest class mean, held-out half).
    """
    batch = analysis_batch(cfg, seed, size)
    tr = trace(model, batch.x)
    c, y = tr["c"], batch.y
    scores = separation(c[-1], y)
    order = np.argsort(-scores, kind="stable")
    best = order[:top]
    half = size // 2
    fit = slice(0, half)
    test = slice(half, size)
    return {
        "gap": cfg.shown_gap, "level": cfg.level, "scores": scores, "order": order, "top": best,
        "countries": list(bi.COUNTRIES[:cfg.countries]),
        "trajectories": np.stack([[c[:, y == k, u].mean(axis=1) for k in range(cfg.countries)]
                                  for u in best]),  # (top, countries, T)
        "score_over_time": np.array([separation(c[t][:, best[:1]], y)[0]
                                     for t in range(c.shape[0])]),
        "country_step": int(np.median(batch.country_step)),
        "unit_accuracy": centroid_accuracy(c[-1][fit][:, best[:1]], y[fit],
                                           c[-1][test][:, best[:1]], y[test]),
        "top_accuracy": centroid_accuracy(c[-1][fit][:, best], y[fit],
                                          c[-1][test][:, best], y[test]),
        "all_accuracy": centroid_accuracy(c[-1][fit], y[fit], c[-1][test], y[test]),
        "model_accuracy": float((tr["logits"].argmax(-1) == y).mean()),
    }


def conveyor_belt(model, cfg, seed: int, country: int = 0) -> dict:
    """The forget gate and the cell state along one sentence born in COUNTRIES[country]:
    f and c as (units, T), the tokens, the country and question steps, the prediction."""
    rng = np.random.default_rng([seed, 6])
    words, k = bi.born_in_sentence(cfg.shown_gap, rng, cfg.countries, cfg.distractors,
                                   country=country)
    vocab = bi.vocabulary(cfg.level)
    index = {w: i for i, w in enumerate(vocab)}
    if cfg.level == "word":
        tokens = list(words)
        country_step = len(bi.KEY)
    else:
        tokens = list(bi.as_text(words))
        country_step = len(bi.as_text(words[:len(bi.KEY) + 1])) - 1
    ids = np.array([[index[w] for w in tokens]]).T
    tr = trace(model, ids)
    p = np.exp(tr["logits"][0] - tr["logits"][0].max())
    p /= p.sum()
    return {"f": tr["f"][:, 0].T, "c": tr["c"][:, 0].T, "tokens": tokens,
            "country_step": country_step, "question_step": len(tokens) - 1,
            "country": bi.COUNTRIES[k], "answer": bi.LANGUAGES[k],
            "prediction": bi.LANGUAGES[int(p.argmax())], "probability": float(p.max())}
