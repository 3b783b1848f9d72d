"""The ticket index: ticket ids and their L2-normalized vectors, searched by inner product.

The only module that imports FAISS. Three layouts; `build` picks flat or ivfpq by size:

    flat   IndexIDMap(IndexFlatIP): exact, used up to EXACT_LIMIT vectors
    ivfpq  IVF (spherical k-means) over 4-bit PQ codes scanned with SIMD ("fast scan"), whose
           best RERANK candidates are re-scored exactly against the vectors, kept in float16
           in a numpy array by row (`_Rows`): beyond EXACT_LIMIT
    ivf    IndexIVFFlat: approximate over the float vectors; only when asked for (it runs on
           a GPU replica, which PQ fast scan cannot)

All take `add` and `remove` in place, so new tickets never force a rebuild; a flat index that
grows past EXACT_LIMIT by additions stays flat until the next build (the next retrain).
The CPU index is always the master copy; when FAISS sees a GPU, a replica of a flat or ivf
index serves searches (same code, `faiss.index_cpu_to_all_gpus`). Saved with
`faiss.write_index` beside a JSON file of metadata (with FORMAT, refused when unknown) and an
`ids.npy`; never pickle.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# FAISS logs each SIMD library it tries at INFO; --json commands must print nothing else.
logging.getLogger("faiss.loader").setLevel(logging.WARNING)

import faiss  # noqa: E402
import numpy as np  # noqa: E402

# 2 added the ivfpq layout (vectors.npy and rows.npy beside index.faiss). Flat and ivf files are the same as in
# format 1, so those still load; a reader that only knows 1 refuses a format-2 index instead of
# silently searching PQ codes without their re-ranking.
FORMAT = 2
READABLE_FORMATS = (1, 2)

# Measured with `manage.py bench_index` (docs/retrieval.md): exact search over 100k 256-d
# vectors took ~4 ms on one core, so ~20k answer in ~1 ms; beyond that, IVF.
EXACT_LIMIT = 20_000

# IVF settings, chosen by `bench_index` sweeps at 100k and 1M (docs/retrieval.md). With the
# hybrid encoder (320-d) at 1M, nprobe 32 gave recall@10 0.945 in 0.68 ms and 48 gave 0.964 in
# 0.94 ms; 40 sits between, under 1 ms with recall ≥ 0.95. (The 256-d intent encoder had 0.973 at 32.)
IVF_PROBE_FRACTION = 1 / 128  # nprobe = nlist / 128, at least MIN_NPROBE
MIN_NPROBE = 40
TRAIN_POINTS_PER_LIST = 40  # FAISS warns below 39 points per centroid

# ivfpq settings, chosen by the sweep in docs/retrieval.md (bench/index_sweep.py at 1M, real
# encoder vectors). Scanning 4-bit codes costs little per vector, so fewer, larger lists
# (a cheaper coarse step) and more of them probed; recall is then bounded by the re-ranking depth.
PQ_LISTS_PER_SQRT = 2  # nlist ≈ 2·√n (power of two): 2048 at 1M
PQ_NPROBE = 48
PQ_SUBVECTOR_DIM = 1  # one 4-bit code per dimension (wider subvectors needed 2-4x the re-ranking)
RERANK = 64


def gpu_count() -> int:
    return int(faiss.get_num_gpus())


def use_one_thread() -> None:
    """Serving answers one query at a time: more OpenMP threads only add p99 (STYLE.md §19).

    numpy's BLAS too: OpenBLAS spreads a product as small as one batch's (16 texts × 1,000
    n-gram columns × 256, the lexical projection; the example comparison) over every core, which
    on the busy 2-core machine took up to 17x the CPU of one thread (docs/benchmarks.md).
    """
    faiss.omp_set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # as a call, not a block: the limit stays


def use_threads(n: int) -> None:
    faiss.omp_set_num_threads(n)


def ivf_lists(n: int, per_sqrt: float = 4) -> int:
    """nlist ≈ per_sqrt·√n rounded to a power of two, ≥ 39 vectors per list (min 16 lists)."""
    nlist = 2 ** round(np.log2(per_sqrt * np.sqrt(max(n, 1))))
    while nlist > 16 and n / nlist < 39:
        nlist //= 2
    return int(nlist)


def pq_subquantizers(dim: int) -> int:
    """PQ_SUBVECTOR_DIM-wide subvectors where the dimension allows, else 2-, else 1-wide."""
    width = next(w for w in (PQ_SUBVECTOR_DIM, 2, 1) if dim % w == 0)
    return dim // width


def _as_matrix(vectors: Any, dim: int | None = None) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"vectors have dimension {matrix.shape[1]}, the index has {dim}")
    return matrix


def _as_ids(ids: Iterable[int]) -> np.ndarray:
    return np.ascontiguousarray(np.fromiter((int(i) for i in ids), dtype=np.int64))


def _trained_ivf(index: Any, matrix: np.ndarray, nlist: int) -> None:
    """Spherical k-means on a sample of at most TRAIN_POINTS_PER_LIST·nlist vectors."""
    if len(matrix) < nlist:
        raise ValueError(f"an IVF index of {nlist} lists needs at least {nlist} vectors")
    faiss.extract_index_ivf(index).cp.spherical = True  # centroids on the unit sphere, like the vectors
    sample_size = min(len(matrix), TRAIN_POINTS_PER_LIST * nlist)
    sample = matrix[np.random.default_rng(0).choice(len(matrix), sample_size, replace=False)]
    index.train(sample)


class _Rows:
    """ivfpq's exact side: each row's ticket id and vector (float16); the PQ codes are filed by row.

    Rows are appended, never reused: a removed or replaced ticket leaves a dead row (id -1)
    until the next build. Capacity doubles as tickets arrive.
    """

    def __init__(self, dim: int, vectors: np.ndarray | None = None, tickets: np.ndarray | None = None) -> None:
        self.vectors = np.zeros((0, dim), np.float16) if vectors is None else vectors
        self.tickets = np.zeros(0, np.int64) if tickets is None else tickets
        self.size = len(self.tickets)
        self.row_of = {ticket: row for row, ticket in enumerate(self.tickets.tolist()) if ticket >= 0}

    def append(self, ids: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        end = self.size + len(ids)
        if end > len(self.tickets):
            capacity = max(end, 2 * len(self.tickets))
            vectors = np.zeros((capacity, self.vectors.shape[1]), np.float16)
            vectors[: self.size] = self.vectors[: self.size]
            tickets = np.full(capacity, -1, np.int64)
            tickets[: self.size] = self.tickets[: self.size]
            self.vectors, self.tickets = vectors, tickets
        rows = np.arange(self.size, end, dtype=np.int64)
        self.vectors[rows] = matrix
        self.tickets[rows] = ids
        self.row_of.update(zip(ids.tolist(), rows.tolist(), strict=True))
        self.size = end
        return rows

    def remove(self, ids: list[int]) -> np.ndarray:
        rows = np.array([self.row_of.pop(i) for i in ids], np.int64)
        self.tickets[rows] = -1
        return rows

    def best(self, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k of `rows` with the largest exact inner product with `query`: (scores, ticket ids)."""
        rows = rows[rows >= 0]
        scores = self.vectors[rows].astype(np.float32) @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return scores[top], self.tickets[rows[top]]

    def save(self, directory: Path) -> None:
        np.save(directory / "vectors.npy", self.vectors[: self.size])
        np.save(directory / "rows.npy", self.tickets[: self.size])

    @classmethod
    def load(cls, directory: Path, dim: int) -> _Rows:
        vectors, tickets = np.load(directory / "vectors.npy"), np.load(directory / "rows.npy")
        if vectors.shape != (len(tickets), dim) or vectors.dtype != np.float16:
            raise ValueError("vectors.npy and rows.npy disagree with each other or with the index")
        return cls(dim, vectors, tickets)


class TicketIndex:
    """Ticket ids → vectors; `search` returns (ticket_id, inner product) best first."""

    def __init__(
        self,
        index: Any,
        dim: int,
        kind: str,
        meta: dict[str, Any] | None = None,
        rerank_store: _Rows | None = None,
        rerank: int = RERANK,
    ) -> None:
        self._cpu = index
        self._store = rerank_store  # ivfpq only: the exact vectors its candidates are re-scored with
        self.rerank = rerank
        self.dim = dim
        self.kind = kind
        self.meta: dict[str, Any] = dict(meta or {})
        self._ids: set[int] = set()
        self._lock = threading.RLock()
        self._search_index = self._replica()

    # construction ------------------------------------------------------------------------

    @classmethod
    def empty(cls, dim: int) -> TicketIndex:
        return cls(faiss.IndexIDMap(faiss.IndexFlatIP(dim)), dim, "flat")

    @classmethod
    def build(
        cls,
        ids: Iterable[int],
        vectors: Any,
        *,
        dim: int | None = None,
        kind: str | None = None,
        nlist: int | None = None,
        nprobe: int | None = None,
        rerank: int = RERANK,
    ) -> TicketIndex:
        """Index `vectors` under `ids`; exact up to EXACT_LIMIT, ivfpq beyond unless `kind` says.

        Steps for ivf/ivfpq: nlist from the size (unless given), train spherical k-means (and
        for ivfpq the 4-bit PQ of the residuals) on a sample, add everything with its id (for
        ivfpq as rows of the float16 vectors, the codes filed under their row), set nprobe.
        """
        id_array = _as_ids(ids)
        matrix = _as_matrix(vectors, dim) if len(id_array) else np.zeros((0, dim or 0), np.float32)
        dim = int(matrix.shape[1])
        if len(id_array) != len(matrix):
            raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("duplicate ticket ids")
        kind = kind or ("flat" if len(matrix) <= EXACT_LIMIT else "ivfpq")
        index: Any  # an IndexIDMap over flat, or an IVF index (both add_with_ids/search)
        store = None
        if kind == "flat":
            index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))
        elif kind == "ivf":
            nlist = nlist or ivf_lists(len(matrix))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            _trained_ivf(index, matrix, nlist)
            index.nprobe = nprobe or max(MIN_NPROBE, int(nlist * IVF_PROBE_FRACTION))
        elif kind == "ivfpq":
            nlist = nlist or ivf_lists(len(matrix), PQ_LISTS_PER_SQRT)
            description = f"IVF{nlist},PQ{pq_subquantizers(dim)}x4fs"
            index = faiss.index_factory(dim, description, faiss.METRIC_INNER_PRODUCT)
            _trained_ivf(index, matrix, nlist)
            index.nprobe = min(nprobe or PQ_NPROBE, nlist)
            store = _Rows(dim)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        built = cls(index, dim, kind, rerank_store=store, rerank=rerank)
        built.add(id_array, matrix)
        return built

    # mutation ----------------------------------------------------------------------------

    def add(self, ids: Iterable[int], vectors: Any) -> None:
        """Add vectors in place; ids already present are replaced."""
        id_array = _as_ids(ids)
        if not len(id_array):
            return
        matrix = _as_matrix(vectors, self.dim)
        if len(id_array) != len(matrix):
            raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
        with self._lock:
            present = [i for i in id_array.tolist() if i in self._ids]
            if present:
                self._remove_locked(present)
            if self._store is not None:
                self._cpu.add_with_ids(matrix, self._store.append(id_array, matrix))
            else:
                self._cpu.add_with_ids(matrix, id_array)
            self._ids.update(id_array.tolist())
            if self._search_index is not self._cpu:
                self._search_index.add_with_ids(matrix, id_array)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove ids in place; returns how many were there."""
        with self._lock:
            present = [int(i) for i in ids if int(i) in self._ids]
            if present:
                self._remove_locked(present)
            return len(present)

    def _remove_locked(self, ids: list[int]) -> None:
        faiss_ids = self._store.remove(ids) if self._store is not None else _as_ids(ids)
        self._cpu.remove_ids(faiss.IDSelectorBatch(faiss_ids))
        self._ids.difference_update(ids)
        if self._search_index is not self._cpu:
            self._search_index = self._replica()  # GPU indexes do not remove; removal is rare

    def _replica(self) -> Any:
        if self.kind != "ivfpq" and gpu_count() > 0:  # FAISS has no GPU fast scan
            return faiss.index_cpu_to_all_gpus(self._cpu)
        return self._cpu

    # queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._cpu.ntotal)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._ids

    def ids(self) -> set[int]:
        with self._lock:
            return set(self._ids)

    @property
    def nprobe(self) -> int | None:
        return int(self._cpu.nprobe) if self.kind in ("ivf", "ivfpq") else None

    def set_nprobe(self, nprobe: int) -> None:
        if self.kind not in ("ivf", "ivfpq"):
            return
        with self._lock:
            self._cpu.nprobe = nprobe
            if self._search_index is not self._cpu:
                faiss.GpuParameterSpace().set_index_parameter(self._search_index, "nprobe", nprobe)

    def search(self, vector: Any, k: int = 5) -> list[tuple[int, float]]:
        """The k nearest tickets to one vector, best first."""
        scores, ids = self.search_batch(_as_matrix(vector, self.dim)[:1], k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_batch(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's own answer for many queries: (scores, ids), ids -1 where fewer than k exist."""
        matrix = _as_matrix(vectors, self.dim)
        with self._lock:
            if self._cpu.ntotal == 0:
                return np.zeros((len(matrix), 0), np.float32), np.zeros((len(matrix), 0), np.int64)
            k = min(k, int(self._cpu.ntotal))
            if self._store is None:
                return self._search_index.search(matrix, k)
            _, candidates = self._cpu.search(matrix, max(k, self.rerank))
            return self._reranked(matrix, candidates, k)

    def _reranked(self, matrix: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of each query's PQ candidates (rows) by exact inner product."""
        assert self._store is not None
        scores = np.full((len(matrix), k), -np.inf, np.float32)
        ids = np.full((len(matrix), k), -1, np.int64)
        for row, (query, rows) in enumerate(zip(matrix, candidates, strict=True)):
            best_scores, best_ids = self._store.best(query, rows, k)
            scores[row, : len(best_ids)] = best_scores
            ids[row, : len(best_ids)] = best_ids
        return scores, ids

    # persistence -------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            faiss.write_index(self._cpu, str(directory / "index.faiss"))
            if self._store is not None:
                self._store.save(directory)
            np.save(directory / "ids.npy", np.array(sorted(self._ids), dtype=np.int64))
            info = {
                "format": FORMAT,
                "dim": self.dim,
                "kind": self.kind,
                "size": len(self),
                "nprobe": self.nprobe,
                "rerank": self.rerank if self._store is not None else None,
                "meta": self.meta,
            }
        (directory / "index.json").write_text(json.dumps(info, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> TicketIndex:
        directory = Path(directory)
        info = json.loads((directory / "index.json").read_text())
        if info.get("format") not in READABLE_FORMATS:
            raise ValueError(f"index format {info.get('format')}, this code reads {READABLE_FORMATS}")
        if info["kind"] not in ("flat", "ivf", "ivfpq"):
            raise ValueError(f"unknown index kind {info['kind']!r}")
        cpu = faiss.read_index(str(directory / "index.faiss"))
        if cpu.d != info["dim"]:
            raise ValueError("index.faiss and index.json disagree on dimension")
        if info["kind"] in ("ivf", "ivfpq") and info.get("nprobe"):
            faiss.extract_index_ivf(cpu).nprobe = int(info["nprobe"])
        store = None
        if info["kind"] == "ivfpq":
            store = _Rows.load(directory, int(info["dim"]))
            if len(store.row_of) != cpu.ntotal:
                raise ValueError("rows.npy and index.faiss disagree on size")
        loaded = cls(cpu, int(info["dim"]), info["kind"], info.get("meta"), store, int(info.get("rerank") or RERANK))
        loaded._ids = set(np.load(directory / "ids.npy").tolist())
        if len(loaded._ids) != cpu.ntotal:
            raise ValueError("ids.npy and index.faiss disagree on size")
        return loaded
