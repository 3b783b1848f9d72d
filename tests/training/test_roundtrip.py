"""A tiny real intent model: fine-tuned from the committed base, exported, reloaded, compared."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

DATA = {
    "lost_card": ["i lost my card", "my card is missing", "i cannot find my card", "card lost yesterday",
                  "someone stole my card", "where is my card gone", "my card was stolen", "lost card help"],
    "balance": ["what is my balance", "how much money do i have", "show my account balance",
                "check balance please", "balance on my account", "how much is left in my account",
                "tell me my balance", "current balance"],
    "refund": ["i want a refund", "give me my money back", "refund my purchase", "how do i get a refund",
               "the refund has not arrived", "request a refund", "can i be refunded", "refund status"],
}
OOS = ["what is the weather like", "tell me a joke", "who won the football game", "play some music",
       "what is the capital of france", "how tall is mount everest", "recommend a movie", "translate hello"]


def export_trained(trained, directory):
    from training.export import export_trained as export  # TensorFlow loads only when a test needs it

    return export(trained, directory)


@pytest.fixture(scope="module")
def trained():
    from training.fit import fine_tune

    texts = [t for rows in DATA.values() for t in rows] + OOS
    intents = [i for i, rows in DATA.items() for _ in rows] + [None] * len(OOS)
    return fine_tune(texts, intents, Path(settings.BASE_MODEL_DIR), epochs=6, head_epochs=2, seed=0)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    directory = tmp_path_factory.mktemp("bundle") / "intent"
    info = export_trained(trained, directory)
    assert info["tflite_bytes"] > 0.5 * info["n_params"]
    return directory


@pytest.fixture(scope="module")
def served(exported):
    from serving.intents import IntentModel

    return IntentModel.load(exported)


def test_served_probabilities_match_keras(trained, served):
    texts = ["i lost my card", "balance please", "refund now", "hello there", "lost my crad"]
    keras_probs = trained.predict_proba(texts)
    lite_probs = np.stack([served.probabilities(t) for t in texts])
    assert np.abs(keras_probs - lite_probs).max() < 0.05
    assert (keras_probs.argmax(1) == lite_probs.argmax(1)).all()


def test_served_model_predicts_its_intents(served):
    assert served.predict("i lost my card").intent == "lost_card"
    assert served.predict("what is my balance").ranking[0][0] == "balance"


def test_a_typo_or_unseen_word_still_finds_the_intent(served):
    assert served.predict("i lsot my crad").ranking[0][0] == "lost_card"  # swapped letters: repaired
    assert served.predict("i lsot my card").ranking[0][0] == "lost_card"
    assert served.predict("i lost my carrd").ranking[0][0] == "lost_card"  # a doubled letter: sub-words
    assert served.predict("refundable purchase").ranking[0][0] == "refund"


def test_a_text_without_one_known_word_is_never_given_an_intent(served):
    from serving.intents import decide

    # "refundz" is no word of the vocabulary, yet its sub-words alone make the model sure of "refund".
    alone = decide(served.probabilities("refundz"), served.labels, served.oos_index, served.thresholds)
    assert alone.intent == "refund", "the example no longer shows the rule: pick another unknown word"
    assert served.predict("refundz").intent is None
    assert [p.intent for p in served.predict_many(["refundz", "i want a refund"])] == [None, "refund"]


def test_out_of_scope_training_messages_are_not_answered(served):
    said_none = [served.predict(t).intent is None for t in OOS]
    assert np.mean(said_none) >= 0.5


def test_prediction_is_well_formed(served):
    p = served.predict("refund")
    assert 0.0 <= p.confidence <= 1.0 and 0.0 <= p.threshold <= 1.0
    assert len(p.ranking) == 3 and all(name != "oos" for name, _ in p.ranking)


def test_embeddings_are_unit_vectors_of_dim(served):
    vectors = served.embed(["i lost my card", "refund"])
    assert vectors.shape == (2, served.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_export_refuses_a_weightless_conversion(trained, tmp_path, monkeypatch):
    from training import export

    monkeypatch.setattr(export, "_convert", lambda *args, **kwargs: b"\0" * 26_000)
    with pytest.raises(export.ExportError):
        export_trained(trained, tmp_path / "intent")


def test_a_batch_is_answered_as_each_text_alone(trained, tmp_path):
    """The batch graph gives what the one-text graphs give, memo or not; longer texts run one by one."""
    from serving.intents import BATCH_SIZE, IntentModel

    directory = tmp_path / "intent"
    export_trained(trained, directory)
    texts = [t for rows in DATA.values() for t in rows] + OOS
    texts += [" ".join(["my card"] * 12 + [str(i)]) for i in range(BATCH_SIZE)]  # longer than the short graph
    alone = IntentModel.load(directory)
    one_by_one = np.stack([alone.probabilities(t) for t in texts])
    together = IntentModel.load(directory).probabilities_many(texts)
    assert np.abs(one_by_one - together).max() < 1e-4
    assert [p.intent for p in IntentModel.load(directory).predict_many(texts)] == [
        alone.predict(t).intent for t in texts]


def test_a_short_text_alone_runs_in_the_short_graph_and_gets_the_full_length_answer(exported):
    from serving.intents import SINGLE_STEPS, IntentModel

    # 10, 14 and 24 words besides the short ones: each one-text graph's length and past the last.
    texts = [t for rows in DATA.values() for t in rows] + OOS + [" ".join(["my card"] * n) for n in (5, 7, 12)]
    full = IntentModel.load(exported, full_length_only=True)
    shortened = IntentModel.load(exported)
    assert [graph.steps for graph in shortened._singles] == [*SINGLE_STEPS, full.preprocessor.max_len]
    assert np.abs(np.stack([full.probabilities(t) for t in texts])
                  - np.stack([shortened.probabilities(t) for t in texts])).max() < 1e-4


def test_a_model_exported_before_the_short_graph_still_serves(exported, tmp_path):
    import shutil

    from serving.intents import SINGLE_STEPS, SINGLE_TFLITE_PATTERN, IntentModel

    older = tmp_path / "intent"
    shutil.copytree(exported, older)
    for steps in SINGLE_STEPS:
        (older / SINGLE_TFLITE_PATTERN.format(steps=steps)).unlink()
    texts = [t for rows in DATA.values() for t in rows] + OOS
    before, now = IntentModel.load(older), IntentModel.load(exported)
    assert [graph.steps for graph in before._singles] == [before.preprocessor.max_len]
    assert [before.predict(t).intent for t in texts] == [now.predict(t).intent for t in texts]


def test_only_short_texts_are_batched_so_no_long_batch_graph_is_written_or_loaded(exported, tmp_path):
    import shutil

    from serving.intents import BATCH_SIZE, BATCH_TFLITE_PATTERN, SHORT_STEPS, IntentModel

    assert sorted(p.name for p in exported.glob("model_batch_*.tflite")) == [BATCH_TFLITE_PATTERN.format(steps=SHORT_STEPS)]
    older = tmp_path / "intent"  # a bundle exported when a 16 x 32 graph was written too
    shutil.copytree(exported, older)
    shutil.copy(older / BATCH_TFLITE_PATTERN.format(steps=SHORT_STEPS), older / BATCH_TFLITE_PATTERN.format(steps=32))
    assert [(graph.batch, graph.steps) for graph in IntentModel.load(older)._batch_graphs] == [(BATCH_SIZE, SHORT_STEPS)]


def test_the_graphs_packed_in_one_file_answer_bit_for_bit_as_the_separate_files(exported, tmp_path):
    """One interpreter over GRAPHS_FILE (weights once) gives exactly the outputs of one interpreter per file."""
    import shutil

    from serving.intents import BATCH_SIZE, GRAPHS_FILE, IntentModel, pack_graphs

    packed = tmp_path / "intent"
    shutil.copytree(exported, packed)
    assert pack_graphs(packed)
    assert (packed / GRAPHS_FILE).stat().st_size < 0.5 * sum(p.stat().st_size for p in exported.glob("model*.tflite"))
    texts = [t for rows in DATA.values() for t in rows] + OOS
    texts += [" ".join(["my card"] * 12 + [str(i)]) for i in range(BATCH_SIZE)]  # past the short graphs
    separate, together = IntentModel.load(exported), IntentModel.load(packed)
    assert not (exported / GRAPHS_FILE).exists()
    assert [(g.batch, g.steps) for g in together._singles + together._batch_graphs] == [
        (g.batch, g.steps) for g in separate._singles + separate._batch_graphs]
    for batch in (texts, texts[:3], texts[-1:]):  # the batch graph, and texts one by one
        assert np.array_equal(IntentModel.load(exported).probabilities_many(batch),
                              IntentModel.load(packed).probabilities_many(batch))
        assert np.array_equal(IntentModel.load(exported).embed(batch), IntentModel.load(packed).embed(batch))


def test_a_packed_file_without_a_graph_the_bundle_serves_is_not_used(exported, tmp_path):
    import shutil

    from serving.intents import GRAPHS_FILE, IntentModel, pack_graphs

    packed = tmp_path / "intent"
    shutil.copytree(exported, packed)
    pack_graphs(packed)
    (packed / GRAPHS_FILE).write_bytes((exported / "model.tflite").read_bytes())  # one signature, "serve" only
    texts = [t for rows in DATA.values() for t in rows]
    assert np.array_equal(IntentModel.load(packed).probabilities_many(texts),
                          IntentModel.load(exported).probabilities_many(texts))


@pytest.mark.django_db
def test_a_published_bundle_carries_its_graphs_in_one_file(exported, settings, tmp_path):
    import shutil

    from serving import registry
    from serving.intents import GRAPHS_FILE

    settings.ARTIFACTS_DIR = str(tmp_path / "artifacts")
    with registry.draft() as draft:
        shutil.copytree(exported, draft.intent_dir)
        version = registry.publish(draft, {"version": "v-packed"}, activate=False)
    assert (registry.bundles_dir() / version / "intent" / GRAPHS_FILE).exists()
