"""When to retrain on our own: enough newly labelled examples since the last run."""

from django.conf import settings
from django.db import transaction

from chat.models import TrainingExample
from training.models import TrainingRun


def enqueue(trigger: str) -> TrainingRun:
    """Create a queued run and hand it to the worker once the row is committed."""
    from training import tasks

    run = TrainingRun.objects.create(trigger=trigger)
    transaction.on_commit(lambda: tasks.retrain.delay(run.pk))
    return run


def retrain_if_enough_new_data() -> int | None:
    if TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists():
        return None
    last = TrainingRun.objects.exclude(status=TrainingRun.Status.FAILED).order_by("-created").first()
    new = TrainingExample.objects.all()
    if last is not None:
        new = new.filter(created__gt=last.created)
    if new.count() < settings.RETRAIN_MIN_NEW_EXAMPLES:
        return None
    with transaction.atomic():
        return enqueue("schedule").pk
