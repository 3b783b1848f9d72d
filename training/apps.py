from typing import Any

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from knowledge.signals import training_data_removed

        training_data_removed.connect(_retrain_without_removed_data, dispatch_uid="training.retrain_on_removal")


def _retrain_without_removed_data(sender: Any, reason: str, **kwargs: Any) -> None:
    from training.tasks import enqueue

    enqueue(reason)
