"""When to retrain on our own: enough newly labelled examples since the last run."""

from django.conf import settings

from knowledge.models import TrainingExample
from training.models import TrainingRun


def retrain_due() -> bool:
    """No run queued or running, and RETRAIN_MIN_NEW_EXAMPLES labelled since the last one."""
    if TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists():
        return False
    last = TrainingRun.objects.exclude(status=TrainingRun.Status.FAILED).order_by("-created").first()
    new = TrainingExample.objects.all()
    if last is not None:
        new = new.filter(created__gt=last.created)
    return new.count() >= settings.RETRAIN_MIN_NEW_EXAMPLES
