"""The FAISS ticket index: exact, IVF and IVF-PQ agree, grow and shrink in place, survive save/load."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import index as index_module
from retrieval.index import TicketIndex


def clustered(n: int, dim: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    vectors = centres[rng.integers(0, clusters, n)] + 0.3 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_exact_and_approximate_agree_on_clustered_vectors(kind):
    vectors = clustered(4000)
    ids = np.arange(1000, 5000)
    exact = TicketIndex.build(ids, vectors, kind="flat")
    approximate = TicketIndex.build(ids, vectors, kind=kind)
    queries = clustered(50, seed=1)
    truth = exact.search_batch(queries, 10)[1]
    found = approximate.search_batch(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
    assert exact.kind == "flat" and approximate.kind == kind
    assert recall >= 0.95


def test_ivfpq_scores_are_exact_inner_products_of_the_stored_vectors():
    vectors = clustered(3000)
    index = TicketIndex.build(range(3000), vectors, kind="ivfpq")
    for ticket_id, score in index.search(vectors[42], 5):
        assert score == pytest.approx(float(vectors[ticket_id] @ vectors[42]), abs=2e-3)


def test_size_decides_between_exact_and_ivfpq(monkeypatch):
    monkeypatch.setattr(index_module, "EXACT_LIMIT", 1000)
    assert TicketIndex.build(range(1000), clustered(1000)).kind == "flat"
    assert TicketIndex.build(range(2000), clustered(2000)).kind == "ivfpq"


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_added_vectors_are_found_without_a_rebuild(kind):
    vectors = clustered(2000)
    index = TicketIndex.build(range(2000), vectors, kind=kind)
    new = clustered(1, seed=7)
    index.add([99999], new)
    assert len(index) == 2001
    assert index.search(new[0], 1)[0][0] == 99999


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_removed_tickets_are_never_returned(kind):
    vectors = clustered(2000)
    index = TicketIndex.build(range(2000), vectors, kind=kind)
    assert index.remove([5, 6, 123456]) == 2
    assert len(index) == 1998
    assert 5 not in {i for i, _ in index.search(vectors[5], 10)}


def test_adding_an_existing_id_replaces_its_vector():
    vectors = clustered(100)
    index = TicketIndex.build(range(100), vectors)
    index.add([3], vectors[50])
    assert len(index) == 100
    top = index.search(vectors[50], 2)
    assert {i for i, _ in top} == {3, 50}


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_save_and_load_give_the_same_answers(tmp_path, kind):
    vectors = clustered(2000)
    index = TicketIndex.build(range(10, 2010), vectors, kind=kind)
    index.meta["synced_until"] = "2026-01-01T00:00:00+00:00"
    index.save(tmp_path)
    loaded = TicketIndex.load(tmp_path)
    assert (loaded.kind, loaded.dim, len(loaded), loaded.nprobe) == (kind, 32, 2000, index.nprobe)
    assert loaded.meta == index.meta
    assert loaded.search(vectors[7], 5) == index.search(vectors[7], 5)
    assert not list(tmp_path.glob("*.pkl"))


def test_an_index_of_an_unknown_format_is_refused(tmp_path):
    import json

    TicketIndex.build(range(100), clustered(100)).save(tmp_path)
    info = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**info, "format": index_module.FORMAT + 1}))
    with pytest.raises(ValueError, match="index format"):
        TicketIndex.load(tmp_path)


def test_an_empty_index_finds_nothing():
    assert TicketIndex.empty(16).search(np.ones(16, np.float32), 5) == []


def test_vectors_of_the_wrong_dimension_are_refused():
    index = TicketIndex.build(range(10), clustered(10))
    with pytest.raises(ValueError):
        index.add([11], np.ones((1, 8), np.float32))


def test_searches_from_other_threads_run_safely_during_additions():
    import threading

    vectors = clustered(3000)
    index = TicketIndex.build(range(1000), vectors[:1000])
    errors: list[BaseException] = []

    def search_repeatedly() -> None:
        try:
            for i in range(300):
                assert index.search(vectors[i % 1000], 5)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=search_repeatedly) for _ in range(3)]
    for thread in threads:
        thread.start()
    for start in range(1000, 3000, 100):
        index.add(range(start, start + 100), vectors[start : start + 100])
    for thread in threads:
        thread.join()
    assert not errors and len(index) == 3000


def test_serving_runs_numpy_products_on_one_thread_as_faiss_searches():
    from threadpoolctl import threadpool_info

    index_module.use_one_thread()
    numpy_blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas" and "scipy_openblas" in pool["filepath"]]
    assert numpy_blas and all(pool["num_threads"] == 1 for pool in numpy_blas), threadpool_info()
