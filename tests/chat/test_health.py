"""Liveness and readiness endpoints for load balancers."""

from __future__ import annotations

import hashlib

import pytest

from tests.stack import free_port


@pytest.mark.django_db
def test_liveness_answers_while_the_process_runs(client):
    for path in ("/livez", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200 and response.json() == {"ok": True}


@pytest.mark.django_db
def test_a_process_with_its_database_layer_and_model_is_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"database", "channel_layer", "model"}
    assert body["checks"]["model"]["detail"] == "none published"


@pytest.mark.django_db
def test_an_unreachable_channel_layer_makes_the_process_not_ready(client, settings):
    from config.settings import redis_channel_layer

    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(f"redis://127.0.0.1:{free_port()}/0")}
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["ok"] is False and "redis" in checks["channel_layer"]["detail"]
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_an_active_model_that_is_not_loaded_makes_the_process_not_ready(client):
    from serving.models import ActiveBundle, BundleArchive

    broken = b"not a bundle archive"
    BundleArchive.objects.create(version="20261201-broken", manifest={}, archive=broken, size=len(broken),
                                 sha256=hashlib.sha256(broken).hexdigest())
    ActiveBundle.objects.create(pk=1, bundle_id="20261201-broken")
    response = client.get("/readyz")
    assert response.status_code == 503
    model = response.json()["checks"]["model"]
    assert model["ok"] is False and "20261201-broken" in model["detail"]
