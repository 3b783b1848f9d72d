"""Ticket encoders: unit float32 vectors, saved without pickle, hybrid scores mix cosines."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.encoder import (
    HybridEncoder,
    LexicalEncoder,
    embed_documents,
    fit_ticket_encoder,
    l2_normalize,
    load_ticket_encoder,
    save_ticket_encoder,
)

TEXTS = [
    "my card has not arrived yet",
    "where is my new card",
    "card still not delivered after two weeks",
    "how do I reset my password",
    "forgot my password, cannot log in",
    "what is the exchange rate for euros",
    "exchange rate seems wrong",
    "I was charged twice for one purchase",
]


class FakeIntentEncoder:
    dim = 4

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.array([[len(t), t.count("card"), t.count("password"), 1.0] for t in texts], np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_lexical_vectors_are_unit_float32_and_find_paraphrases():
    encoder = LexicalEncoder.fit(TEXTS, dim=6)
    vectors = encoder.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 6)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    query = encoder.embed(["my password does not work"])[0]
    assert int(np.argmax(vectors @ query)) in (3, 4)


def test_a_saved_lexical_encoder_embeds_identically(tmp_path):
    encoder = LexicalEncoder.fit(TEXTS, dim=5)
    encoder.save(tmp_path)
    assert {p.suffix for p in tmp_path.iterdir()} == {".npy", ".json"}
    assert np.array_equal(LexicalEncoder.load(tmp_path).embed(TEXTS), encoder.embed(TEXTS))


def test_a_loaded_projection_is_read_from_its_file_not_copied(tmp_path):
    LexicalEncoder.fit(TEXTS, dim=5).save(tmp_path)
    projection = LexicalEncoder.load(tmp_path)._projection
    assert isinstance(projection, np.memmap) and not projection.flags.writeable


def test_a_loaded_encoder_reads_only_the_projection_rows_its_texts_use(tmp_path):
    encoder = LexicalEncoder.fit(TEXTS, dim=5)
    encoder.save(tmp_path)
    loaded = LexicalEncoder.load(tmp_path)
    assert not loaded._rows.loaded.any()  # nothing read at load
    assert np.array_equal(loaded.embed(TEXTS[:1]), encoder.embed(TEXTS[:1]))
    read = int(loaded._rows.loaded.sum())
    assert 0 < read < len(encoder.columns)
    assert np.array_equal(loaded.embed(TEXTS), encoder.embed(TEXTS))  # the rest read on their first use
    assert np.array_equal(loaded.embed(TEXTS), encoder.embed(TEXTS))


def test_an_encoder_saved_in_format_2_still_loads_and_embeds_alike(tmp_path):
    import json

    encoder = LexicalEncoder.fit(TEXTS, dim=5, unit=False)
    encoder.save(tmp_path)
    # What format 2 wrote: the SVD components, (dim, columns), instead of the projection.
    np.save(tmp_path / "components.npy", encoder.components)
    (tmp_path / "projection.npy").unlink()
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "format": 2}))
    assert np.array_equal(LexicalEncoder.load(tmp_path).embed(ODD_TEXTS), encoder.embed(ODD_TEXTS))


def test_hybrid_inner_product_is_the_weighted_mean_of_cosines():
    base, lexical = FakeIntentEncoder(), LexicalEncoder.fit(TEXTS, dim=5)
    hybrid = HybridEncoder(base, lexical, 0.3)
    a, b = hybrid.embed(TEXTS[:1])[0], hybrid.embed(TEXTS[1:2])[0]
    expected = 0.7 * float(base.embed(TEXTS[:1])[0] @ base.embed(TEXTS[1:2])[0]) + 0.3 * float(
        lexical.embed(TEXTS[:1])[0] @ lexical.embed(TEXTS[1:2])[0]
    )
    assert hybrid.dim == 9
    assert abs(float(a @ b) - expected) < 1e-5
    assert abs(float(np.linalg.norm(a)) - 1) < 1e-5


def test_an_index_directory_remembers_its_encoder(tmp_path):
    base = FakeIntentEncoder()
    for kind in ("base", "lexical", "hybrid"):
        encoder, description = fit_ticket_encoder(TEXTS, base, kind)
        save_ticket_encoder(encoder, description, tmp_path / kind)
        loaded = load_ticket_encoder(tmp_path / kind, base)
        assert np.allclose(loaded.embed(TEXTS), encoder.embed(TEXTS), atol=1e-6)


def test_the_hybrid_lexical_half_scores_an_unrelated_question_near_zero():
    lexical = LexicalEncoder.fit(TEXTS, dim=6, unit=False)
    tickets = lexical.embed(TEXTS)
    assert float((lexical.embed(["quantum physics lectures online"]) @ tickets.T).max()) < 0.2
    assert float((lexical.embed(["I was charged twice"]) @ tickets.T).max()) > 0.4
    assert abs(float(np.linalg.norm(tickets[0])) - 1) < 0.1  # a fitted text stays near unit


def test_a_lexical_encoder_of_another_format_is_refused_not_guessed_at(tmp_path):
    import json

    encoder = LexicalEncoder.fit(TEXTS, dim=5)
    encoder.save(tmp_path)
    assert np.allclose(LexicalEncoder.load(tmp_path).embed(TEXTS), encoder.embed(TEXTS))
    config = json.loads((tmp_path / "config.json").read_text())
    del config["format"], config["unit"], config["unknown_idf"]  # as written before formats were versioned
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format"):
        LexicalEncoder.load(tmp_path)


def test_too_few_texts_fall_back_to_the_base_encoder():
    encoder, description = fit_ticket_encoder([], FakeIntentEncoder(), "lexical")
    assert description["kind"] == "base" and encoder.dim == 4


def test_hybrid_tickets_are_unit_so_a_ticket_in_unseen_words_finds_itself():
    hybrid, _ = fit_ticket_encoder(TEXTS, FakeIntentEncoder(), "hybrid")
    new = ["zebra xylophone quokka"]
    document, query = embed_documents(hybrid, new)[0], hybrid.embed(new)[0]
    assert abs(float(np.linalg.norm(document)) - 1) < 1e-5
    assert float(np.linalg.norm(query)) < 1


ODD_TEXTS = [
    *TEXTS,
    "",
    "a",
    "I  was\tcharged\n\ntwice",
    "Straße, naïve café: 😀 ok?",
    "ABC abc AbC",
    "supercalifragilistic",
]


def test_embedding_hashes_n_grams_exactly_as_scikit_learn_fits_them():
    from retrieval.encoder import _hasher, hashed_counts

    expected = _hasher(LexicalEncoder.N_FEATURES).transform(ODD_TEXTS).tocoo()
    order = np.lexsort((expected.col, expected.row))
    rows, columns, counts = hashed_counts(ODD_TEXTS, LexicalEncoder.N_FEATURES)
    assert rows.tolist() == expected.row[order].tolist()
    assert columns.tolist() == expected.col[order].tolist()
    assert counts.tolist() == expected.data[order].tolist()


def test_hashing_answers_the_same_from_its_word_cache_and_after_the_cache_is_emptied(monkeypatch):
    from retrieval import encoder as module

    first = module.hashed_counts(ODD_TEXTS, LexicalEncoder.N_FEATURES)
    cached = module.hashed_counts(ODD_TEXTS, LexicalEncoder.N_FEATURES)
    monkeypatch.setattr(module, "WORD_CACHE_SIZE", 2)  # fills and empties on every few words
    module._WORD_COLUMNS.clear()
    bounded = module.hashed_counts(ODD_TEXTS, LexicalEncoder.N_FEATURES)
    assert len(module._WORD_COLUMNS) <= 2
    for again in (cached, bounded):
        assert all(a.tolist() == b.tolist() for a, b in zip(first, again, strict=True))


def test_a_text_embeds_alike_alone_and_in_a_batch():
    encoder = LexicalEncoder.fit(TEXTS, dim=5, unit=False)
    batch = encoder.embed(ODD_TEXTS)
    alone = np.vstack([encoder.embed([text]) for text in ODD_TEXTS])
    assert np.allclose(batch, alone, atol=1e-6)


def test_embedding_matches_the_sparse_weighting_the_encoder_was_fit_with():
    from retrieval.encoder import _hasher

    for unit in (True, False):
        encoder = LexicalEncoder.fit(TEXTS, dim=5, unit=unit)
        sparse = np.asarray(encoder._weighted(_hasher(encoder.N_FEATURES).transform(ODD_TEXTS)) @ encoder._projection)
        if unit:
            sparse = sparse / np.maximum(np.linalg.norm(sparse, axis=1, keepdims=True), 1e-12)
        assert np.allclose(encoder.embed(ODD_TEXTS), sparse, atol=1e-5)


def test_embedding_imports_neither_scikit_learn_nor_scipy(tmp_path):
    import subprocess
    import sys

    LexicalEncoder.fit(TEXTS, dim=5).save(tmp_path)
    code = (
        "import sys; from pathlib import Path; from retrieval.encoder import LexicalEncoder; "
        f"LexicalEncoder.load(Path({str(tmp_path)!r})).embed(['where is my card']); "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_shop_sized_corpus_keeps_a_finer_lexical_half_than_a_larger_one(monkeypatch):
    from retrieval import encoder as module

    monkeypatch.setattr(module, "SHOP_HYBRID_LEXICAL_DIM", 6)
    monkeypatch.setattr(module, "SMALL_HYBRID_LEXICAL_DIM", 3)
    monkeypatch.setattr(module, "SHOP_HYBRID_TEXTS", len(ODD_TEXTS))
    shop, shop_description = fit_ticket_encoder(TEXTS, FakeIntentEncoder(), "hybrid")
    larger, _ = fit_ticket_encoder(ODD_TEXTS, FakeIntentEncoder(), "hybrid")
    assert isinstance(shop, HybridEncoder) and isinstance(larger, HybridEncoder)
    assert shop.lexical.dim == 6 and larger.lexical.dim == 3
    assert shop_description["dim"] == 4 + 6


def test_the_lexical_half_nears_the_exact_tf_idf_cosine_as_its_dimension_covers_the_corpus():
    from retrieval.encoder import _hasher

    query = ["the exchange rate I was charged"]
    errors = []
    for dim in (2, 4, 7):  # 7: the most that 8 fitted texts allow
        encoder = LexicalEncoder.fit(TEXTS, dim=dim, unit=False)
        hashed = _hasher(encoder.N_FEATURES)
        exact = (encoder._weighted(hashed.transform(query)) @ encoder._weighted(hashed.transform(TEXTS)).T).toarray()
        estimate = encoder.embed(query) @ l2_normalize(encoder.embed(TEXTS)).T
        errors.append(float(np.abs(estimate - exact).max()))
    assert errors[0] > errors[1] > errors[2]
