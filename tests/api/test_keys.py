"""API keys: bearer authentication, scopes, revocation, per-key rate limits, the one error shape."""

import hashlib

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from api.keys import find_key, revoke
from api.models import ApiKey
from tests.api_support import api_client, error_code, key_for

pytestmark = pytest.mark.django_db


def test_a_request_without_a_key_gets_401_in_the_error_shape(site):
    response = Client().get("/api/v1/conversations/")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer cbk_nothere_abc", "Bearer ", "Basic dXNlcjpwdw==", "Bearer not-a-key"])
def test_a_wrong_or_malformed_key_gets_401(site, header):
    response = Client(headers={"Authorization": header}).get("/api/v1/intents/")
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_a_valid_key_reads(site):
    response = api_client(key_for(site, "read")).get("/api/v1/intents/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_only_the_hash_of_a_key_is_stored(site):
    secret = key_for(site, "read")
    row = ApiKey.objects.get()
    assert secret not in (row.hashed, row.prefix, row.scopes)
    assert row.hashed == hashlib.sha256(secret.encode()).hexdigest()


def test_a_key_with_a_changed_character_is_refused(site):
    secret = key_for(site, "read")
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert find_key(forged) is None
    assert api_client(forged).get("/api/v1/intents/").status_code == 401


def test_a_read_key_cannot_write(site):
    response = api_client(key_for(site, "read")).post("/api/v1/intents/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert error_code(response) == "scope_missing"


def test_a_write_key_cannot_read_without_the_read_scope(site):
    response = api_client(key_for(site, "write")).get("/api/v1/intents/")
    assert response.status_code == 403


def test_retraining_needs_the_admin_scope(site):
    response = api_client(key_for(site, "read,write")).post("/api/v1/model-versions/retrain/")
    assert response.status_code == 403 and error_code(response) == "scope_missing"


def test_a_revoked_key_gets_401(site):
    secret = key_for(site, "read")
    revoke(ApiKey.objects.get())
    assert api_client(secret).get("/api/v1/intents/").status_code == 401


def test_a_key_of_a_switched_off_site_gets_401(site):
    secret = key_for(site, "read")
    site.is_active = False
    site.save()
    assert api_client(secret).get("/api/v1/intents/").status_code == 401


def test_a_key_over_its_rate_gets_429_with_retry_after(site):
    client = api_client(key_for(site, "read", rate_per_minute=3))
    codes = [client.get("/api/v1/intents/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/intents/")
    assert error_code(response) == "throttled" and int(response["Retry-After"]) > 0
    # Another key of the same site has its own budget.
    assert api_client(key_for(site, "read")).get("/api/v1/intents/").status_code == 200


def test_the_command_prints_a_new_key_once_and_stores_its_hash(site, capsys):
    call_command("create_api_key", site.public_key, "--scopes", "read,write,admin")
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("cbk_")
    key = ApiKey.objects.get()
    assert key.scope_set() == {"read", "write", "admin"} and secret not in key.hashed
    assert api_client(secret).post("/api/v1/model-versions/retrain/").status_code == 202


def test_the_command_refuses_an_unknown_scope_or_site(site):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", site.public_key, "--scopes", "read,everything")
    with pytest.raises(CommandError, match="no site"):
        call_command("create_api_key", "nope")
    assert not ApiKey.objects.exists()


def test_the_admin_creates_a_key_shows_it_once_and_revokes_it(site, admin_client):
    response = admin_client.post("/admin/api/apikey/add/", {
        "site": site.pk, "name": "Helpdesk", "scope_choices": ["read", "write"], "rate_per_minute": "",
        "agent": "",
    }, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split(": ")[-1] for m in shown if "cbk_" in m)
    key = ApiKey.objects.get()
    assert key.scopes == "read,write" and key.hashed != secret
    assert api_client(secret).get("/api/v1/intents/").status_code == 200
    assert secret not in admin_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()

    admin_client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert api_client(secret).get("/api/v1/intents/").status_code == 401


def test_unknown_api_paths_answer_404_in_the_error_shape(site):
    response = api_client(key_for(site)).get("/api/v1/nothing-here/")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_agent_messages_come_from_the_keys_service_user_who_cannot_log_in(site):
    from api.keys import agent_user

    key_for(site)
    user = agent_user(ApiKey.objects.get())
    assert user.first_name == "tests" and not user.is_active
    assert agent_user(ApiKey.objects.get()) == user
    assert User.objects.filter(username__startswith="api-").count() == 1
