"""Retraining: dataset → fine-tune from the base → evaluate → gate → publish.

`retrain(run_id)` is the one function the Celery task, the admin action and
`manage.py retrain` all call. TensorFlow is imported inside it, never at worker start.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from serving import registry
from knowledge.models import TrainingExample
from privacy.redaction import redact
from training.dataset import EVAL_FRACTION, holdout_split
from training.metrics import metrics, per_intent_accuracy, write_report
from training.models import ModelVersion, TrainingRun
from training.signals import model_published

log = logging.getLogger(__name__)

REGRESSION_FILE = "regression.json"
Status = TrainingRun.Status


class RetrainBusy(Exception):
    """Another retraining run holds the lock."""


# The key of the PostgreSQL advisory lock that one retraining run holds (any constant will do).
RETRAIN_LOCK_KEY = 7_424_311_017


@contextmanager
def retrain_lock() -> Iterator[None]:
    """One run at a time in the deployment; the lock is dropped when a killed worker dies.

    On PostgreSQL an advisory lock, held on a connection of its own for the whole run: workers
    on every machine see it (a file lock would be per machine, and the reaper on one machine
    would fail a run still training on another). On SQLite, one machine: a file lock.
    """
    if connection.vendor == "postgresql":
        with _advisory_lock():
            yield
        return
    path = registry.artifacts_dir() / "retrain.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrainBusy("another retraining run is in progress") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock() -> Iterator[None]:
    own = connection.get_new_connection(connection.get_connection_params())
    try:
        own.autocommit = True
        if not own.execute("SELECT pg_try_advisory_lock(%s)", [RETRAIN_LOCK_KEY]).fetchone()[0]:
            raise RetrainBusy("another retraining run is in progress")
        try:
            yield
        finally:
            own.execute("SELECT pg_advisory_unlock(%s)", [RETRAIN_LOCK_KEY])
    finally:
        own.close()


def lock_is_free() -> bool:
    try:
        with retrain_lock():
            return True
    except RetrainBusy:
        return False


def reap_dead_runs() -> int:
    """Mark runs whose worker died mid-training as failed (the active model never changed)."""
    running = TrainingRun.objects.filter(status=Status.RUNNING)
    if not running.exists() or not lock_is_free():
        return 0
    return running.update(status=Status.FAILED, error="the worker stopped during training", finished=timezone.now())


def create_run(trigger: str) -> TrainingRun:
    return TrainingRun.objects.create(trigger=trigger)


def dataset() -> tuple[list[str], list[str | None]]:
    """All labelled examples, redacted, deduplicated; None marks out-of-scope."""
    seen: dict[str, str | None] = {}
    rows = TrainingExample.objects.select_related("intent").order_by("pk")
    for example in rows.iterator():
        text = redact(example.text).strip()
        if text:
            seen[text] = None if example.is_oos or example.intent is None else example.intent.name
    return list(seen), list(seen.values())


def ticket_negatives(known: set[str]) -> list[str]:
    """Approved tickets' questions that name no intent, as out-of-scope examples for the classifier.

    Such a ticket answers a topic no curated intent covers; left out, the closed-world classifier
    claims its paraphrases for the nearest intent ("my card was billed twice" → refund status) and
    the reply policy never weighs the ticket. Only the classifier learns from them: the ticket
    space keeps them as tickets, never as out-of-scope examples.
    """
    from knowledge.models import Ticket

    questions = Ticket.objects.filter(status=Ticket.Status.APPROVED, intent="").values_list("question", flat=True)
    return [text for text in dict.fromkeys(redact(q).strip() for q in questions) if text and text not in known]


def fingerprint(texts: list[str], intents: list[str | None]) -> str:
    digest = hashlib.sha256()
    for text, intent in sorted(zip(texts, [i or "" for i in intents])):
        digest.update(f"{text}\t{intent}\n".encode())
    return digest.hexdigest()[:16]


def split(texts: list[str], intents: list[str | None]) -> tuple[list[int], list[int]]:
    """The retrain's held-out split: the project's one rule (`holdout_split`), EVAL_FRACTION of each intent."""
    return holdout_split(texts, intents, EVAL_FRACTION)


def score(model: Any, texts: list[str], intents: list[str | None], report_dir: Path | None = None) -> dict[str, Any]:
    """Accuracy (out-of-scope as one more class), macro-F1, OOS recall of a served model;
    with `report_dir`, also the per-intent report and confusion-matrix image there."""
    if not texts:
        return {"accuracy": None, "macro_f1": None, "oos_recall": None, "n": 0}
    predictions = [model.predict(t) for t in texts]
    predicted = [p.intent for p in predictions]
    figures = metrics(intents, predicted)
    result = {
        "accuracy": round(figures["accuracy"], 4),
        "macro_f1": round(figures["macro_f1"], 4),
        "oos_recall": None if figures["oos_recall"] is None else round(figures["oos_recall"], 4),
        "n": len(texts),
        "per_intent": per_intent_accuracy(intents, predicted),
    }
    if all(t is not None for t in intents):
        # A split without out-of-scope rows cannot reward a threshold, only charge it: there the
        # gate compares the models' top intents instead (`comparable`).
        top1 = metrics(intents, [p.ranking[0][0] if p.ranking else None for p in predictions])
        result.update(top1_accuracy=round(top1["accuracy"], 4), top1_macro_f1=round(top1["macro_f1"], 4))
    if report_dir is not None:
        write_report(report_dir, list(intents), predicted, [p.confidence for p in predictions], result)
    return result


def regression_set(known: set[str]) -> tuple[list[str], list[str | None]]:
    """The frozen regression examples whose intents still exist."""
    path = registry.artifacts_dir() / REGRESSION_FILE
    if not path.exists():
        return [], []
    rows = [r for r in json.loads(path.read_text()) if r[1] is None or r[1] in known]
    return [r[0] for r in rows], [r[1] for r in rows]


def extend_regression_set(texts: list[str], intents: list[str | None]) -> None:
    """Freeze held-out examples of a published run for intents the set does not cover yet."""
    path = registry.artifacts_dir() / REGRESSION_FILE
    rows = json.loads(path.read_text()) if path.exists() else []
    covered = {r[1] for r in rows}
    rows += [[t, i] for t, i in zip(texts, intents) if i not in covered]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    os.replace(tmp, path)


def allowed_drop(metric: float, n: int) -> float:
    """How much worse a candidate may score before the gate calls it worse.

    The configured tolerance, widened to one standard error of the difference between two
    models scored on the same n examples: on a 20-example held-out set one answer is 5 points,
    and a gate that cannot tell noise from harm would reject every retrain of a small bot.
    """
    noise = math.sqrt(2 * metric * (1 - metric) / n) if n else 1.0
    return max(settings.RETRAIN_GATE_TOLERANCE, noise)


def comparable(scores: dict[str, Any], metric: str) -> float | None:
    """The accuracy or macro-F1 the gate compares: with out-of-scope rows in the split, the
    thresholded one (out-of-scope as one more class); without, the top intent's (`top1_*`).

    Without out-of-scope rows every rejection counts as a mistake, so a model whose thresholds
    expect out-of-scope messages (training.calibration, open-world rule for data without such
    rows) would always look worse than one that rejects nothing, and could never replace it.
    """
    top1 = scores.get(f"top1_{metric}")
    return top1 if top1 is not None else scores.get(metric)


def gate(candidate: dict[str, Any], active: dict[str, Any] | None) -> tuple[bool, str]:
    """Publish only if the candidate is not worse than the active model on either split, and not
    far below the active model's own recorded held-out accuracy (`active["recorded"]`, from its
    manifest): a poisoned dataset makes both models bad on its own held-out split, so comparing
    them there alone lets it through (issue 14, item 13)."""
    if active is None:
        floor = settings.RETRAIN_MIN_ACCURACY
        accuracy = comparable(candidate["heldout"], "accuracy")
        if accuracy is not None and accuracy < floor:
            return False, f"held-out accuracy {accuracy} is below the minimum {floor} for a first model"
        return True, "no active model"
    closed_world = candidate["heldout"].get("top1_accuracy") is not None
    recorded = (active.get("recorded") or {}).get("top1_accuracy" if closed_world else "accuracy")
    accuracy = comparable(candidate["heldout"], "accuracy")
    if recorded is not None and accuracy is not None and accuracy < recorded - settings.RETRAIN_MAX_DROP_FROM_RECORDED:
        return False, (f"held-out accuracy {accuracy} is far below the active model's recorded {recorded} "
                       f"(more than {settings.RETRAIN_MAX_DROP_FROM_RECORDED} lower): the new data may be mislabelled")
    for split_name in ("heldout", "regression"):
        for metric in ("accuracy", "macro_f1"):
            new, old = comparable(candidate[split_name], metric), comparable(active[split_name], metric)
            if new is None or old is None:
                continue
            n_classes = len(candidate[split_name].get("per_intent") or {}) or 1
            if metric == "macro_f1" and candidate[split_name]["n"] < 10 * n_classes:
                # With a handful of examples per intent, one answer swings macro-F1 by many
                # points: judge small bots on accuracy alone.
                continue
            margin = allowed_drop(old, candidate[split_name]["n"])
            if new < old - margin:
                return False, f"{split_name} {metric} {new} is worse than the active model's {old} (margin {margin:.3f})"
    return True, "not worse than the active model"


def retrain(run_id: int) -> TrainingRun:
    """Run one retraining to the end; every outcome leaves the run row with its metrics.

    1. Take the lock (one run at a time); a run redelivered after its worker died is failed, not rerun.
    2. Build the dataset from labelled examples (redacted) and a stable held-out split.
    3. Fine-tune from the pretrained base on the training side; export the serving model.
    4. Score candidate and active model on the held-out split and the frozen regression set.
    5. Gate; when it passes, build the ticket index with the new encoder and publish the bundle.
    """
    run = TrainingRun.objects.get(pk=run_id)
    if run.status != Status.QUEUED:
        reap_dead_runs()
        return TrainingRun.objects.get(pk=run_id)
    try:
        with retrain_lock():
            return _retrain_locked(run)
    except RetrainBusy as exc:
        _finish(run, Status.FAILED, error=str(exc))
        return run


def _progress(run: TrainingRun, stage: str, fraction: float) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(stage=stage[:100], progress=round(fraction, 3))


def _finish(run: TrainingRun, status: str, **fields: Any) -> None:
    for key, value in {"status": status, "finished": timezone.now(), "progress": 1.0, **fields}.items():
        setattr(run, key, value)
    run.save()


def _retrain_locked(run: TrainingRun) -> TrainingRun:
    reap_dead_runs()
    run.status, run.started, run.worker_pid = Status.RUNNING, timezone.now(), os.getpid()
    run.save(update_fields=["status", "started", "worker_pid"])
    try:
        with registry.draft() as draft:
            return _train_and_publish(run, draft)
    except Exception as exc:
        log.exception("retraining run %s failed", run.pk)
        _finish(run, Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        return run


def _train_and_publish(run: TrainingRun, draft: registry.Draft) -> TrainingRun:
    from serving.intents import IntentModel
    from training.export import export_trained
    from training.fit import fine_tune

    started = time.monotonic()
    texts, intents = dataset()
    labels = {i for i in intents if i is not None}
    if len(labels) < 2:
        raise ValueError(f"need examples of at least 2 intents, found {len(labels)}")
    train, held = split(texts, intents)
    pick = lambda idx: ([texts[i] for i in idx], [intents[i] for i in idx])  # noqa: E731
    (train_x, train_y), (held_x, held_y) = pick(train), pick(held)
    ticket_x = ticket_negatives(set(texts))
    train_x, train_y = train_x + ticket_x, train_y + [None] * len(ticket_x)
    reg_x, reg_y = regression_set(labels)

    _progress(run, "fine-tuning from the base model", 0.05)
    trained = fine_tune(
        train_x, train_y, settings.BASE_MODEL_DIR, epochs=settings.RETRAIN_EPOCHS, min_steps=settings.RETRAIN_MIN_STEPS,
        oos_share=settings.INTENT_EXPECTED_OOS_SHARE,
        progress=lambda message, fraction: _progress(run, message, 0.05 + 0.8 * fraction),
    )
    _progress(run, "exporting the serving model", 0.87)
    export_info = export_trained(trained, draft.intent_dir)
    candidate_model = IntentModel.load(draft.intent_dir)

    _progress(run, "evaluating", 0.9)
    candidate = {
        "heldout": score(candidate_model, held_x, held_y, report_dir=draft.report_dir),
        "regression": score(candidate_model, reg_x, reg_y),
    }
    active_bundle = registry.active_bundle()
    active = None
    if active_bundle is not None:
        active = {
            "version": active_bundle.version,
            "heldout": score(active_bundle.intents, held_x, held_y),
            "regression": score(active_bundle.intents, reg_x, reg_y),
            "recorded": active_bundle.manifest.get("metrics", {}),
        }
    passed, reason = gate(candidate, active)
    metrics = {
        **candidate,
        "accuracy": candidate["heldout"]["accuracy"],
        "top1_accuracy": candidate["heldout"].get("top1_accuracy"),
        "macro_f1": candidate["heldout"]["macro_f1"],
        "oos_recall": candidate["heldout"]["oos_recall"],
        "gate": reason,
        "n_examples": len(texts),
        "n_intents": len(labels),
        "train_seconds": round(time.monotonic() - started, 1),
        "training": trained.info,
        "export": export_info,
    }
    if not passed:
        _finish(run, Status.REJECTED, metrics=metrics, active_metrics=active or {})
        return run

    _progress(run, "indexing tickets", 0.95)
    _build_index(candidate_model, draft.index_dir, texts, intents)
    version = timezone.now().strftime("%Y%m%d-%H%M%S") + f"-r{run.pk}"
    manifest = {
        "version": version,
        "data_fingerprint": fingerprint(texts, intents),
        "metrics": {k: metrics[k] for k in ("accuracy", "top1_accuracy", "macro_f1", "oos_recall", "n_examples", "n_intents")},
        "libraries": _library_versions(),
        "base_model": str(settings.BASE_MODEL_DIR.name),
        "run": run.pk,
    }
    with transaction.atomic():
        registry.publish(draft, manifest, activate=False)
        model_version = ModelVersion.objects.create(
            version=version, metrics=metrics, data_fingerprint=str(manifest["data_fingerprint"])
        )
    # Serving switches only once the version's row exists for every reader.
    registry.activate_version(version)
    model_published.send(sender=ModelVersion, version=model_version)
    extend_regression_set(held_x, held_y)
    _finish(run, Status.PUBLISHED, metrics=metrics, active_metrics=active or {}, version=model_version)
    return run


def _build_index(encoder: Any, directory: Path, texts: list[str], intents: list[str | None]) -> None:
    """The ticket index for the new encoder: its lexical part also learns the deployment's words
    from the training texts, and its answer threshold is calibrated against the out-of-scope ones."""
    from retrieval.ingest import build_ticket_index

    negatives = [text for text, intent in zip(texts, intents) if intent is None]
    build_ticket_index(encoder, directory, fit_texts=texts, negative_texts=negatives,
                       examples=list(zip(texts, intents, strict=True)))


def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("tensorflow-cpu", "ai-edge-litert", "faiss-cpu", "numpy")}
