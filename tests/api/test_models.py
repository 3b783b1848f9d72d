"""Model versions through the API: list, retrain (queued on the worker), activate."""

import pytest

from serving import registry
from training.models import ModelVersion, TrainingRun
from tests.api_support import api_client, error_code, key_for

pytestmark = pytest.mark.django_db


def test_a_retrain_is_queued_for_the_worker_once_committed(site, django_capture_on_commit_callbacks):
    client = api_client(key_for(site, "read,admin"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/model-versions/retrain/")
    assert response.status_code == 202
    run = TrainingRun.objects.get()
    assert response.json()["id"] == run.pk and run.status == "queued" and run.trigger == "api"
    assert len(callbacks) == 1  # retrain.delay, sent only after the row is committed
    assert client.get(f"/api/v1/training-runs/{run.pk}/").json()["status"] == "queued"


def test_versions_list_with_the_active_one_marked(site, settings):
    ModelVersion.objects.create(version="20261201-a", metrics={"accuracy": 0.9, "heldout": {"big": 1}})
    ModelVersion.objects.create(version="20261201-b", metrics={"accuracy": 0.91})
    (settings.ARTIFACTS_DIR).mkdir(parents=True)
    (settings.ARTIFACTS_DIR / "ACTIVE").write_text("20261201-a\n")
    body = api_client(key_for(site, "read")).get("/api/v1/model-versions/").json()
    assert [(v["version"], v["active"]) for v in body["results"]] == [("20261201-b", False), ("20261201-a", True)]
    assert body["results"][1]["metrics"]["accuracy"] == 0.9 and "heldout" not in body["results"][1]["metrics"]


def test_activating_a_version_without_a_loadable_bundle_is_a_409_and_changes_nothing(site):
    ModelVersion.objects.create(version="20261201-gone")
    response = api_client(key_for(site, "admin")).post("/api/v1/model-versions/20261201-gone/activate/")
    assert response.status_code == 409 and error_code(response) == "not_loadable"
    assert registry.active_version() == ""


def test_activating_an_unknown_version_is_a_404(site):
    response = api_client(key_for(site, "admin")).post("/api/v1/model-versions/nope/activate/")
    assert response.status_code == 404 and error_code(response) == "not_found"
