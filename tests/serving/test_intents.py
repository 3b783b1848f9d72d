"""The serving side of the intent model: preprocessing, the decision rule, loading (no TensorFlow)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from serving.intents import (
    OOV,
    TOKENIZER_FILE,
    IncompatibleModel,
    IntentModel,
    Preprocessor,
    decide,
    normalize,
)

THRESHOLDS = {"default": 0.5, "per_intent": {"refund": 0.8}}


def test_normalize_lowercases_strips_accents_and_masks_digits():
    assert normalize("Café RÉSUMÉ costs £25, isn't it?") == ["cafe", "resume", "costs", "00", "isnt", "it"]


def test_unseen_word_is_oov_but_keeps_its_subwords():
    pre = Preprocessor(["card"])
    words, subwords, _ = pre.encode("card zzyzx")
    assert words[0, :2].tolist() == [2, OOV]
    assert (subwords[0, 1] > 0).sum() == len("<zzyzx>") - 2


def test_a_typo_shares_most_subword_features_with_the_word():
    pre = Preprocessor([])
    a = set(pre.encode("transfer")[1][0, 0]) - {0}
    b = set(pre.encode("transfe")[1][0, 0]) - {0}
    assert len(a & b) >= 5


def test_long_messages_are_truncated_to_the_static_shape():
    pre = Preprocessor(["word"], max_len=8, max_bag=16)
    words, subwords, bag = pre.encode("word " * 50)
    assert words.shape == (1, 8) and subwords.shape == (1, 8, pre.max_sub) and bag.shape == (1, 16)
    assert (words > 0).all()


def test_batch_encoding_matches_single_encoding():
    pre = Preprocessor(["my", "card"])
    batch = pre.encode_batch(["my card is lost", "hi"])
    single = pre.encode("hi")
    for name, array in zip(("words", "subwords", "bag"), single):
        assert np.array_equal(batch[name][1], array[0])


def test_preprocessor_round_trips_through_json():
    pre = Preprocessor(["a", "b"], max_len=10)
    again = Preprocessor.from_json(json.loads(json.dumps(pre.to_json())))
    assert all(np.array_equal(x, y) for x, y in zip(pre.encode("a b c"), again.encode("a b c")))


def test_decide_answers_when_confident():
    p = decide(np.array([0.7, 0.2, 0.1]), ["balance", "refund", "oos"], 2, THRESHOLDS)
    assert p.intent == "balance" and p.confidence == pytest.approx(0.7) and p.threshold == 0.5
    assert [name for name, _ in p.ranking] == ["balance", "refund"]


def test_decide_says_out_of_scope_below_the_intent_threshold():
    p = decide(np.array([0.1, 0.75, 0.15]), ["balance", "refund", "oos"], 2, THRESHOLDS)
    assert p.intent is None and p.threshold == 0.8


def test_decide_says_out_of_scope_when_the_oos_class_wins():
    p = decide(np.array([0.3, 0.1, 0.6]), ["balance", "refund", "oos"], 2, {"default": 0.0, "per_intent": {}})
    assert p.intent is None and p.ranking[0][0] == "balance"


def test_load_refuses_another_format_version(tmp_path):
    (tmp_path / TOKENIZER_FILE).write_text(json.dumps({"format_version": 999}))
    with pytest.raises(IncompatibleModel):
        IntentModel.load(tmp_path)


def test_load_refuses_a_missing_model(tmp_path):
    with pytest.raises(IncompatibleModel):
        IntentModel.load(tmp_path)


def test_the_serving_module_does_not_import_tensorflow():
    code = "import sys, serving.intents, ai_edge_litert.interpreter; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_swapped_letters_are_repaired_to_a_known_word_when_spelling_is_on():
    pre = Preprocessor(["card", "lost", "my"], spelling=True)
    assert pre.tokens("I lsot my crad!") == ["i", "lost", "my", "card"]
    assert pre.tokens("my cdra xyzw ab") == ["my", "cdra", "xyzw", "ab"]  # two swaps, unknown, too short
    assert Preprocessor.from_json(pre.to_json()).tokens("crad") == ["card"]
    assert Preprocessor(["card"]).tokens("crad") == ["crad"]  # off: how the pretrained base was trained
    words, _, _ = pre.encode("lsot crad")
    assert list(words[0][:2]) == [pre.vocab.index("lost") + 2, pre.vocab.index("card") + 2]
