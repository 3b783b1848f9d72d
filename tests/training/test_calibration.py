"""The held-out split and the threshold rules: pure NumPy, no model trained, so not marked slow."""

import numpy as np
import pytest


def test_the_holdout_split_is_stratified_and_chosen_by_content():
    from training.dataset import holdout_split

    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango".split()
    texts = [f"{intent} message {word}" for intent in ("a", "b") for word in words] + ["lonely"]
    intents = ["a"] * 20 + ["b"] * 20 + [None]
    train, held = holdout_split(texts, intents, 0.1)
    assert sorted(train + held) == list(range(len(texts)))
    assert [intents[i] for i in held].count("a") == 2 and [intents[i] for i in held].count("b") == 2
    assert 40 in train  # a class with one row keeps it for training
    order = list(reversed(range(len(texts))))
    _, held_again = holdout_split([texts[i] for i in order], [intents[i] for i in order], 0.1)
    assert {texts[order[i]] for i in held_again} == {texts[i] for i in held}


def test_pretraining_leaves_out_the_rows_fine_tuning_holds_out(tmp_path):
    import json

    from knowledge.csvfiles import read_labelled_csv
    from training.dataset import holdout_split, pretraining_corpus, write_labelled_csv

    (tmp_path / "banking77").mkdir()
    (tmp_path / "clinc150").mkdir()
    b77 = [(f"card problem {k}", "card") for k in range(30)] + [(f"top up issue {k}", "top_up") for k in range(30)]
    write_labelled_csv(tmp_path / "banking77" / "train.csv", *zip(*b77), columns=("text", "category"))
    clinc = {"train": [[f"weather today {k}", "weather"] for k in range(20)], "oos_train": [[f"odd {k}", "oos"] for k in range(10)],
             "val": [], "oos_val": []}
    (tmp_path / "clinc150" / "clinc150_train_val.json").write_text(json.dumps(clinc))
    (tmp_path / "clinc150" / "wiki_sentences.txt").write_text("the sky is blue\n")
    texts, _ = pretraining_corpus(tmp_path)
    b_texts, b_intents = read_labelled_csv(tmp_path / "banking77" / "train.csv", intent_column="category", oos_label=None)
    _, held = holdout_split(b_texts, list(b_intents))
    rows = clinc["train"] + clinc["oos_train"]
    _, c_held = holdout_split([r[0] for r in rows], [None if r[1] == "oos" else r[1] for r in rows])
    left_out = {b_texts[i] for i in held} | {rows[i][0] for i in c_held}
    assert len(left_out) == 6 + 3 and not left_out & set(texts)
    assert len(texts) == 60 + 30 + 1 - len(left_out)


def test_leaving_a_class_out_is_the_softmax_over_the_other_intents():
    from training.calibration import leave_class_out_confidence, softmax

    logits = np.array([[3.0, 1.0, 0.5, -1.0], [0.2, 2.5, 2.4, 0.0]])
    y = np.array([0, 2])
    expected = [softmax(logits[0, [1, 2, 3]]).max(), softmax(logits[1, [0, 1, 3]]).max()]
    assert leave_class_out_confidence(softmax(logits), y) == pytest.approx(expected)


def _sure_and_hesitant_answers():
    """90 sure answers (0.9; without their intent the model would spread the rest evenly, 0.5) and
    10 hesitant ones (0.5 with the runner-up at 0.45: without their intent, 0.9 for the runner-up)."""
    rows = [([0.9, 0.05, 0.05], 0)] * 45 + [([0.05, 0.9, 0.05], 1)] * 45 + [([0.5, 0.45, 0.05], 0)] * 10
    return np.array([r for r, _ in rows]), np.array([c for _, c in rows])


def test_without_oos_examples_the_threshold_refuses_what_the_model_would_also_say_to_an_intent_it_lacks():
    from training.calibration import choose_threshold

    probs, y = _sure_and_hesitant_answers()
    t = choose_threshold(probs, y, None, labels=["a", "b"], min_per_intent=1000)
    # Accepting the hesitant answers would also accept every message that looks like them but
    # belongs to no intent (0.9 > 0.5): 10 correct answers are refused to reject those.
    assert 0.5 < t["default"] <= 0.9 and t["per_intent"] == {}
    assert "leave-class-out" in t["method"]


def test_without_oos_examples_a_budget_caps_the_correct_answers_refused():
    from training.calibration import choose_threshold

    probs, y = _sure_and_hesitant_answers()
    t = choose_threshold(probs, y, None, no_oos_max_in_scope_loss=0.05)
    assert t["default"] <= 0.5  # refusing the 10 hesitant answers would cost 10 points: keep them


def test_without_oos_examples_a_closed_set_refuses_nothing():
    from training.calibration import choose_threshold

    probs, y = _sure_and_hesitant_answers()
    t = choose_threshold(probs, y, None, labels=["a", "b"], min_per_intent=40, oos_share=0.0)
    assert t["default"] == 0.0 and set(t["per_intent"].values()) <= {0.0}
    assert "expected out-of-scope share of 0" in t["method"]


def test_without_oos_examples_an_unknown_share_weighs_answering_and_refusing_the_same():
    from training.calibration import UNKNOWN_OOS_SHARE, choose_threshold

    probs, y = _sure_and_hesitant_answers()
    unknown = choose_threshold(probs, y, None, labels=["a", "b"], min_per_intent=1000)
    stated = choose_threshold(probs, y, None, labels=["a", "b"], min_per_intent=1000, oos_share=UNKNOWN_OOS_SHARE)
    assert unknown["default"] == stated["default"]


def test_without_oos_examples_more_expected_out_of_scope_traffic_never_lowers_the_threshold():
    from training.calibration import choose_threshold

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 6)) * 2.0
    y = (logits + rng.normal(size=logits.shape)).argmax(1)  # a noisy model: right about half the time
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    thresholds = [choose_threshold(probs, y, None, oos_share=share)["default"] for share in (0.0, 0.2, 0.5, 0.8, 1.0)]
    assert thresholds == sorted(thresholds) and thresholds[0] == 0.0 and thresholds[-1] > thresholds[0]


def test_an_expected_share_outside_zero_to_one_is_refused():
    from training.calibration import choose_threshold

    probs, y = _sure_and_hesitant_answers()
    with pytest.raises(ValueError, match="between 0 and 1"):
        choose_threshold(probs, y, None, oos_share=1.5)


def test_with_oos_examples_the_rows_decide_not_the_expected_share():
    from training.calibration import choose_threshold

    probs, y, labels = _two_intents_and_oos()
    assert choose_threshold(probs, y, 2, oos_share=0.0)["default"] == choose_threshold(probs, y, 2)["default"]


def test_without_oos_examples_sure_answers_are_all_kept():
    from training.calibration import choose_threshold

    probs, y = _sure_and_hesitant_answers()
    t = choose_threshold(probs[:90], y[:90], None)
    assert 0.5 < t["default"] <= 0.9  # between the pseudo out-of-scope rows (0.5) and every answer


def test_without_oos_examples_a_threshold_can_split_confidences_crowded_under_one():
    from training.calibration import choose_threshold

    # A small temperature: right answers at 0.9995 and above, the leave-class-out ones at 0.999.
    probs = np.array([[0.9999, 0.00005, 0.00005]] * 30 + [[0.9995, 0.0004991, 0.0000009]] * 30)
    y = np.zeros(60, np.int64)
    t = choose_threshold(probs, y, None)
    assert 0.999 < t["default"] <= 0.9995


def test_an_intent_with_enough_held_out_rows_gets_its_own_threshold_without_oos_examples_too():
    from serving.intents import decide
    from training.calibration import choose_threshold

    # "a" is answered surely (0.9) and its pseudo OOS (rows of "b" without "b") reach 0.8;
    # "b" is answered at 0.6 and its pseudo OOS (rows of "a" without "a") reach 0.5.
    probs = np.array([[0.9, 0.05, 0.05]] * 50 + [[0.32, 0.6, 0.08]] * 50)
    y = np.array([0] * 50 + [1] * 50)
    t = choose_threshold(probs, y, None, labels=["a", "b", "c"], min_per_intent=40)
    assert 0.8 < t["per_intent"]["a"] <= 0.9 and 0.5 < t["per_intent"]["b"] <= 0.6
    assert decide(np.array([0.85, 0.1, 0.05]), ["a", "b", "c"], None, t).intent is None
    assert decide(np.array([0.3, 0.65, 0.05]), ["a", "b", "c"], None, t).intent == "b"


def _two_intents_and_oos():
    """Answers of "a" are sure (0.9) and its OOS look-alikes fairly sure (0.72); "b" is unsure (0.6)
    and its OOS look-alikes more so (0.36): no single threshold suits both."""
    rows = [([0.9, 0.05, 0.05], 0)] * 40 + [([0.72, 0.1, 0.18], 2)] * 10 + [([0.2, 0.6, 0.2], 1)] * 40 + [([0.35, 0.36, 0.29], 2)] * 10
    return np.array([r for r, _ in rows]), np.array([c for _, c in rows]), ["a", "b", "oos"]


def test_with_oos_examples_the_global_threshold_balances_accuracy_and_oos_recall():
    from training.calibration import choose_threshold

    probs, y, labels = _two_intents_and_oos()
    t = choose_threshold(probs, y, 2, labels=labels, min_per_intent=1000)
    assert 0.36 < t["default"] <= 0.6 and t["per_intent"] == {}


def test_an_intent_with_enough_held_out_rows_gets_its_own_threshold():
    from serving.intents import decide
    from training.calibration import choose_threshold

    probs, y, labels = _two_intents_and_oos()
    t = choose_threshold(probs, y, 2, labels=labels, min_per_intent=40)
    assert 0.72 < t["per_intent"]["a"] <= 0.9 and 0.36 < t["per_intent"]["b"] <= 0.6
    assert decide(probs[45], labels, 2, t).intent is None  # an OOS look-alike of "a"
    assert decide(probs[0], labels, 2, t).intent == "a" and decide(probs[60], labels, 2, t).intent == "b"


def test_auroc_counts_the_pairs_a_positive_wins_with_ties_as_half():
    from training.calibration import _auroc

    assert _auroc(np.array([0.9, 0.5]), np.array([0.5, 0.1])) == pytest.approx(3.5 / 4)


def test_without_oos_examples_the_temperature_is_the_multiple_of_the_fitted_one_that_separates_best():
    from training.calibration import SEPARATION_MULTIPLIERS, _auroc, leave_class_out_confidence, separation_temperature, softmax

    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, 200)
    logits = rng.normal(0, 2, (200, 8))
    logits[np.arange(200), y] += 4

    def separation(t: float) -> float:
        probs = softmax(logits / t)
        correct = probs.argmax(1) == y
        return _auroc(probs.max(1)[correct], leave_class_out_confidence(probs, y))

    t = separation_temperature(logits, y, 0.8)
    assert round(t / 0.8, 6) in SEPARATION_MULTIPLIERS
    assert separation(t) == max(separation(0.8 * m) for m in SEPARATION_MULTIPLIERS)
    assert separation_temperature(logits[:0], y[:0], 0.8) == 0.8
