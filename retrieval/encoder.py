"""Text → L2-normalized float32 vectors for the ticket index, compared by inner product.

Three encoders, all with `dim` and `embed(texts) -> (n, dim) float32`:

    base     the bundle's intent model (chat.intents.IntentModel.embed), passed in
    lexical  LexicalEncoder: char 2-5-gram TF-IDF (hashed) → truncated SVD → L2
    hybrid   HybridEncoder: [√(1-w)·base, √w·lexical], so a score is (1-w)·cos + w·cos

Which one a bundle's index uses is written in `<index>/encoder.json` by
retrieval.ingest.build_ticket_index and read back by `load_ticket_encoder`; the lexical part
lives in `<index>/lexical/` as .npy arrays and JSON (no pickle). The default was chosen
by `manage.py evaluate_retrieval` against BM25 (docs/retrieval.md).
Numpy and scikit-learn's stateless HashingVectorizer only: importable in the web process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ENCODER_FILE = "encoder.json"
LEXICAL_DIR = "lexical"

# Chosen by measurement (docs/retrieval.md, "Choosing the encoder"): the intent encoder alone
# reached P@1 0.907 on BANKING77 (BM25 0.796, lexical 0.828) and 0.913 on CLINC150 (BM25
# 0.828). The hybrid gained 0.2-1.4 points but at 512-d could not keep 1M-ticket search under
# 1 ms with recall@10 ≥ 0.95 (1.01 ms at 0.954). Lexical is the fallback without an intent model.
DEFAULT_KIND = "base"
DEFAULT_LEXICAL_WEIGHT = 0.5
LEXICAL_DIM = 256


class Encoder(Protocol):
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.maximum(norms, 1e-12), dtype=np.float32)


def _hasher(n_features: int) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    # Hashing keeps no vocabulary to save: the same text hashes to the same columns anywhere.
    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        n_features=n_features,
        alternate_sign=False,
        norm=None,
        lowercase=True,
        dtype=np.float32,
    )


class LexicalEncoder:
    """Character n-gram TF-IDF reduced by truncated SVD; owns its preprocessing.

    Fit: hash char 2-5-grams (within words) into 2^20 columns, keep columns seen in at least
    `min_df` texts, weight by sublinear tf × smoothed idf, L2-normalize rows, then keep the
    top `dim` right singular vectors. Embed: the same weighting, project, L2-normalize.
    """

    N_FEATURES = 2**20

    def __init__(self, columns: np.ndarray, idf: np.ndarray, components: np.ndarray) -> None:
        self.columns = np.asarray(columns, dtype=np.int64)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.components = np.ascontiguousarray(components, dtype=np.float32)  # (dim, len(columns))
        self.dim = int(self.components.shape[0])
        self._hasher = _hasher(self.N_FEATURES)
        self._projection = np.ascontiguousarray(self.components.T)

    @classmethod
    def fit(cls, texts: list[str], dim: int = LEXICAL_DIM, min_df: int = 2) -> LexicalEncoder:
        from sklearn.decomposition import TruncatedSVD

        if len(texts) < 2:
            raise ValueError("a lexical encoder needs at least two texts to fit")
        counts = _hasher(cls.N_FEATURES).transform(texts).tocsc()
        df = np.diff(counts.indptr)
        columns = np.flatnonzero(df >= min_df)
        if len(columns) < 2:
            columns = np.flatnonzero(df >= 1)
        idf = (np.log((1 + len(texts)) / (1 + df[columns])) + 1).astype(np.float32)
        encoder = cls(columns, idf, np.zeros((1, len(columns)), np.float32))
        weighted = encoder._weighted(counts.tocsr())
        # SVD rank is bounded by the corpus: few tickets give a smaller dim, fixed at fit time.
        rank = max(1, min(dim, weighted.shape[0] - 1, weighted.shape[1] - 1))
        svd = TruncatedSVD(rank, algorithm="randomized", n_iter=5, random_state=0).fit(weighted)
        return cls(columns, idf, svd.components_)

    def _weighted(self, counts: Any) -> Any:
        """Sublinear tf × idf over the kept columns, rows L2-normalized (CSR, float32).

        Written on the CSR arrays directly: scipy's column indexing cost ~0.9 ms per query.
        """
        import scipy.sparse as sp

        counts = counts.tocsr()
        counts.sort_indices()
        n_rows = counts.shape[0]
        position = np.minimum(np.searchsorted(self.columns, counts.indices), len(self.columns) - 1)
        kept = self.columns[position] == counts.indices
        rows = np.repeat(np.arange(n_rows), np.diff(counts.indptr))[kept]
        values = (1 + np.log(counts.data[kept])).astype(np.float32) * self.idf[position[kept]]
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_rows))
        values = (values / np.maximum(norms[rows], 1e-12)).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        return sp.csr_matrix((values, position[kept], indptr), shape=(n_rows, len(self.columns)))

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        weighted = self._weighted(self._hasher.transform(texts))
        return l2_normalize(np.asarray(weighted @ self._projection))

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "columns.npy", self.columns)
        np.save(directory / "idf.npy", self.idf)
        np.save(directory / "components.npy", self.components)
        config = {"analyzer": "char_wb", "ngram_range": [2, 5], "n_features": self.N_FEATURES}
        (directory / "config.json").write_text(json.dumps({**config, "dim": self.dim}, indent=2))

    @classmethod
    def load(cls, directory: Path) -> LexicalEncoder:
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text())
        if config["n_features"] != cls.N_FEATURES or config["ngram_range"] != [2, 5]:
            raise ValueError(f"lexical encoder in {directory} was written by other code")
        return cls(
            np.load(directory / "columns.npy"),
            np.load(directory / "idf.npy"),
            np.load(directory / "components.npy"),
        )


class HybridEncoder:
    """Concatenation of two encoders, weighted so that the inner product mixes their cosines."""

    def __init__(self, base: Encoder, lexical: Encoder, lexical_weight: float) -> None:
        if not 0.0 < lexical_weight < 1.0:
            raise ValueError("lexical_weight must be strictly between 0 and 1")
        self.base = base
        self.lexical = lexical
        self.lexical_weight = lexical_weight
        self.dim = int(base.dim + lexical.dim)
        self._scales = (np.float32(np.sqrt(1 - lexical_weight)), np.float32(np.sqrt(lexical_weight)))

    def embed(self, texts: list[str]) -> np.ndarray:
        left = l2_normalize(self.base.embed(texts)) * self._scales[0]
        right = l2_normalize(self.lexical.embed(texts)) * self._scales[1]
        return np.ascontiguousarray(np.hstack([left, right]), dtype=np.float32)


def fit_ticket_encoder(
    texts: list[str],
    base: Encoder | None,
    kind: str | None = None,
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
) -> tuple[Encoder, dict[str, Any]]:
    """The encoder of `kind` (default DEFAULT_KIND) and its description for encoder.json.

    Falls back to `base` when there is too little text to fit a lexical part, and to lexical
    when there is no base encoder.
    """
    kind = kind or DEFAULT_KIND
    if kind != "base" and len(texts) < 2:
        kind = "base"
    if kind != "lexical" and base is None:
        kind = "lexical"
    if kind == "base":
        if base is None:
            raise ValueError("no base encoder and too few texts for a lexical one")
        return base, {"kind": "base", "dim": base.dim}
    lexical = LexicalEncoder.fit(texts)
    if kind == "lexical":
        return lexical, {"kind": "lexical", "dim": lexical.dim}
    if kind == "hybrid":
        assert base is not None
        hybrid = HybridEncoder(base, lexical, lexical_weight)
        return hybrid, {"kind": "hybrid", "dim": hybrid.dim, "lexical_weight": lexical_weight}
    raise ValueError(f"unknown encoder kind {kind!r}")


def save_ticket_encoder(encoder: Encoder, description: dict[str, Any], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lexical = encoder.lexical if isinstance(encoder, HybridEncoder) else encoder
    if isinstance(lexical, LexicalEncoder):
        lexical.save(directory / LEXICAL_DIR)
    (directory / ENCODER_FILE).write_text(json.dumps(description, indent=2, sort_keys=True))


def load_ticket_encoder(directory: Path, base: Encoder | None) -> Encoder:
    """The encoder an index directory was built with; `base` is the bundle's intent model."""
    path = Path(directory) / ENCODER_FILE
    description = json.loads(path.read_text()) if path.exists() else {"kind": "base"}
    kind = description["kind"]
    if kind == "lexical":
        encoder: Encoder = LexicalEncoder.load(Path(directory) / LEXICAL_DIR)
    elif base is None:
        raise ValueError(f"index in {directory} needs the bundle's intent encoder")
    elif kind == "base":
        encoder = base
    elif kind == "hybrid":
        lexical = LexicalEncoder.load(Path(directory) / LEXICAL_DIR)
        encoder = HybridEncoder(base, lexical, float(description["lexical_weight"]))
    else:
        raise ValueError(f"unknown encoder kind {kind!r} in {path}")
    if "dim" in description and encoder.dim != description["dim"]:
        raise ValueError(f"encoder has dimension {encoder.dim}, the index was built with {description['dim']}")
    return encoder
