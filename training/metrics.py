"""The project's one set of intent metrics: out-of-scope is one more class, named OOS.

Used by the retrain's gate (training.pipeline.score), the standard evaluation
(training.evaluation.evaluate) and the benchmarks, so their figures mean the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OOS = "__oos__"  # how out-of-scope is spelled inside metrics (one more class)


def name(intent: str | None) -> str:
    return OOS if intent is None else intent


def metrics(true: list[str | None], pred: list[str | None]) -> dict[str, Any]:
    """Accuracy with out-of-scope as one more class, in-scope accuracy, OOS recall/precision, F1, MCC."""
    from sklearn.metrics import f1_score, matthews_corrcoef

    t = np.array([name(x) for x in true])
    p = np.array([name(x) for x in pred])
    is_oos, said_oos = t == OOS, p == OOS
    return {
        "accuracy": float((t == p).mean()),
        "in_scope_accuracy": float((t == p)[~is_oos].mean()) if (~is_oos).any() else None,
        "oos_recall": float(said_oos[is_oos].mean()) if is_oos.any() else None,
        "oos_precision": float(is_oos[said_oos].mean()) if said_oos.any() else None,
        "macro_f1": float(f1_score(t, p, average="macro", labels=sorted(set(t)), zero_division=0)),
        "mcc": float(matthews_corrcoef(t, p)),
    }


def per_intent_accuracy(true: list[str | None], pred: list[str | None]) -> dict[str, float]:
    """Share of each true label's rows predicted right (out-of-scope counted under OOS)."""
    totals: dict[str, list[int]] = {}
    for t, p in zip(map(name, true), map(name, pred)):
        totals.setdefault(t, [0, 0])
        totals[t][0] += int(t == p)
        totals[t][1] += 1
    return {k: round(c / n, 3) for k, (c, n) in sorted(totals.items())}


def write_report(
    directory: Path, true: list[str | None], pred: list[str | None], confidence: list[float],
    result: dict[str, Any],
) -> None:
    """Per-intent precision/recall/F1 (csv + json), confusion matrix PNG, out-of-scope ROC PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score, roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    t = [name(x) for x in true]
    p = [name(x) for x in pred]
    labels = sorted(set(t) | set(p))
    per_intent = classification_report(t, p, labels=labels, output_dict=True, zero_division=0)
    (directory / "per_intent.json").write_text(json.dumps(per_intent, indent=1))
    with open(directory / "per_intent.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["intent", "precision", "recall", "f1", "support"])
        for label in labels:
            row = per_intent[label]
            writer.writerow([label, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1-score']:.4f}", row["support"]])
    (directory / "metrics.json").write_text(json.dumps(result, indent=1))

    cm = confusion_matrix(t, p, labels=labels, normalize="true")
    size = max(6.0, len(labels) * 0.12)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=4)
    ax.set_yticks(range(len(labels)), labels, fontsize=4)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix (row-normalized), accuracy {result['accuracy']:.3f}")
    fig.tight_layout()
    fig.savefig(directory / "confusion_matrix.png", dpi=150)
    plt.close(fig)

    is_oos = np.array([x == OOS for x in t])
    fig, ax = plt.subplots(figsize=(5, 5))
    if is_oos.any() and (~is_oos).any():
        score = -np.asarray(confidence)  # low top-intent confidence = likely out of scope
        fpr, tpr, _ = roc_curve(is_oos, score)
        ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(is_oos, score):.3f}")
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no out-of-scope rows in the test set", ha="center")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("in-scope messages rejected (FPR)")
    ax.set_ylabel("out-of-scope messages caught (TPR)")
    ax.set_title("Out-of-scope ROC (score: 1 - confidence)")
    fig.tight_layout()
    fig.savefig(directory / "oos_roc.png", dpi=120)
    plt.close(fig)
