"""Labelled text for the intent model: CSV files, the public pretraining corpus, the database."""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

from knowledge.csvfiles import read_labelled_csv
from serving.intents import normalize

# Share of each intent's training rows that fine-tuning holds out to fit the temperature, the
# thresholds and the epoch; pretraining leaves the same rows out of the base (see holdout_split).
HOLDOUT_FRACTION = 0.1
# Share of each intent's examples that a retrain holds out to evaluate and gate the candidate.
EVAL_FRACTION = 0.15


def write_labelled_csv(path: Path, texts: list[str], intents: list[str], *, columns: tuple[str, str] = ("text", "intent")) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(zip(texts, intents))


def holdout_split(
    texts: list[str], intents: list[str | None], fraction: float = HOLDOUT_FRACTION
) -> tuple[list[int], list[int]]:
    """Indices (train, held out): about `fraction` of each intent (None = out-of-scope is one more).

    The project's one held-out rule: fine-tuning calibrates on it (HOLDOUT_FRACTION), a retrain
    evaluates and gates on it (EVAL_FRACTION), pretraining leaves its rows out of the base.

    Keyed on content, not on a seed: within each intent the rows with the lowest crc32 of their
    normalized text are held out. So the same training file always yields the same held-out rows,
    and pretraining can leave exactly those rows out of the base: held-out confidences then behave
    like those of new messages (a base that has seen them makes them optimistic). Every intent with
    two or more rows gives at least one, so few-shot data still gets a calibration sample.
    """
    by_intent: dict[str | None, list[int]] = {}
    for i, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(i)
    held: list[int] = []
    for rows in by_intent.values():
        k = 0 if len(rows) < 2 else max(1, int(round(len(rows) * fraction)))
        rows = sorted(rows, key=lambda i: (zlib.crc32(" ".join(normalize(texts[i])).encode("utf-8")), i))
        held.extend(rows[:k])
    held_set = set(held)
    return [i for i in range(len(texts)) if i not in held_set], sorted(held)


def pretraining_corpus(data_dir: Path) -> tuple[list[str], list[str | None]]:
    """BANKING77 train + CLINC150 train (+ its OOS train) + wiki sentences as out-of-scope.

    Only training splits: BANKING77 test and CLINC150 val/oos_val are the benchmarks' evaluation
    sets and must never reach the base model. The rows that fine-tuning on those training files
    holds out for calibration (`holdout_split`) are left out too. Labels are prefixed by
    dataset so that the two label sets stay distinct classes.
    """
    data_dir = Path(data_dir)
    b77_texts, b77_labels = read_labelled_csv(data_dir / "banking77" / "train.csv", intent_column="category", oos_label=None)
    clinc_texts, clinc_labels = clinc150_splits(data_dir)["train"]
    clinc_intents: list[str | None] = [None if i == "oos" else i for i in clinc_labels]
    out_texts: list[str] = []
    out_labels: list[str | None] = []
    for prefix, texts, labels in (("banking77", b77_texts, list(b77_labels)), ("clinc150", clinc_texts, clinc_intents)):
        keep, _ = holdout_split(texts, labels)
        out_texts.extend(texts[i] for i in keep)
        out_labels.extend(None if labels[i] is None else f"{prefix}:{labels[i]}" for i in keep)
    wiki = (data_dir / "clinc150" / "wiki_sentences.txt").read_text(encoding="utf-8").splitlines()
    for line in wiki:
        if line.strip():
            out_texts.append(line.strip())
            out_labels.append(None)
    return out_texts, out_labels


def clinc150_splits(data_dir: Path) -> dict[str, tuple[list[str], list[str]]]:
    """CLINC150 as {split: (texts, intents)} with train = train + oos_train, val = val + oos_val."""
    clinc = json.loads((Path(data_dir) / "clinc150" / "clinc150_train_val.json").read_text())
    out = {}
    for split in ("train", "val"):
        rows = clinc[split] + clinc[f"oos_{split}"]
        out[split] = ([r[0] for r in rows], [r[1] for r in rows])
    return out
