"""Text → L2-normalized float32 vectors for the ticket index, compared by inner product.

Three encoders, all with `dim` and `embed(texts) -> (n, dim) float32`:

    base     the bundle's intent model (serving.intents.IntentModel.embed), passed in
    lexical  LexicalEncoder: char 2-5-gram TF-IDF (hashed) → truncated SVD (→ L2 when alone)
    hybrid   HybridEncoder: [√(1-w)·base, √w·lexical], so a score is (1-w)·cos + w·tf-idf cos

Which one a bundle's index uses is written in `<index>/encoder.json` by
retrieval.ingest.build_ticket_index and read back by `load_ticket_encoder`; the lexical part
lives in `<index>/lexical/` as .npy arrays and JSON (no pickle). The default was chosen
by `manage.py evaluate_retrieval` against BM25 (docs/retrieval.md).
Embedding needs numpy and mmh3 only (the web process's answer helper imports neither scikit-learn
nor SciPy: ~90 MB of its memory); fitting uses scikit-learn's HashingVectorizer and SVD, and
`hashed_counts` reproduces that vectorizer's columns exactly (tests compare the two).
"""

from __future__ import annotations

import json
import mmap
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import mmh3
import numpy as np

ENCODER_FILE = "encoder.json"
LEXICAL_DIR = "lexical"

# Chosen by measurement (docs/retrieval.md, "Choosing the encoder"): the intent encoder alone
# cannot tell a ticket about a problem no intent covers from an unrelated question (demo bot:
# unrelated questions scored up to 0.75, paraphrases down to 0.59); the hybrid's lexical half
# can, and with that half at HYBRID_LEXICAL_DIM it keeps 1M-ticket search under 1 ms with
# recall@10 ≥ 0.95. Lexical alone is the fallback without an intent model.
DEFAULT_KIND = "hybrid"
DEFAULT_LEXICAL_WEIGHT = 0.6
LEXICAL_DIM = 256
# The lexical half of the hybrid: 256 + 64 = 320-d. At 256 (512-d in all) 1M tickets took
# 1.01 ms for recall@10 0.954; search cost grows with the dimension.
HYBRID_LEXICAL_DIM = 64
# A deployment fitted on fewer texts than this (a shop: its intents' examples and a few hundred
# tickets) searches in microseconds at any dimension, and 64 dimensions blur its topics: on the
# demo shop, paraphrases of tickets found their ticket 68 % of the time with 256, 50 % with 64
# (bench/conversations.py on bench/data/shop_dev.jsonl, docs/conversations.md).
SMALL_HYBRID_LEXICAL_DIM = 256
SMALL_HYBRID_TEXTS = 20_000
# A shop's own corpus (its intents' examples and a few hundred tickets) is fitted at up to
# SHOP_HYBRID_LEXICAL_DIM: 256 dimensions still blurred a paraphrase's words into its neighbours'
# (truncated SVD keeps the corpus's common directions; a ticket's rare words, "engraving",
# "dimmer", "refurbished", live in the dropped ones). On the demo shop (1,831 texts), shop_dev's
# ticket paraphrases found an acceptable ticket first for 97 of 118 at 256, 103 at 512, 105 at
# 1024, and scored their ticket above the 90th percentile of unrelated messages' best ticket
# for 64 % / 75 % / 83 % (docs/conversations.md, round 4). The cost is the stored projection,
# columns × dim float32: 13 MB → 52 MB on the demo shop (its bundle 27 → 69 MB), mapped
# read-only (a query reads only its n-grams' rows), and the evidence's CPU per message (~1.7×:
# 1,831 examples compared at 1,280 dimensions instead of 512; bench/evidence_cost.py). Larger
# corpora (BANKING77's 10,003 texts) keep SMALL_HYBRID_LEXICAL_DIM. The saved files name their
# dimension, so no LEXICAL_FORMAT change: a bundle fitted at 256 loads and scores as before.
SHOP_HYBRID_LEXICAL_DIM = 1024
SHOP_HYBRID_TEXTS = 3000
# Below this many fitting texts a character n-gram seen once still names a topic ("Canada"),
# so columns are kept from one occurrence; above it, two (bounds the stored projection).
SMALL_CORPUS = 2000


# The lexical encoder's file format; a load of any other refuses (no guessing at missing keys).
# 3: the projection saved as projection.npy, (columns, dim), which serving maps read-only
# instead of copying; 2 (components.npy, (dim, columns)) still loads, into memory.
LEXICAL_FORMAT = 3
READABLE_LEXICAL_FORMATS = (2, 3)

class Encoder(Protocol):
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def embed_documents(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Vectors of texts to index: `encoder.embed_documents` where it has one, else `embed`.

    The hybrid indexes its lexical half L2-normalized but queries with it as it comes
    (HybridEncoder), so a ticket approved after the fit, in words the fit never saw, still
    finds itself, while an unrelated query's few shared n-grams are not blown up.
    """
    embed = getattr(encoder, "embed_documents", encoder.embed)
    return np.asarray(embed(texts), dtype=np.float32)


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


_WHITE_SPACES = re.compile(r"\s\s+")


def _words(text: str) -> list[str]:
    """The words of scikit-learn's `char_wb` analyzer: lowercased, split on white space."""
    return _WHITE_SPACES.sub(" ", text.lower()).split()


def _word_ngrams(word: str, low: int = 2, high: int = 5) -> list[str]:
    """The n-grams of one word, space-padded as `char_wb` pads it."""
    word = f" {word} "
    grams: list[str] = []
    for n in range(low, high + 1):
        grams.extend(word[i : i + n] for i in range(max(len(word) - n, 0) + 1))
        if len(word) <= n:  # a short word counts once, at the first n that covers it
            break
    return grams


def char_wb_ngrams(text: str, low: int = 2, high: int = 5) -> list[str]:
    """scikit-learn's `char_wb` analyzer on lowercased text: n-grams inside space-padded words."""
    return [gram for word in _words(text) for gram in _word_ngrams(word, low, high)]


def _hashed_column(gram: str, n_features: int) -> int:
    """HashingVectorizer's column of one n-gram: |signed MurmurHash3| mod n_features."""
    h = mmh3.hash(gram, 0, True)
    # scikit-learn's own answer for h = -2^31, whose absolute value overflows int32.
    return (2**31 - 1 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features


# Columns of each word's n-grams, by (word, n_features). An n-gram never crosses a word, so a
# text's columns are its words' columns put together: hashing every n-gram of every message
# (a fifth of the answer helper's time under load) becomes one dictionary look-up per word.
# Bounded: emptied when full (customers' order numbers are new words without end).
_WORD_COLUMNS: dict[tuple[str, int], np.ndarray] = {}
WORD_CACHE_SIZE = 20_000


def _word_columns(word: str, n_features: int) -> np.ndarray:
    key = (word, n_features)
    found = _WORD_COLUMNS.get(key)
    if found is None:
        found = np.array([_hashed_column(gram, n_features) for gram in _word_ngrams(word)], np.int64)
        if len(_WORD_COLUMNS) >= WORD_CACHE_SIZE:
            _WORD_COLUMNS.clear()
        _WORD_COLUMNS[key] = found
    return found


def hashed_counts(texts: list[str], n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, counts) of the texts' n-grams, as HashingVectorizer(alternate_sign=False).

    Signed 32-bit MurmurHash3 (seed 0) of the UTF-8 n-gram, |h| mod n_features, with
    scikit-learn's own answer for h = -2^31; n-grams that share a column add up. Sorted by
    row, then column, like a CSR matrix with sorted indices.
    """
    per_text = [[_word_columns(word, n_features) for word in _words(text)] for text in texts]
    lengths = [sum(len(columns) for columns in words) for words in per_text]
    parts = [columns for words in per_text for columns in words]
    columns = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    keys, counts = np.unique(rows * n_features + columns, return_counts=True)
    return keys // n_features, keys % n_features, counts.astype(np.float32)


class LexicalEncoder:
    """Character n-gram TF-IDF reduced by truncated SVD; owns its preprocessing.

    Fit: hash char 2-5-grams (within words) into 2^20 columns, keep columns seen in at least
    `min_df` texts (1 below SMALL_CORPUS texts, else 2), weight by sublinear tf × smoothed
    idf, L2-normalize rows, then keep the top `dim` right singular vectors. Embed: the same
    weighting, project; then either L2-normalize (`unit`, the lexical encoder alone) or not
    (`unit=False`, the hybrid's half). Not normalizing keeps the inner product an estimate
    of the TF-IDF cosine: n-grams no fitted text has count in a text's norm (at the largest
    idf), so a question that shares two common n-grams with the tickets scores near 0, where
    re-normalizing its projection would have blown those two n-grams up to a cosine of 0.7.
    """

    N_FEATURES = 2**20

    def __init__(
        self,
        columns: np.ndarray,
        idf: np.ndarray,
        components: np.ndarray | None = None,
        *,
        projection: np.ndarray | None = None,
        unit: bool = True,
        unknown_idf: float | None = None,
    ) -> None:
        self.columns = np.asarray(columns, dtype=np.int64)
        self.idf = np.asarray(idf, dtype=np.float32)
        # Kept once, as the (len(columns), dim) projection that embed multiplies by (a second,
        # transposed copy cost a web process 12 MB on the demo bundle); `components` is its view.
        # `projection` as it comes: `load` passes a read-only map of the saved file.
        if projection is None:
            projection = np.ascontiguousarray(np.asarray(components, dtype=np.float32).T)
        self._projection = projection
        self._rows = _RowsOnFirstUse(projection) if isinstance(projection, np.memmap) else None
        self.dim = int(self._projection.shape[1])
        self.unit = unit
        # None: the original weighting (norm over kept columns only), for indexes saved before.
        self.unknown_idf = unknown_idf

    @property
    def components(self) -> np.ndarray:
        """The SVD components, (dim, len(columns)): a view of the projection."""
        return self._projection.T

    @classmethod
    def fit(
        cls, texts: list[str], dim: int = LEXICAL_DIM, min_df: int | None = None, *, unit: bool = True
    ) -> LexicalEncoder:
        from sklearn.decomposition import TruncatedSVD

        if len(texts) < 2:
            raise ValueError("a lexical encoder needs at least two texts to fit")
        if min_df is None:
            min_df = 1 if len(texts) < SMALL_CORPUS else 2
        counts = _hasher(cls.N_FEATURES).transform(texts).tocsc()
        df = np.diff(counts.indptr)
        columns = np.flatnonzero(df >= min_df)
        if len(columns) < 2:
            columns = np.flatnonzero(df >= 1)
        idf = (np.log((1 + len(texts)) / (1 + df[columns])) + 1).astype(np.float32)
        unknown_idf = float(np.log(1 + len(texts)) + 1)  # the idf of an n-gram no text had
        encoder = cls(columns, idf, np.zeros((1, len(columns)), np.float32), unknown_idf=unknown_idf)
        weighted = encoder._weighted(counts.tocsr())
        # SVD rank is bounded by the corpus: few tickets give a smaller dim, fixed at fit time.
        rank = max(1, min(dim, weighted.shape[0] - 1, weighted.shape[1] - 1))
        svd = TruncatedSVD(rank, algorithm="randomized", n_iter=5, random_state=0).fit(weighted)
        return cls(columns, idf, svd.components_, unit=unit, unknown_idf=unknown_idf)

    def _weighted(self, counts: Any) -> Any:
        """Sublinear tf × idf over the kept columns, rows L2-normalized (CSR, float32).

        With `unknown_idf`, the n-grams outside the kept columns count in each row's norm.
        Written on the CSR arrays directly: scipy's column indexing cost ~0.9 ms per query.
        """
        import scipy.sparse as sp

        counts = counts.tocsr()
        counts.sort_indices()
        n_rows = counts.shape[0]
        position = np.minimum(np.searchsorted(self.columns, counts.indices), len(self.columns) - 1)
        kept = self.columns[position] == counts.indices
        all_rows = np.repeat(np.arange(n_rows), np.diff(counts.indptr))
        rows = all_rows[kept]
        values = (1 + np.log(counts.data[kept])).astype(np.float32) * self.idf[position[kept]]
        squares = np.bincount(rows, weights=values * values, minlength=n_rows)
        if self.unknown_idf is not None:
            unknown = (1 + np.log(counts.data[~kept])) * self.unknown_idf
            squares += np.bincount(all_rows[~kept], weights=unknown * unknown, minlength=n_rows)
        norms = np.sqrt(squares)
        values = (values / np.maximum(norms[rows], 1e-12)).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        return sp.csr_matrix((values, position[kept], indptr), shape=(n_rows, len(self.columns)))

    def embed(self, texts: list[str]) -> np.ndarray:
        """The weighting of `_weighted`, on numpy arrays, then the projection (no SciPy here)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        rows, columns, counts = hashed_counts(texts, self.N_FEATURES)
        position = np.minimum(np.searchsorted(self.columns, columns), len(self.columns) - 1)
        kept = self.columns[position] == columns
        values = (1 + np.log(counts[kept])).astype(np.float32) * self.idf[position[kept]]
        squares = np.bincount(rows[kept], weights=values * values, minlength=len(texts))
        if self.unknown_idf is not None:
            unknown = (1 + np.log(counts[~kept])) * self.unknown_idf
            squares += np.bincount(rows[~kept], weights=unknown * unknown, minlength=len(texts))
        values = (values / np.maximum(np.sqrt(squares), 1e-12)[rows[kept]]).astype(np.float32)
        # The batch's weights as a dense (texts, distinct columns) matrix, times those columns'
        # projection rows: one small matrix product. Summing each text's gathered rows with
        # np.add.reduceat (until LEXICAL_FORMAT 2's code) took three times as long; the sums
        # agree to float rounding (~1e-7).
        used, inverse = np.unique(position[kept], return_inverse=True)
        weights = np.zeros((len(texts), len(used)), np.float32)
        weights[rows[kept], inverse] = values
        projected = weights @ (self._rows.take(used) if self._rows is not None else self._projection[used])
        if self.unit:
            return l2_normalize(projected)
        return np.ascontiguousarray(projected, dtype=np.float32)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "columns.npy", self.columns)
        np.save(directory / "idf.npy", self.idf)
        np.save(directory / "projection.npy", np.ascontiguousarray(self._projection, dtype=np.float32))
        config = {
            "format": LEXICAL_FORMAT,
            "analyzer": "char_wb",
            "ngram_range": [2, 5],
            "n_features": self.N_FEATURES,
            "dim": self.dim,
            "unit": self.unit,
            "unknown_idf": self.unknown_idf,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2))

    @classmethod
    def load(cls, directory: Path) -> LexicalEncoder:
        """Read what `save` wrote; the projection is mapped read-only, not copied.

        Embedding reads the rows of a batch's n-grams from the file on their first use
        (`_RowsOnFirstUse`), so a process holds the rows its queries used (the demo shop's
        projection is 52 MB at 1,024 dimensions), not the whole projection.
        """
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text())
        if config.get("format") not in READABLE_LEXICAL_FORMATS:
            raise ValueError(
                f"lexical encoder in {directory} has format {config.get('format')!r}, expected one of {READABLE_LEXICAL_FORMATS}"
            )
        if config["n_features"] != cls.N_FEATURES or config["ngram_range"] != [2, 5]:
            raise ValueError(f"lexical encoder in {directory} was written by other code")
        if config["format"] == 2:
            arrays: dict[str, Any] = {"components": np.load(directory / "components.npy")}
        else:
            arrays = {"projection": np.load(directory / "projection.npy", mmap_mode="r")}
            if arrays["projection"].dtype != np.float32 or arrays["projection"].ndim != 2:
                raise ValueError(f"lexical encoder in {directory} has a projection of {arrays['projection'].dtype}")
        return cls(
            np.load(directory / "columns.npy"),
            np.load(directory / "idf.npy"),
            unit=bool(config["unit"]),
            unknown_idf=config["unknown_idf"],
            **arrays,
        )


class _RowsOnFirstUse:
    """The rows of a saved (rows, dim) float32 array, each read from its file when first used.

    Mapping the file made it resident whole after one batch of questions: the kernel maps a
    page's cached neighbours with it (fault-around, 64 KB; MADV_RANDOM does not stop it), and
    the demo's whole projection (12 MB at 256 dimensions, 52 MB at 1,024) counted in every web
    process that embeds a query. Rows read
    with pread into anonymous memory that is mapped but never written until then count only
    once read (a page holds four rows): the ones a process's customers' n-grams use.
    """

    def __init__(self, mapped: np.memmap) -> None:
        self.path, self.offset = str(mapped.filename), int(mapped.offset)
        self.row_bytes = int(mapped.shape[1]) * 4
        # Anonymous memory from mmap, not numpy: numpy asks for huge pages (2 MB) on arrays this
        # large, and one row read would make a whole huge page resident.
        self._memory = mmap.mmap(-1, max(1, int(mapped.shape[0]) * self.row_bytes),
                                 flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.rows = np.frombuffer(self._memory, np.float32, count=int(mapped.shape[0]) * int(mapped.shape[1]))
        self.rows = self.rows.reshape(mapped.shape)
        self.loaded = np.zeros(mapped.shape[0], bool)
        self.lock = threading.Lock()

    def take(self, used: np.ndarray) -> np.ndarray:
        """Rows `used` (sorted, distinct), read from the file first where not read before."""
        missing = used[~self.loaded[used]]
        if len(missing):
            with self.lock, open(self.path, "rb", buffering=0) as file:
                for row in missing.tolist():
                    target = memoryview(self.rows[row]).cast("B")
                    if os.preadv(file.fileno(), [target], self.offset + row * self.row_bytes) != self.row_bytes:
                        raise ValueError(f"{self.path} ends before row {row}")
                self.loaded[missing] = True
        return self.rows[used]


class HybridEncoder:
    """Concatenation of two encoders, weighted so that the inner product mixes their scores.

    The base half is L2-normalized. The lexical half is L2-normalized in indexed tickets
    (`embed_documents`) and taken as it comes in queries (`embed`): a LexicalEncoder fit with
    unit=False keeps a query's n-grams that no fitted text had in its norm, so its inner
    product with a ticket estimates their TF-IDF cosine and an unrelated question scores near 0.
    """

    def __init__(self, base: Encoder, lexical: Encoder, lexical_weight: float) -> None:
        if not 0.0 < lexical_weight < 1.0:
            raise ValueError("lexical_weight must be strictly between 0 and 1")
        self.base = base
        self.lexical = lexical
        self.lexical_weight = lexical_weight
        self.dim = int(base.dim + lexical.dim)
        self._scales = (np.float32(np.sqrt(1 - lexical_weight)), np.float32(np.sqrt(lexical_weight)))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Query vectors: a score against an indexed ticket is (1-w)·cos + w·(TF-IDF cos estimate)."""
        return self._embed(texts, documents=False)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Ticket vectors: both halves unit, so every ticket can score up to 1."""
        return self._embed(texts, documents=True)

    def _embed(self, texts: list[str], documents: bool) -> np.ndarray:
        left = l2_normalize(self.base.embed(texts)) * self._scales[0]
        right = self.lexical.embed(texts)
        if documents or getattr(self.lexical, "unit", True):
            right = l2_normalize(right)
        right = right * self._scales[1]
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
    if kind == "lexical":
        lexical = LexicalEncoder.fit(texts)
        return lexical, {"kind": "lexical", "dim": lexical.dim}
    if kind == "hybrid":
        assert base is not None
        dim = (
            SHOP_HYBRID_LEXICAL_DIM if len(texts) < SHOP_HYBRID_TEXTS
            else SMALL_HYBRID_LEXICAL_DIM if len(texts) < SMALL_HYBRID_TEXTS
            else HYBRID_LEXICAL_DIM
        )
        lexical_half = LexicalEncoder.fit(texts, dim, unit=False)
        hybrid = HybridEncoder(base, lexical_half, lexical_weight)
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
