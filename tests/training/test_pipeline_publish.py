"""A real retrain of the demo bot publishes a bundle with its evaluation, visible in the admin."""

import pytest
from django.core.management import call_command

from serving import registry
from training.models import ModelVersion, TrainingRun
from training.pipeline import create_run, retrain

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_retrain_publishes_a_bundle_with_metrics_and_a_confusion_matrix(admin_client, settings, tmp_path):
    call_command("load_demo", verbosity=0)
    run = retrain(create_run("test").pk)
    assert run.status == TrainingRun.Status.PUBLISHED, run.error or run.metrics.get("gate")
    version = ModelVersion.objects.get()
    assert registry.active_version() == version.version
    assert {"accuracy", "macro_f1", "oos_recall"} <= set(version.metrics)
    assert registry.current().predict("where is my parcel, it has not arrived").intent == "order_status"

    # Another node (its own, empty ARTIFACTS_DIR) fetches the active bundle from the shared store.
    settings.ARTIFACTS_DIR = tmp_path / "another-node"
    registry.registry.reset()
    assert registry.current().version == version.version
    assert registry.current().predict("where is my parcel, it has not arrived").intent == "order_status"

    page = admin_client.get(f"/admin/training/modelversion/{version.pk}/change/")
    assert b"Confusion matrix of" in page.content
    image = admin_client.get(f"/admin/training/modelversion/{version.pk}/confusion.png")
    assert image.status_code == 200 and b"".join(image.streaming_content).startswith(b"\x89PNG")

    # A second run on the same data is gated against the first and never breaks what serves.
    again = retrain(create_run("test").pk)
    assert again.status in (TrainingRun.Status.PUBLISHED, TrainingRun.Status.REJECTED)
    assert again.active_metrics["version"] == version.version
