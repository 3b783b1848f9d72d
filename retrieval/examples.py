"""The labelled examples in the ticket encoder's space: what makes intents and tickets comparable.

A ticket's score is the similarity of a message to its question in the ticket encoder's space
(retrieval.encoder); the intent classifier's probability lives on another scale. So the index
also holds every training example (curated intents' examples and out-of-scope negatives) in
that same space, and the reply policy compares, for one message, the best approved ticket with
the nearest example of each intent and the nearest out-of-scope example (nearest-neighbour
evidence, the kNN idea of open-world intent detection: ../shared/notes/open-world.md).

Saved beside the index as `examples.npy` (float32 vectors, L2-normalized halves as tickets)
and `examples.json` (labels, null for out-of-scope; word counts); numpy only, importable in
the web process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SHORT_WORDS = 3
VECTORS_FILE = "examples.npy"
LABELS_FILE = "examples.json"


@dataclass(frozen=True)
class Nearest:
    """For one message: the best similarity to each intent's examples, and to the out-of-scope ones."""

    intents: dict[str, float] = field(default_factory=dict)  # intent → best similarity, best first
    out_of_scope: float = 0.0

    def of(self, intent: str | None) -> float:
        return self.intents.get(intent or "", 0.0)

    @property
    def best(self) -> tuple[str, float] | None:
        return next(iter(self.intents.items()), None)


class ExampleSpace:
    """Example vectors with their labels; `nearest` answers for a batch of query vectors."""

    def __init__(self, vectors: np.ndarray, labels: list[str | None], words: list[int] | None = None) -> None:
        if len(vectors) != len(labels) or (words is not None and len(words) != len(labels)):
            raise ValueError(f"{len(vectors)} example vectors for {len(labels)} labels")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.labels = labels
        self.words = list(words) if words is not None else [0] * len(labels)
        names = sorted({label for label in labels if label is not None})
        self._names = names
        # Chit-chat: intents whose examples are typically a few words ("hi", "thanks a lot"), for
        # which a short message is the norm rather than a sign of vagueness.
        self.short_intents = frozenset(
            name for name in names
            if np.median([w for w, label in zip(self.words, labels, strict=True) if label == name]) <= SHORT_WORDS
        )
        # One column per intent, plus one for out-of-scope (index len(names)); the vectors are kept
        # sorted by column so that one reduceat takes every column's best similarity at once.
        column = {name: i for i, name in enumerate(names)}
        columns = np.array([column[label] if label is not None else len(names) for label in labels], dtype=np.int64)
        order = np.argsort(columns, kind="stable")
        # Only the sorted copy is kept (a second, in the given order, held 9 MB on the demo bundle);
        # `vectors` puts it back in order for the rare caller that needs it (save).
        self._sorted = np.ascontiguousarray(vectors[order])
        self._order = order
        present, self._starts = np.unique(columns[order], return_index=True)
        self._present = present

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def vectors(self) -> np.ndarray:
        """The example vectors in the order of `labels`."""
        vectors = np.empty_like(self._sorted)
        vectors[self._order] = self._sorted
        return vectors

    @property
    def dim(self) -> int:
        return int(self._sorted.shape[1]) if len(self._sorted) else 0

    def nearest(self, queries: np.ndarray) -> list[Nearest]:
        """Per query, the best similarity per intent (sorted, best first) and to out-of-scope."""
        if not len(self.labels) or not len(queries):
            return [Nearest() for _ in range(len(queries))]
        sims = np.asarray(queries, dtype=np.float32) @ self._sorted.T
        best = np.full((len(queries), len(self._names) + 1), -1.0, dtype=np.float32)
        best[:, self._present] = np.maximum.reduceat(sims, self._starts, axis=1)
        found = []
        for row in best:
            order = np.argsort(-row[: len(self._names)])
            found.append(Nearest(
                intents={self._names[i]: float(row[i]) for i in order},
                out_of_scope=max(float(row[-1]), 0.0),
            ))
        return found

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / VECTORS_FILE, self.vectors)
        (directory / LABELS_FILE).write_text(json.dumps({"labels": self.labels, "words": self.words}))

    @classmethod
    def load(cls, directory: Path) -> ExampleSpace | None:
        """The saved examples, or None for an index built before they were saved."""
        directory = Path(directory)
        if not (directory / LABELS_FILE).exists():
            return None
        saved = json.loads((directory / LABELS_FILE).read_text())
        return cls(np.load(directory / VECTORS_FILE, allow_pickle=False), saved["labels"], saved.get("words"))
