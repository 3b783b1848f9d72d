"""Measurements behind docs/retrieval.md: retrieval quality against BM25, and index cost by size.

`evaluate` answers "does the encoder find same-intent tickets better than BM25, on the same
data, in the same run"; `bench_index` answers "what does an index of N product-shaped
vectors cost to build, hold and query". Both run in memory and in temporary directories;
neither touches the ticket table or any bundle.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.csvfiles import read_rows
from retrieval.encoder import DEFAULT_KIND, Encoder, embed_documents, fit_ticket_encoder
from retrieval.index import TicketIndex, gpu_count, use_one_thread, use_threads

EncoderFactory = Callable[[list[str], list[str]], Encoder]


@contextlib.contextmanager
def native_logs_captured() -> Iterator[None]:
    """Hold back what native libraries write to stderr (TensorFlow, TFLite); replay it on error.

    TensorFlow prints start-up lines from C++ before TF_CPP_MIN_LOG_LEVEL applies, so the
    environment variable alone does not keep a --json command quiet.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    intents: list[str]


def read_labelled_csv(path: Path, text_column: str | None, intent_column: str | None) -> Labelled:
    """Rows of a CSV as (text, intent); the text column defaults to question, then text."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        fields = next(csv.reader(handle), [])
    text_col = text_column or next((c for c in ("question", "text") if c in fields), "question")
    intent_col = intent_column or next((c for c in ("intent", "category") if c in fields), "intent")
    rows = [(r[text_col], r[intent_col]) for r in read_rows(path, [text_col, intent_col]) if r[text_col]]
    return Labelled([t for t, _ in rows], [i for _, i in rows])


def _percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(seconds) * 1000, q)), 3)


def _ranking_metrics(ranked: list[list[str]], wanted: list[str]) -> dict[str, float]:
    p1 = mrr = r5 = 0.0
    for intents, intent in zip(ranked, wanted, strict=True):
        hits = [i for i, found in enumerate(intents) if found == intent]
        if hits:
            mrr += 1 / (hits[0] + 1)
            p1 += hits[0] == 0
            r5 += hits[0] < 5
    n = max(len(wanted), 1)
    return {"p_at_1": round(p1 / n, 4), "mrr": round(mrr / n, 4), "recall_at_5": round(r5 / n, 4)}


_TOKEN = re.compile(r"\w+")


def bm25_metrics(tickets: Labelled, queries: Labelled, depth: int = 100) -> dict[str, float]:
    """BM25 (Okapi, rank-bm25 defaults) over lowercased word tokens; MRR counted to `depth`."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([_TOKEN.findall(t.lower()) or [""] for t in tickets.texts])
    ranked = []
    for query in queries.texts:
        scores = bm25.get_scores(_TOKEN.findall(query.lower()))
        top = np.argsort(-scores)[:depth]
        ranked.append([tickets.intents[i] for i in top])
    return _ranking_metrics(ranked, queries.intents)


def encoder_metrics(
    encoder: Encoder, tickets: Labelled, queries: Labelled, depth: int = 100
) -> dict[str, Any]:
    """Index the tickets through the product path (build, save, load), then query one at a time.

    Latency is per query, encoder included, on one thread; MRR is counted to `depth`.
    """
    texts = tickets.texts
    vectors = np.vstack([embed_documents(encoder, texts[i : i + 512]) for i in range(0, len(texts), 512)])
    with tempfile.TemporaryDirectory() as workspace:
        TicketIndex.build(range(len(vectors)), vectors).save(Path(workspace))
        index = TicketIndex.load(Path(workspace))
    use_one_thread()
    ranked, seconds = [], []
    for query in queries.texts:
        started = time.perf_counter()
        hits = index.search(encoder.embed([query]), depth)
        seconds.append(time.perf_counter() - started)
        ranked.append([tickets.intents[i] for i, _ in hits])
    return {
        **_ranking_metrics(ranked, queries.intents),
        "latency_ms_p50": _percentile_ms(seconds, 50),
        "latency_ms_p99": _percentile_ms(seconds, 99),
        "index_type": index.kind,
        "dim": index.dim,
    }


def product_encoder(kind: str | None = None, base: Encoder | None = None) -> EncoderFactory:
    """How the product fits its ticket encoder, given the tickets (texts, intents) only."""

    def factory(texts: list[str], intents: list[str]) -> Encoder:
        return fit_ticket_encoder(texts, base, kind or DEFAULT_KIND)[0]

    return factory


def evaluate(
    tickets: Labelled, queries: Labelled, candidates: dict[str, EncoderFactory], chosen: str
) -> dict[str, Any]:
    """The chosen encoder's metrics as top-level keys, BM25's beside them, every candidate's below.

    Encoders are fit on the tickets only, never on the queries.
    """
    use_threads(os.cpu_count() or 1)
    results: dict[str, Any] = {}
    for name, factory in candidates.items():
        started = time.perf_counter()
        encoder = factory(tickets.texts, tickets.intents)
        fit_seconds = time.perf_counter() - started
        results[name] = {**encoder_metrics(encoder, tickets, queries), "fit_seconds": round(fit_seconds, 1)}
    bm25 = bm25_metrics(tickets, queries)
    return {
        "encoder": chosen,
        **{k: results[chosen][k] for k in ("p_at_1", "mrr", "recall_at_5", "latency_ms_p50", "latency_ms_p99")},
        **{f"bm25_{k}": v for k, v in bm25.items()},
        "tickets": len(tickets.texts),
        "queries": len(queries.texts),
        "candidates": results,
    }


# bench_index ---------------------------------------------------------------------------------


def corpus_texts(data_dir: Path) -> list[str]:
    """Every public text at `data_dir`: BANKING77, CLINC150 (with out-of-scope) and Wikipedia lines."""
    texts: list[str] = []
    for name in ("train.csv", "test.csv"):
        path = data_dir / "banking77" / name
        if path.exists():
            texts += [row["text"] for row in read_rows(path, ["text"])]
    clinc = data_dir / "clinc150" / "clinc150_train_val.json"
    if clinc.exists():
        for rows in json.loads(clinc.read_text()).values():
            texts += [text for text, _ in rows]
    wiki = data_dir / "clinc150" / "wiki_sentences.txt"
    if wiki.exists():
        texts += [line.strip() for line in wiki.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def expand(vectors: np.ndarray, size: int, noise: float, seed: int = 0) -> np.ndarray:
    """`size` unit vectors: the real ones, then copies each moved by Gaussian noise of norm ≈ `noise`."""
    rng = np.random.default_rng(seed)
    out = np.empty((size, vectors.shape[1]), np.float32)
    step = 100_000
    for start in range(0, size, step):
        rows = np.arange(start, min(start + step, size))
        block = vectors[rows % len(vectors)].copy()
        moved = rows >= len(vectors)
        block[moved] += rng.normal(0, noise / np.sqrt(vectors.shape[1]), (moved.sum(), vectors.shape[1]))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[rows] = block
    return out


@dataclass
class Workload:
    """Real encoded texts to expand into an index, and held-out queries with their encode times."""

    real: np.ndarray
    queries: np.ndarray
    encode_seconds: list[float]


def encoded_workload(data_dir: Path, queries: int, factory: EncoderFactory) -> Workload:
    """Encode the public texts with the product's encoder (fit on them), holding out `queries`.

    The held-out texts are encoded one at a time on one thread, as a live query would be.
    """
    texts = corpus_texts(data_dir)
    if len(texts) <= queries:
        raise ValueError(f"need more than {queries} texts at {data_dir}, found {len(texts)}")
    order = np.random.default_rng(1).permutation(len(texts))
    held_out = [texts[i] for i in order[:queries]]
    indexed = [texts[i] for i in order[queries:]]
    use_threads(os.cpu_count() or 1)
    encoder = factory(indexed, [])
    real = np.vstack([embed_documents(encoder, indexed[i : i + 1024]) for i in range(0, len(indexed), 1024)])
    encode_seconds, query_vectors = [], []
    use_one_thread()
    for text in held_out:
        t0 = time.perf_counter()
        query_vectors.append(encoder.embed([text])[0])
        encode_seconds.append(time.perf_counter() - t0)
    return Workload(real, np.vstack(query_vectors).astype(np.float32), encode_seconds)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Row numbers of each query's k nearest vectors by exact search (all cores)."""
    use_threads(os.cpu_count() or 1)
    exact = TicketIndex.build(np.arange(len(vectors)), vectors, kind="flat")
    return exact.search_batch(queries, k)[1]


def index_memory_mb(index: TicketIndex) -> float:
    """What the index holds, as the size of its saved files (FAISS writes its arrays as they are)."""
    with tempfile.TemporaryDirectory() as workspace:
        index.save(Path(workspace))
        return round(sum(p.stat().st_size for p in Path(workspace).iterdir()) / 2**20, 1)


def measure_search(index: TicketIndex, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per-query latency on one thread through TicketIndex.search, and recall@10 against `truth`."""
    use_one_thread()
    for vector in queries[:20]:  # warm-up: page in the lists and the re-rank store
        index.search(vector, 10)
    seconds, found = [], []
    for vector in queries:
        t0 = time.perf_counter()
        hits = index.search(vector, 10)
        seconds.append(time.perf_counter() - t0)
        found.append({i for i, _ in hits})
    recall = np.mean([len(f & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)])
    return {
        "latency_ms_p50": _percentile_ms(seconds, 50),
        "latency_ms_p99": _percentile_ms(seconds, 99),
        "recall_at_10": round(float(recall), 4),
    }


def bench_index(
    size: int,
    data_dir: Path,
    *,
    queries: int = 1000,
    noise: float = 0.3,
    kind: str | None = None,
    nprobes: list[int] | None = None,
    encoder_factory: EncoderFactory | None = None,
) -> dict[str, Any]:
    """Cost of an index of `size` vectors shaped like the product's.

    Steps: encode the public texts with the product's encoder (fit on them), hold out
    `queries` texts, expand the rest to `size` by perturbing their embeddings, build the
    index as the product would (all cores), measure its saved size, compute exact top-10 for
    the held-out queries, then search them one at a time on one thread (index latency; the
    encoder's own latency is reported apart), optionally sweeping nprobe.
    """
    workload = encoded_workload(data_dir, queries, encoder_factory or product_encoder())
    vectors = expand(workload.real, size, noise)
    use_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    index = TicketIndex.build(np.arange(size), vectors, kind=kind)
    build_seconds = time.perf_counter() - started
    memory_mb = index_memory_mb(index)
    truth = exact_neighbours(vectors, workload.queries)
    del vectors

    result: dict[str, Any] = {"size": size, "dim": index.dim, "index_type": index.kind}
    default_nprobe = index.nprobe
    sweep = []
    for nprobe in nprobes or []:
        index.set_nprobe(nprobe)
        sweep.append({"nprobe": nprobe, **measure_search(index, workload.queries, truth)})
    if default_nprobe is not None:
        index.set_nprobe(default_nprobe)
    result.update(
        {
            "build_seconds": round(build_seconds, 1),
            "memory_mb": memory_mb,
            **measure_search(index, workload.queries, truth),
            "nprobe": default_nprobe,
            "rerank": index.rerank if index.kind == "ivfpq" else None,
            "encode_ms_p50": _percentile_ms(workload.encode_seconds, 50),
            "gpu": gpu_count() > 0,
            "threads_build": os.cpu_count(),
            "threads_search": 1,
            "real_texts": len(workload.real),
            "noise": noise,
        }
    )
    if sweep:
        result["sweep"] = sweep
    return result
