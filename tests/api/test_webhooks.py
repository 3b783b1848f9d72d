"""Webhooks: subscriptions through the API, a signed delivery for each event of a conversation,
retries with the same id, the attempt log, replay, and disabling after repeated failures.

Deliveries go to a real HTTP server on this machine (tests/webhook_receiver.py) and are verified
with docs/webhooks.md's own recipe. Celery runs its tasks inline here (eager); the live-stack
test (tests/api/test_live.py) sends them through a real worker with real backoff.
"""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from api import webhooks
from api.models import Delivery, Webhook
from chat.models import Site
from config.celery import app
from tests.api_support import api_client, async_post, error_code, key_for
from tests.conftest import chat_communicator, new_client_id, receive_reply, receive_until
from tests.webhook_receiver import Receiver, documented_verify
from training import signals as training_signals
from training.models import ModelVersion

verify = documented_verify()


@pytest.fixture
def eager():
    """Celery tasks run inline, in the process that queues them."""
    app.conf.task_always_eager = True
    webhooks.subscriptions.reset()
    yield
    app.conf.task_always_eager = False
    webhooks.subscriptions.reset()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def subscribe(site: Site, url: str, events=("*",)) -> Webhook:
    return webhooks.subscribe(site, url, events)


def assert_signed(delivery, secret: str) -> None:
    assert verify(secret, delivery.headers["X-Signature"], delivery.body), delivery.headers
    assert delivery.headers["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_subscription_made_through_the_api_shows_its_secret_once(site):
    client = api_client(key_for(site, "admin"))
    response = client.post("/api/v1/webhooks/", {"url": "https://crm.example.com/hook", "events": ["message.bot"]},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["message.bot"]
    assert Webhook.objects.get().secret == created["secret"]
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert listed[0]["id"] == created["id"] and "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/v1/webhooks/{created['id']}/").json()


@pytest.mark.django_db
def test_a_subscription_needs_known_events_an_http_url_and_the_admin_scope(site):
    client = api_client(key_for(site, "admin"))
    response = client.post("/api/v1/webhooks/", {"url": "ftp://x", "events": ["message.sent", "*"]},
                           content_type="application/json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"url", "events"}
    response = api_client(key_for(site, "read,write")).get("/api/v1/webhooks/")
    assert response.status_code == 403 and error_code(response) == "scope_missing"


@pytest.mark.django_db
def test_all_events_is_stored_as_the_star_alone(site):
    assert subscribe(site, "https://x.example/h", ["message.bot", "*"]).events == ["*"]


@pytest.mark.django_db(transaction=True)
async def test_each_event_of_a_scripted_conversation_arrives_signed(site, fake_bundle, refund_intent, eager, receiver):
    fake_bundle.intents["how do refunds work"] = ("refund", 0.92, None)
    webhook = await database_sync_to_async(subscribe)(site, receiver.url)
    secret = await database_sync_to_async(key_for)(site, "read,write")

    customer = chat_communicator()
    await customer.connect()
    hello = (await receive_until(customer, "conversation"))[-1]
    await customer.send_json_to({"type": "message", "client_id": new_client_id(), "text": "how do refunds work"})
    assert (await receive_reply(customer))["intent"] == "refund"
    await customer.send_json_to({"type": "handoff", "reason": "customer asked"})
    await receive_reply(customer)
    await async_post(secret, f"/api/v1/conversations/{hello['id']}/messages/", {"text": "Hi, Sam here."})
    await async_post(secret, f"/api/v1/conversations/{hello['id']}/close/", {"resolution": "Explained refunds."})
    await customer.send_json_to({"type": "rating", "score": 5, "comment": "quick, thanks"})
    await receive_until(customer, "rating")
    await customer.disconnect()

    expected = ["conversation.started", "message.customer", "message.bot", "handoff.requested", "agent.joined",
                "conversation.closed", "rating.created"]
    received = await database_sync_to_async(receiver.wait)(lambda r: {x.json["event"] for x in r} >= set(expected))
    assert [e for e in receiver.events() if e in expected] == expected
    for delivery in received:
        assert_signed(delivery, webhook.secret)
        assert delivery.headers["X-Webhook-Id"] == delivery.json["id"]
    by_event = {r.json["event"]: r.json["data"] for r in received}
    assert by_event["conversation.started"]["conversation"]["id"] == hello["id"]
    assert by_event["message.customer"]["message"]["text"] == "how do refunds work"
    assert by_event["message.bot"]["message"]["intent"] == "refund"
    assert by_event["agent.joined"]["agent"] == "tests"
    assert by_event["conversation.closed"]["resolution"] == "Explained refunds."
    assert by_event["rating.created"]["score"] == 5
    assert await Delivery.objects.filter(status="delivered").acount() == len(received)


@pytest.mark.django_db
def test_a_receiver_that_fails_twice_gets_the_same_delivery_a_third_time(
        site, eager, django_capture_on_commit_callbacks):
    with Receiver(statuses=(500, 500)) as receiver:
        webhook = subscribe(site, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.emit(site.pk, "handoff.requested", {"reason": "test"})
        received = receiver.wait(lambda r: len(r) == 3)
    assert [r.answered for r in received] == [500, 500, 200]
    assert len({r.json["id"] for r in received}) == 1 and len({r.body for r in received}) == 1
    for delivery in received:
        assert_signed(delivery, webhook.secret)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert [(a.number, a.status) for a in delivery.log.all()] == [(1, 500), (2, 500), (3, 200)]
    assert all(a.response_ms is not None for a in delivery.log.all())


def test_retries_wait_longer_each_time(settings):
    settings.WEBHOOK_RETRY_SECONDS = 10
    assert [webhooks.backoff(n) for n in (1, 2, 3, 6)] == [10, 30, 90, 2430]


@pytest.mark.django_db
def test_a_dead_receiver_is_logged_as_an_error_and_retried_later(site):
    with Receiver() as gone:
        url = gone.url  # nothing listens there once it has stopped
    webhook = subscribe(site, url)
    [delivery] = webhooks.emit(site.pk, "handoff.requested", {})
    assert webhooks.attempt(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.last_status is None and "Refused" in delivery.last_error and delivery.next_attempt
    assert webhook.deliveries.get().log.get().error == delivery.last_error


@pytest.mark.django_db
def test_repeated_failures_disable_the_subscription_with_a_notice(site, settings, eager,
                                                                  django_capture_on_commit_callbacks, caplog):
    settings.WEBHOOK_MAX_ATTEMPTS, settings.WEBHOOK_DISABLE_AFTER = 2, 2
    with Receiver(statuses=(503,) * 10, every=True) as receiver:
        webhook = subscribe(site, receiver.url)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                webhooks.emit(site.pk, "message.bot", {})
        receiver.wait(lambda r: len(r) == 4)
    webhook.refresh_from_db()
    assert not webhook.is_active and "2 deliveries failed in a row" in webhook.disabled_reason
    assert "disabled" in caplog.text
    assert webhooks.emit(site.pk, "message.bot", {}) == []  # nothing more is recorded
    body = api_client(key_for(site, "admin")).get(f"/api/v1/webhooks/{webhook.pk}/").json()
    assert body["is_active"] is False and body["disabled_reason"] == webhook.disabled_reason


@pytest.mark.django_db
def test_a_success_clears_the_failure_count(site, settings):
    with Receiver() as receiver:
        webhook = subscribe(site, receiver.url)
        Webhook.objects.filter(pk=webhook.pk).update(failures=3)
        [delivery] = webhooks.emit(site.pk, "message.bot", {})
        assert webhooks.attempt(delivery.pk) == "delivered"
    assert Webhook.objects.get().failures == 0


@pytest.mark.django_db
def test_the_admin_replays_a_delivery_with_the_same_id_and_body(site, admin_client, eager,
                                                                 django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        subscribe(site, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            [delivery] = webhooks.emit(site.pk, "agent.joined", {"agent": "Sam"})
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post("/admin/api/delivery/", {"action": "replay", "_selected_action": [delivery.pk]})
        first, again = receiver.wait(lambda r: len(r) == 2)
    assert again.body == first.body and again.json["id"] == str(delivery.event_id)
    page = admin_client.get(f"/admin/api/delivery/{delivery.pk}/change/").content.decode()
    assert "agent.joined" in page


@pytest.mark.django_db
def test_the_admin_creates_a_subscription_and_shows_the_secret_once(site, admin_client):
    response = admin_client.post("/admin/api/webhook/add/", {
        "site": site.pk, "url": "https://crm.example.com/h", "events": ["handoff.requested"], "is_active": "on",
    }, follow=True)
    secret = Webhook.objects.get().secret
    assert any(secret in str(m) for m in response.context["messages"])
    assert secret not in admin_client.get(f"/admin/api/webhook/{Webhook.objects.get().pk}/change/").content.decode()


@pytest.mark.django_db
def test_only_the_sites_subscriptions_get_its_events_but_every_site_hears_of_a_new_model(site):
    other = Site.objects.create(public_key="other", name="Other")
    mine, theirs = subscribe(site, "https://a.example/h"), subscribe(other, "https://b.example/h")
    assert [d.webhook_id for d in webhooks.emit(site.pk, "message.bot", {})] == [mine.pk]
    version = ModelVersion.objects.create(version="20261201-r1", metrics={"accuracy": 0.9})
    training_signals.model_published.send(sender=ModelVersion, version=version)
    published = Delivery.objects.filter(event="model.published")
    assert sorted(published.values_list("webhook_id", flat=True)) == sorted([mine.pk, theirs.pk])
    assert '"version":"20261201-r1"' in published.first().body


@pytest.mark.django_db
def test_a_chat_without_subscriptions_records_nothing(site, django_user_model):
    from chat import handoff
    from chat.conversations import open_conversation

    conversation, _ = open_conversation(site, None)
    handoff.join(conversation.pk, User.objects.create_user("sam", is_staff=True))
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_the_sweeper_sends_a_delivery_whose_task_was_lost(site, eager):
    from datetime import timedelta

    from django.utils import timezone

    with Receiver() as receiver:
        subscribe(site, receiver.url)
        [delivery] = webhooks.emit(site.pk, "message.bot", {})  # its on-commit enqueue never ran
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt=timezone.now() - timedelta(minutes=5))
        assert webhooks.sweep() == 1
        receiver.wait(lambda r: len(r) == 1)
    assert Delivery.objects.get().status == "delivered"
    assert webhooks.sweep() == 0


@pytest.mark.django_db
def test_the_admin_pages_of_webhooks_deliveries_and_keys_render(site, admin_client):
    webhooks.emit(site.pk, "message.bot", {})  # no subscription: nothing
    webhook = subscribe(site, "https://crm.example.com/h")
    [delivery] = webhooks.emit(site.pk, "message.bot", {"message": {"text": "hi"}})
    key_for(site)
    for path in ("/admin/api/webhook/", f"/admin/api/webhook/{webhook.pk}/change/", "/admin/api/delivery/",
                 f"/admin/api/delivery/{delivery.pk}/change/", "/admin/api/apikey/", "/admin/api/apikey/add/"):
        assert admin_client.get(path).status_code == 200, path
