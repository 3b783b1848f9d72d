"""The ticket index: ticket ids and their L2-normalized vectors, searched by inner product.

The only module that imports FAISS. Two layouts, chosen at build time by size:

    flat  IndexIDMap(IndexFlatIP): exact, used up to EXACT_LIMIT vectors
    ivf   IndexIVFFlat (inner product, spherical k-means): approximate, beyond it

Both take `add` and `remove` in place, so new tickets never force a rebuild; a flat index that
grows past EXACT_LIMIT by additions stays flat until the next build (the next retrain).
The CPU index is always the master copy; when FAISS sees a GPU, a replica serves searches
(same code, `faiss.index_cpu_to_all_gpus`). Saved with `faiss.write_index` beside a JSON
file of metadata and an `ids.npy`; never pickle.
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

FORMAT = 1

# Measured with `manage.py bench_index` (docs/retrieval.md): exact search over 100k 256-d
# vectors took ~4 ms on one core, so ~20k answer in ~1 ms; beyond that, IVF.
EXACT_LIMIT = 20_000

# IVF settings, chosen by `bench_index` sweeps at 100k and 1M (docs/retrieval.md). With the
# hybrid encoder (320-d) at 1M, nprobe 32 gave recall@10 0.945 in 0.68 ms and 48 gave 0.964 in
# 0.94 ms; 40 sits between, under 1 ms with recall ≥ 0.95. (The 256-d intent encoder had 0.973 at 32.)
IVF_PROBE_FRACTION = 1 / 128  # nprobe = nlist / 128, at least MIN_NPROBE
MIN_NPROBE = 40
TRAIN_POINTS_PER_LIST = 40  # FAISS warns below 39 points per centroid


def gpu_count() -> int:
    return int(faiss.get_num_gpus())


def use_one_thread() -> None:
    """Serving answers one query at a time: more OpenMP threads only add p99 (STYLE.md §19)."""
    faiss.omp_set_num_threads(1)


def use_threads(n: int) -> None:
    faiss.omp_set_num_threads(n)


def ivf_lists(n: int) -> int:
    """nlist ≈ 4·√n rounded to a power of two, with at least 39 vectors per list (min 16 lists)."""
    nlist = 2 ** round(np.log2(4 * np.sqrt(max(n, 1))))
    while nlist > 16 and n / nlist < 39:
        nlist //= 2
    return int(nlist)


def _as_matrix(vectors: Any, dim: int | None = None) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"vectors have dimension {matrix.shape[1]}, the index has {dim}")
    return matrix


def _as_ids(ids: Iterable[int]) -> np.ndarray:
    return np.ascontiguousarray(np.fromiter((int(i) for i in ids), dtype=np.int64))


class TicketIndex:
    """Ticket ids → vectors; `search` returns (ticket_id, inner product) best first."""

    def __init__(self, index: Any, dim: int, kind: str, meta: dict[str, Any] | None = None) -> None:
        self._cpu = index
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
        cls, ids: Iterable[int], vectors: Any, *, dim: int | None = None, kind: str | None = None
    ) -> TicketIndex:
        """Index `vectors` under `ids`; exact up to EXACT_LIMIT, IVF beyond unless `kind` says.

        Steps for IVF: nlist from the size, train spherical k-means on a sample of at most
        TRAIN_POINTS_PER_LIST·nlist vectors, add everything with its id, set nprobe.
        """
        id_array = _as_ids(ids)
        matrix = _as_matrix(vectors, dim) if len(id_array) else np.zeros((0, dim or 0), np.float32)
        dim = int(matrix.shape[1])
        if len(id_array) != len(matrix):
            raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("duplicate ticket ids")
        kind = kind or ("flat" if len(matrix) <= EXACT_LIMIT else "ivf")
        index: Any  # an IndexIDMap over flat, or an IVF index (both add_with_ids/search)
        if kind == "flat":
            index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))
        elif kind == "ivf":
            nlist = ivf_lists(len(matrix))
            if len(matrix) < nlist:
                raise ValueError(f"an IVF index of {nlist} lists needs at least {nlist} vectors")
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.spherical = True  # centroids on the unit sphere, like the vectors
            sample_size = min(len(matrix), TRAIN_POINTS_PER_LIST * nlist)
            sample = matrix[np.random.default_rng(0).choice(len(matrix), sample_size, replace=False)]
            index.train(sample)
            index.nprobe = max(MIN_NPROBE, int(nlist * IVF_PROBE_FRACTION))
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        built = cls(index, dim, kind)
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
        self._cpu.remove_ids(faiss.IDSelectorBatch(_as_ids(ids)))
        self._ids.difference_update(ids)
        if self._search_index is not self._cpu:
            self._search_index = self._replica()  # GPU indexes do not remove; removal is rare

    def _replica(self) -> Any:
        if gpu_count() > 0:
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
        return int(self._cpu.nprobe) if self.kind == "ivf" else None

    def set_nprobe(self, nprobe: int) -> None:
        if self.kind != "ivf":
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
            return self._search_index.search(matrix, min(k, int(self._cpu.ntotal)))

    # persistence -------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            faiss.write_index(self._cpu, str(directory / "index.faiss"))
            np.save(directory / "ids.npy", np.array(sorted(self._ids), dtype=np.int64))
            info = {
                "format": FORMAT,
                "dim": self.dim,
                "kind": self.kind,
                "size": len(self),
                "nprobe": self.nprobe,
                "meta": self.meta,
            }
        (directory / "index.json").write_text(json.dumps(info, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> TicketIndex:
        directory = Path(directory)
        info = json.loads((directory / "index.json").read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"index format {info.get('format')}, expected {FORMAT}")
        cpu = faiss.read_index(str(directory / "index.faiss"))
        if cpu.d != info["dim"]:
            raise ValueError("index.faiss and index.json disagree on dimension")
        if info["kind"] == "ivf" and info.get("nprobe"):
            faiss.extract_index_ivf(cpu).nprobe = int(info["nprobe"])
        loaded = cls(cpu, int(info["dim"]), info["kind"], info.get("meta"))
        loaded._ids = set(np.load(directory / "ids.npy").tolist())
        if len(loaded._ids) != cpu.ntotal:
            raise ValueError("ids.npy and index.faiss disagree on size")
        return loaded
