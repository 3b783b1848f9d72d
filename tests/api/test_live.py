"""The integrations on the real stack (Daphne, a Celery worker, PostgreSQL, Redis), over HTTP:

with an API key, teach the bot a new intent and retrain through the API, then a new chat is
answered with it; an agent message posted through the API reaches the customer's socket; a
webhook receiver on this machine gets a signed delivery for each event of the scripted
conversation, verified with docs/webhooks.md's recipe, and the retries after it answered 500 twice.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import need_redis_server
from tests.stack import RedisServer, Stack, wait_for
from tests.webhook_receiver import Receiver, documented_verify

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"),
]

# A topic the demo covers with no intent and no ticket, so only the new intent can answer it.
WHOLESALE = {
    "name": "wholesale",
    "description": "Wholesale and resellers",
    "answer": "Shops can resell our ceramics: apply for a wholesale account at wholesale@example.com.",
    "examples": [
        "do you sell wholesale", "can I become a reseller", "I want to resell your mugs in my store",
        "wholesale prices please", "do you have a wholesale program", "how do I open a wholesale account",
        "reseller discount", "I run a shop and want to stock your products", "are you looking for resellers",
        "wholesale catalogue", "can my store carry your ceramics", "trade prices for retailers",
    ],
}
PROBE = "do you sell wholesale to resellers?"
EVENTS = ["conversation.started", "message.customer", "message.bot", "handoff.requested", "agent.joined",
          "conversation.closed", "rating.created"]


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.base}/api/v1/{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


class Customer:
    def __init__(self, url: str) -> None:
        self.ws = connect(url, open_timeout=10)
        self.hello = self.next(lambda f: f["type"] == "conversation")
        self.id = self.hello["id"]

    def next(self, predicate: Any, timeout: float = 30) -> dict:
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            if predicate(frame):
                return frame

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def ask(self, text: str) -> dict:
        self.send({"type": "message", "client_id": str(uuid.uuid4()), "text": text})
        return self.next(lambda f: f["type"] == "message" and f["sender"] in ("bot", "system"))


@pytest.fixture(scope="module")
def stack():
    need_redis_server()  # the channel layer and the worker meet in a private Redis
    with RedisServer() as redis, Stack(daphnes=1, celery=True, redis_url=redis.url, env={
            "BUNDLE_POLL_SECONDS": "1", "RETRAIN_EPOCHS": "10", "WEBHOOK_RETRY_SECONDS": "0.5",
            # Every event reads the subscriptions, so one made a moment ago is seen at once.
            "WEBHOOK_CACHE_SECONDS": "0"}) as live:
        yield live


def test_a_key_retrains_the_bot_and_a_receiver_gets_every_event_signed(stack):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(stack.url(0, "/api/v1/conversations/"), timeout=10)
    assert refused.value.code == 401
    key = stack.manage("create_api_key", "demo", "--scopes", "read,write,admin").stdout.strip()
    api = Api(stack.url(0).rstrip("/"), key)

    with Receiver(statuses=(500, 500)) as receiver:
        status, webhook = api.call("POST", "webhooks/", {"url": receiver.url, "events": ["*"]})
        assert status == 201, webhook

        customer = Customer(stack.ws_url(0))
        assert customer.ask("hello there")["sender"] in ("bot", "system")
        customer.send({"type": "handoff", "reason": "customer asked"})
        customer.next(lambda f: f["type"] == "status" and f["status"] == "waiting")
        status, posted = api.call("POST", f"conversations/{customer.id}/messages/", {"text": "Hi, Sam here."})
        assert status == 201, posted
        said = customer.next(lambda f: f["type"] == "message" and f["sender"] == "agent")
        assert said["text"] == "Hi, Sam here."
        assert api.call("POST", f"conversations/{customer.id}/close/", {"resolution": "Greeted."})[0] == 200
        customer.send({"type": "rating", "score": 4})
        customer.next(lambda f: f["type"] == "rating")
        customer.ws.close()

        received = receiver.wait(lambda r: {x.json["event"] for x in r if x.answered == 200} >= set(EVENTS), 60)
        verify = documented_verify()
        assert all(verify(webhook["secret"], r.headers["X-Signature"], r.body) for r in received)
        first = [r for r in received if r.json["id"] == received[0].json["id"]]
        assert [r.answered for r in first] == [500, 500, 200]  # retried by the worker, same id
        assert first[0].json["event"] == "conversation.started"
        assert {r.json["data"].get("conversation", {}).get("id") for r in received
                if "conversation" in r.json["data"] and isinstance(r.json["data"]["conversation"], dict)} == {
            customer.id}
        status, deliveries = api.call("GET", f"webhooks/{webhook['id']}/deliveries/")
        retried = next(d for d in deliveries["results"] if d["id"] == first[0].json["id"])
        assert (retried["status"], retried["attempts"], retried["last_status"]) == ("delivered", 3, 200)

        # Teach the bot through the API, retrain through the API, and a new chat is answered with it.
        status, created = api.call("POST", "intents/", WHOLESALE)
        assert status == 201, created
        status, run = api.call("POST", "model-versions/retrain/")
        assert status == 202, run
        finished = wait_for(
            lambda: (r := api.call("GET", f"training-runs/{run['id']}/")[1])["status"] in (
                "published", "rejected", "failed") and r, 600, "the worker did not finish the retrain", every=3)
        assert finished["status"] == "published", finished
        versions = api.call("GET", "model-versions/")[1]["results"]
        assert [v["version"] for v in versions if v["active"]] == [finished["version"]]
        answer = wait_for(lambda: (f := Customer(stack.ws_url(0)).ask(PROBE))[
            "model_version"] == finished["version"] and f, 30, "the web process never served the new model")
        assert answer["intent"] == "wholesale" and answer["text"] == WHOLESALE["answer"], answer

        published = receiver.wait(lambda r: any(x.json["event"] == "model.published" for x in r), 30)
        event = next(r for r in published if r.json["event"] == "model.published")
        assert event.json["data"]["version"] == finished["version"]
        assert verify(webhook["secret"], event.headers["X-Signature"], event.body)
