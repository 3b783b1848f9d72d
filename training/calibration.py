"""Calibration of a fine-tuned model on its held-out split: softmax temperature and reply thresholds.

Pure NumPy (no TensorFlow), so its tests run fast.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimizes held-out negative log-likelihood (grid, then refine)."""

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    if len(y) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 21)
    return float(min(fine, key=nll))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(-1, keepdims=True)
    return result


def _balanced_threshold(
    conf: np.ndarray, correct: np.ndarray, accept0: np.ndarray, is_oos: np.ndarray, max_in_scope_loss: float
) -> float:
    """The threshold maximizing in-scope accuracy + OOS recall, costing at most `max_in_scope_loss`."""
    base_acc = (correct & accept0)[~is_oos].mean()
    best_t, best_score = 0.0, -1.0
    for t in np.linspace(0.0, 0.95, 96):
        accept = (conf >= t) & accept0
        acc = (correct & accept)[~is_oos].mean()
        rec = (~accept)[is_oos].mean()
        if acc >= base_acc - max_in_scope_loss and acc + rec > best_score + 1e-9:
            best_t, best_score = float(t), acc + rec
    return best_t


def _conformal_threshold(correct_conf: np.ndarray, reject: float) -> float:
    """The k-th lowest confidence of correct answers, k = max(1, floor(reject * (n + 1))).

    For a new correct answer exchangeable with the held-out ones, P(confidence < k-th lowest)
    = k / (n + 1): the threshold rejects at most max(reject, 1 / (n + 1)) of correct answers in
    expectation, whatever the model. 0 when there are no correct answers to learn from.
    """
    if len(correct_conf) == 0:
        return 0.0
    k = max(1, int(math.floor(reject * (len(correct_conf) + 1))))
    # Rounded down, so that the k-th lowest answer itself is still accepted.
    return math.floor(float(np.sort(correct_conf)[min(k, len(correct_conf)) - 1]) * 1e4) / 1e4


def choose_threshold(
    probs: np.ndarray, y: np.ndarray, oos_index: int | None, *, labels: list[str] | None = None,
    max_in_scope_loss: float = 0.01, no_oos_reject: float = 0.002, min_per_intent: int = 40,
) -> dict[str, Any]:
    """Pick the confidence thresholds from held-out predictions (rows fine-tuning never saw).

    1. With out-of-scope examples in the held-out split: the threshold that maximizes
       in-scope accuracy + OOS recall (balanced, since OOS rows are usually few),
       among thresholds that cost at most `max_in_scope_loss` in-scope accuracy. With few OOS
       rows each weighs far more than an in-scope one, so the rule spends the whole budget: the
       budget is the product decision (1 point: one answerable question in a hundred refused).
    2. Without: nothing tells a strange message from a hard one, and every rejection of a
       correct answer is a loss, so reject very little: the conformal threshold that rejects at
       most `no_oos_reject` (or 1/(n+1)) of correct answers.
    3. Per intent (when `labels` is given): the same rule on the held-out rows answered with that
       intent, for intents with at least `min_per_intent` such rows (and, with OOS rows, at least 5
       OOS rows among them); the others keep the global threshold.
    """
    in_scope = probs.copy()
    if oos_index is not None:
        in_scope[:, oos_index] = -1.0
    top = in_scope.argmax(1)
    conf = in_scope.max(1)
    oos_wins = (probs[:, oos_index] > conf) if oos_index is not None else np.zeros(len(y), bool)
    is_oos = (y == oos_index) if oos_index is not None else np.zeros(len(y), bool)
    correct = top == y
    with_oos = bool(is_oos.sum() and (~is_oos).sum())

    def rule(rows: np.ndarray) -> float:
        if with_oos:
            return _balanced_threshold(conf[rows], correct[rows], ~oos_wins[rows], is_oos[rows], max_in_scope_loss)
        return _conformal_threshold(conf[rows & correct & ~is_oos], no_oos_reject)

    default = rule(np.ones(len(y), bool))
    per_intent: dict[str, float] = {}
    for c, name in enumerate(labels or []):
        rows = (top == c) & ~oos_wins  # the answers this intent's threshold decides on
        if c == oos_index or rows.sum() < min_per_intent or (with_oos and min(is_oos[rows].sum(), (~is_oos[rows]).sum()) < 5):
            continue
        per_intent[name] = round(rule(rows), 4)
    if with_oos:
        method = "balanced in-scope accuracy + OOS recall on held-out"
    else:
        method = (f"conformal: rejects at most {no_oos_reject:.1%} (or 1/(n+1)) of correct held-out "
                  "answers (no OOS examples)")
    if per_intent:
        method += f"; per intent where >= {min_per_intent} held-out rows"
    return {"default": round(default, 4), "per_intent": per_intent, "method": method}
