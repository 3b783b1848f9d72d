"""The evaluation harness: the standard pipeline on a train/test split, metrics, baseline, report."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from serving.intents import IntentModel, decide
from training.export import export_trained
from training.metrics import OOS, metrics, name, write_report
from training.fit import Progress, TrainedIntentModel, fine_tune

def baseline_classifier() -> Any:
    """TF-IDF word (1-2) + char_wb (2-5) n-grams with logistic regression (unfitted sklearn pipeline)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
    )
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=2000))


def baseline_predict(
    train_texts: list[str], train_intents: list[str | None], test_texts: list[str]
) -> list[str | None]:
    """The baseline classifier trained on the same rows; OOS is a class."""
    clf = baseline_classifier()
    clf.fit(train_texts, [name(i) for i in train_intents])
    return [None if p == OOS else str(p) for p in clf.predict(test_texts)]


def unknown_as_out_of_scope(train_intents: list[str | None], test_intents: list[str | None]) -> tuple[list[str | None], list[str]]:
    """Test labels that no training row has, turned into out-of-scope (None), and which they were.

    A bot cannot answer with an intent it was never taught: for it such a message is out of scope,
    whatever the test file calls it (datasets spell out-of-scope differently: "oos",
    "NO_NODES_DETECTED", "none"). Scoring them as a class of their own would count every correct
    refusal as a mistake.
    """
    known = set(train_intents)
    unknown = sorted({i for i in test_intents if i is not None and i not in known})
    if not unknown:
        return test_intents, []
    missing = set(unknown)
    return [None if i in missing else i for i in test_intents], unknown


def keras_predict_latency(trained: TrainedIntentModel, texts: list[str]) -> dict[str, float]:
    """Latency of Keras `model.predict` on one message at a time (what serving must not do)."""
    lat = []
    for text in texts:
        x = trained.preprocessor.encode_batch([text])
        start = time.perf_counter()
        trained.keras_model.predict(x, verbose=0)
        lat.append((time.perf_counter() - start) * 1000)
    return {"keras_predict_ms_p50": float(np.median(lat)), "keras_predict_ms_p99": float(np.quantile(lat, 0.99))}


def evaluate(
    train_texts: list[str],
    train_intents: list[str | None],
    test_texts: list[str],
    test_intents: list[str | None],
    base_dir: Path | None,
    *,
    epochs: int = 12,
    seed: int = 0,
    report_dir: Path | None = None,
    baseline: bool = True,
    keras_latency_samples: int = 0,
    oos_share: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the standard pipeline on one split, in a temporary workspace.

    1. Fine-tune from the base (thresholds from a held-out part of the training rows only; for
       training rows without out-of-scope ones, for the expected out-of-scope share `oos_share`).
    2. Export the quantized TFLite model to a temp dir and load it as the web process would.
    3. Predict every test message one at a time through the serving path (timed).
    4. Score, and score Keras (float) on the same rows to record the cost of compression.
    5. Train and score the TF-IDF + logistic-regression baseline on the same split.
    """
    trained = fine_tune(train_texts, train_intents, base_dir, epochs=epochs, seed=seed, oos_share=oos_share, progress=progress)
    with tempfile.TemporaryDirectory() as tmp:
        export_info = export_trained(trained, Path(tmp) / "intent")
        served = IntentModel.load(Path(tmp) / "intent")
        preds, latency, confidence, top1 = [], [], [], []
        for text in test_texts:
            start = time.perf_counter()
            prediction = served.predict(text)
            latency.append((time.perf_counter() - start) * 1000)
            preds.append(prediction.intent)
            confidence.append(prediction.confidence)
            top1.append(prediction.ranking[0][0])
    result: dict[str, Any] = metrics(test_intents, preds)
    in_scope = [i for i, t in enumerate(test_intents) if t is not None]
    # Top-1 among intents with no threshold: what the threshold costs on in-scope rows.
    result["in_scope_top1_accuracy"] = float(np.mean([top1[i] == test_intents[i] for i in in_scope])) if in_scope else None
    keras_probs = trained.predict_proba(test_texts)
    keras_preds = [
        decide(p, trained.labels, trained.oos_index, trained.thresholds).intent for p in keras_probs
    ]
    keras_scores = metrics(test_intents, keras_preds)
    result.update(
        threshold=trained.thresholds["default"],
        per_intent_thresholds=len(trained.thresholds["per_intent"]),
        threshold_method=trained.thresholds["method"],
        oos_share=trained.info["oos_share"],
        # In-scope rows whose top intent was right but the threshold said "out of scope".
        in_scope_correct_rejected=int(sum(top1[i] == test_intents[i] and preds[i] is None for i in in_scope)),
        temperature=trained.temperature,
        n_train=len(train_texts),
        n_test=len(test_texts),
        train_seconds=trained.info["train_seconds"],
        latency_ms_p50=float(np.median(latency)),
        latency_ms_p99=float(np.quantile(latency, 0.99)),
        keras_float_accuracy=keras_scores["accuracy"],
        keras_float_in_scope_accuracy=keras_scores["in_scope_accuracy"],
        keras_float_oos_recall=keras_scores["oos_recall"],
        tflite_bytes=export_info["tflite_bytes"],
        from_base=base_dir is not None,
        best_epoch=trained.info["best_epoch"],
        n_holdout=trained.info["n_holdout"],
        holdout_accuracy=trained.info["holdout_accuracy"],
        holdout_history=trained.info["holdout_history"],
    )
    if baseline:
        start = time.monotonic()
        base_preds = baseline_predict(train_texts, train_intents, test_texts)
        scores = metrics(test_intents, base_preds)
        result.update(
            baseline_accuracy=scores["accuracy"],
            baseline_in_scope_accuracy=scores["in_scope_accuracy"],
            baseline_oos_recall=scores["oos_recall"],
            baseline_seconds=round(time.monotonic() - start, 1),
        )
    if keras_latency_samples:
        result.update(keras_predict_latency(trained, test_texts[:keras_latency_samples]))
    if report_dir is not None:
        write_report(Path(report_dir), test_intents, preds, confidence, result)
    return result
