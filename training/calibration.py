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


def leave_class_out_confidence(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's top probability once its own intent is taken out of the softmax (renormalized).

    Removing a class from a softmax and renormalizing is exactly the softmax over the remaining
    logits, so this is what the model says to a message of an intent it does not have: a pseudo
    out-of-scope message per held-out row, in the same domain and wording as the real ones (which
    is where a small bot's out-of-scope traffic comes from: questions about its own business that
    no intent covers). Slightly optimistic for OOS detection: the model has learned to push the
    removed intent's look-alikes away from the others, which a model without it would not have.
    """
    rest = probs.copy()
    own = rest[np.arange(len(y)), y].copy()
    rest[np.arange(len(y)), y] = 0.0
    result: np.ndarray = rest.max(1) / np.maximum(1.0 - own, 1e-12)
    return result


def _auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney)."""
    if len(positive) == 0 or len(negative) == 0:
        return 0.5
    negative = np.sort(negative)
    below = np.searchsorted(negative, positive, side="left")
    equal = np.searchsorted(negative, positive, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(positive) * len(negative)))


# In-scope held-out accuracy the threshold may give up when training has no out-of-scope rows;
# None: no limit. The trade-off (small bots' MCC against BANKING77's closed-world accuracy) is
# measured per value in docs/intents.md, "Open world".
NO_OOS_MAX_IN_SCOPE_LOSS: float | None = None

# The share of a bot's messages taken to be out of scope when its training data has no
# out-of-scope rows and nobody says otherwise: unknown, so in-scope accuracy and out-of-scope recall
# weigh the same. An owner (or a benchmark) that knows its traffic passes `oos_share`: 0 for a
# closed set such as BANKING77's test (nothing to refuse, so nothing is refused), 0.6 for a small
# bot whose users mostly ask what it does not cover.
UNKNOWN_OOS_SHARE = 0.5


def check_oos_share(value: float) -> float:
    """`value` if it is a share (0 to 1); a ValueError naming the problem otherwise."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the expected out-of-scope share must be between 0 and 1, got {value}")
    return value


SEPARATION_MULTIPLIERS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


def separation_temperature(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """For training data without out-of-scope rows: the temperature, among multiples of the fitted
    one (`SEPARATION_MULTIPLIERS`), whose top probability best tells correct held-out answers from
    the same rows' leave-class-out confidences (AUROC; the smallest of equally good ones).

    The likelihood-fitted temperature makes probabilities honest about which intent it is, but the
    threshold then decides on the top probability alone, and a sharp softmax ranks by the margin to
    the runner-up: a message between two look-alike intents scores low, one that fits no intent
    but leans to one scores high. A softer softmax ranks more by how far the top intent stands
    above all of them, which separates out-of-scope messages better (bench/intents_open_world.py:
    mean MCC 0.764 -> 0.789 over six proxies, with the same threshold rule). Confidences of such
    a model are lower than calibrated ones; data with out-of-scope rows keeps the fitted temperature.
    """
    if len(y) == 0:
        return temperature
    best_t, best_auc = temperature, -1.0
    for multiplier in SEPARATION_MULTIPLIERS:
        probs = softmax(logits / (temperature * multiplier))
        correct = probs.argmax(1) == y
        auc = _auroc(probs.max(1)[correct], leave_class_out_confidence(probs, y))
        if auc > best_auc + 1e-9:
            best_t, best_auc = temperature * multiplier, auc
    return float(best_t)


def _pseudo_oos_threshold(
    conf: np.ndarray, correct: np.ndarray, pseudo_conf: np.ndarray, max_in_scope_loss: float | None,
    oos_share: float = UNKNOWN_OOS_SHARE,
) -> float:
    """The threshold maximizing held-out in-scope accuracy + recall of the pseudo out-of-scope rows,
    weighted by the share of out-of-scope messages expected (`oos_share`: the expected accuracy on
    such traffic; at 0.5, their plain sum), among thresholds costing at most `max_in_scope_loss`
    in-scope accuracy, when given.

    Candidates are the observed confidences (a fine-tuned model with a small temperature puts most
    of them above 0.99, where a fixed grid cannot split them). Of equally good ones the lowest
    wins, rounded down to 4 decimals so that the row it was taken from is still accepted (measured
    on bench/intents_open_world.py: the midpoint to the value below it did worse, because
    confidences crowd just under 1).
    """
    candidates = np.unique(np.concatenate([[0.0], conf, pseudo_conf]))
    accuracy = (correct[None, :] & (conf[None, :] >= candidates[:, None])).mean(1)
    recall = (pseudo_conf[None, :] < candidates[:, None]).mean(1)
    score = 2 * (1 - oos_share) * accuracy + 2 * oos_share * recall
    if max_in_scope_loss is not None:
        score[accuracy < correct.mean() - max_in_scope_loss - 1e-9] = -1.0
    best = float(candidates[int(np.flatnonzero(score >= score.max() - 1e-9)[0])])
    return math.floor(best * 1e4) / 1e4


def choose_threshold(
    probs: np.ndarray, y: np.ndarray, oos_index: int | None, *, labels: list[str] | None = None,
    max_in_scope_loss: float = 0.01, no_oos_max_in_scope_loss: float | None = NO_OOS_MAX_IN_SCOPE_LOSS,
    min_per_intent: int = 40, oos_share: float | None = None,
) -> dict[str, Any]:
    """Pick the confidence thresholds from held-out predictions (rows fine-tuning never saw).

    1. With out-of-scope examples in the held-out split: the threshold that maximizes
       in-scope accuracy + OOS recall (balanced, since OOS rows are usually few),
       among thresholds that cost at most `max_in_scope_loss` in-scope accuracy. With few OOS
       rows each weighs far more than an in-scope one, so the rule spends the whole budget: the
       budget is the product decision (1 point: one answerable question in a hundred refused).
    2. Without: each held-out row also stands for an out-of-scope message, with its
       leave-class-out confidence (`leave_class_out_confidence`: the model's answer if its intent
       did not exist), and the threshold maximizes the same sum, in-scope accuracy + recall of
       these pseudo out-of-scope rows, with no budget (`no_oos_max_in_scope_loss`, default
       `NO_OOS_MAX_IN_SCOPE_LOSS`, can set one). A bot trained without out-of-scope examples
       is usually a small one whose intents cover part of what people ask (real support bots' test
       sets are 40-70 % out of scope), and it has nothing else to learn rejection from. The price
       is paid where everything is in scope: on BANKING77 (77 intents, no out-of-scope test rows)
       it refuses correct answers that the former rule (reject at most 0.2 % of correct held-out
       answers) kept; docs/intents.md has both. Where the share of out-of-scope messages is known,
       `oos_share` weighs the two (`_pseudo_oos_threshold`); 0 refuses nothing. Data with
       out-of-scope rows ignores it: the rows say more than an assumption.
    3. Per intent (when `labels` is given): the same rule on the held-out rows answered with that
       intent, for intents with at least `min_per_intent` such rows and at least 5 (pseudo) OOS
       rows among them; the others keep the global threshold.
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
    share = UNKNOWN_OOS_SHARE if oos_share is None else check_oos_share(oos_share)
    # Pseudo out-of-scope rows (without real ones): what each row would get without its intent.
    answerable = np.maximum(in_scope, 0.0)  # an OOS class with too few rows to hold out answers nothing
    pseudo_conf = leave_class_out_confidence(answerable, y) if not with_oos else np.zeros(len(y))
    pseudo_top = np.where(np.arange(probs.shape[1])[None, :] == y[:, None], -1.0, answerable).argmax(1)

    def rule(rows: np.ndarray, pseudo_rows: np.ndarray) -> float:
        if with_oos:
            return _balanced_threshold(conf[rows], correct[rows], ~oos_wins[rows], is_oos[rows], max_in_scope_loss)
        return _pseudo_oos_threshold(conf[rows], correct[rows], pseudo_conf[pseudo_rows], no_oos_max_in_scope_loss, share)

    everything = np.ones(len(y), bool)
    default = rule(everything, everything)
    per_intent: dict[str, float] = {}
    for c, name in enumerate(labels or []):
        rows = (top == c) & ~oos_wins  # the answers this intent's threshold decides on
        pseudo_rows = pseudo_top == c  # the pseudo out-of-scope rows it would answer
        oos_rows = is_oos[rows].sum() if with_oos else pseudo_rows.sum()
        if c == oos_index or rows.sum() < min_per_intent or min(oos_rows, (~is_oos[rows]).sum()) < 5:
            continue
        per_intent[name] = round(rule(rows, pseudo_rows), 4)
    if with_oos:
        method = "balanced in-scope accuracy + OOS recall on held-out"
    else:
        method = "balanced in-scope accuracy + leave-class-out pseudo-OOS recall on held-out (no OOS examples)"
        if oos_share is not None:
            method += f", weighted for an expected out-of-scope share of {share:g}"
    if per_intent:
        method += f"; per intent where >= {min_per_intent} held-out rows"
    return {"default": round(default, 4), "per_intent": per_intent, "method": method}
