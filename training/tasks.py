"""Celery tasks: each is one line calling a plain function that a command also calls."""

from celery import shared_task
from django.db import transaction

from training.models import TrainingRun


def enqueue(trigger: str) -> TrainingRun:
    """Create a queued run and hand it to the worker once the row is committed."""
    run = TrainingRun.objects.create(trigger=trigger)
    transaction.on_commit(lambda: retrain.delay(run.pk))
    return run


@shared_task(acks_late=False)
def retrain(run_id: int) -> str:
    # acks_late off: a worker killed mid-training must not have the run redelivered and rerun;
    # the dead run is marked failed by the next run or by the reaper below.
    from training.pipeline import retrain as run

    return run(run_id).status


@shared_task
def retrain_if_enough_new_data() -> int | None:
    from training.schedule import retrain_due

    with transaction.atomic():
        return enqueue("schedule").pk if retrain_due() else None


@shared_task
def reap_dead_runs() -> int:
    from training.pipeline import reap_dead_runs as reap

    return reap()
