"""Labelled text for the intent model: CSV files, the public pretraining corpus, the database."""

from __future__ import annotations

import csv
import json
from pathlib import Path


class DatasetError(Exception):
    """A file is missing a column or holds no usable rows."""


def read_labelled_csv(
    path: Path, *, text_column: str = "text", intent_column: str = "intent", oos_label: str | None = "oos"
) -> tuple[list[str], list[str | None]]:
    """Texts and intents from a CSV; rows labelled `oos_label` become None (out-of-scope)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {text_column, intent_column} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: no column(s) {sorted(missing)}; columns are {reader.fieldnames}")
        texts: list[str] = []
        intents: list[str | None] = []
        for row in reader:
            text, intent = (row[text_column] or "").strip(), (row[intent_column] or "").strip()
            if not text or not intent:
                continue
            texts.append(text)
            intents.append(None if intent == oos_label else intent)
    if not texts:
        raise DatasetError(f"{path}: no labelled rows")
    return texts, intents


def write_labelled_csv(path: Path, texts: list[str], intents: list[str], *, columns: tuple[str, str] = ("text", "intent")) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(zip(texts, intents))


def pretraining_corpus(data_dir: Path) -> tuple[list[str], list[str | None]]:
    """BANKING77 train + CLINC150 train (+ its OOS train) + wiki sentences as out-of-scope.

    Only training splits: BANKING77 test and CLINC150 val/oos_val are the benchmarks' evaluation
    sets and must never reach the base model. Labels are prefixed by dataset so that the two label
    sets stay distinct classes.
    """
    data_dir = Path(data_dir)
    texts, labels = read_labelled_csv(data_dir / "banking77" / "train.csv", intent_column="category", oos_label=None)
    out_texts: list[str] = list(texts)
    out_labels: list[str | None] = [f"banking77:{label}" for label in labels]
    clinc = json.loads((data_dir / "clinc150" / "clinc150_train_val.json").read_text())
    for text, intent in clinc["train"] + clinc["oos_train"]:
        out_texts.append(text)
        out_labels.append(None if intent == "oos" else f"clinc150:{intent}")
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
