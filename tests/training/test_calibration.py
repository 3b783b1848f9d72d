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


def test_without_oos_examples_the_threshold_rejects_only_the_least_sure_correct_answer():
    from training.calibration import choose_threshold

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4) * 0.3, size=500)
    y = probs.argmax(1)
    y[:50] = (y[:50] + 1) % 4  # some wrong answers, which a threshold cannot make right
    t = choose_threshold(probs, y, None)
    conf, correct = probs.max(1), probs.argmax(1) == y
    assert t["default"] == pytest.approx(np.sort(conf[correct])[0], abs=1e-4)
    assert (conf[correct] < t["default"]).sum() == 0 and t["per_intent"] == {}


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
