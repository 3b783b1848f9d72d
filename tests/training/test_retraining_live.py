"""The learning loop on the real stack: label in the review queue, retrain on the Celery worker,
hot swap in running web processes, reject a poisoned training set, roll back with `activate`."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.parse
import urllib.request
import uuid

import pytest
from websockets.sync.client import connect

from tests.conftest import need_redis_server
from tests.stack import RedisServer, Stack, wait_for

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    # Customers keep their socket open across several steps, so it is not a `with` block.
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"),
]

# A topic the demo shop knows nothing about (no intent, example or ticket mentions a registry), so
# only the retrain can teach it.
REGISTRY_ANSWER = "Create a wedding or gift registry under Account, Registries, and share its link with guests."
REGISTRY_EXAMPLES = [
    "how do I create a wedding registry", "can I set up a gift registry", "I want to make a wedding list",
    "do you offer a baby registry", "how can guests see my registry", "share my gift registry with family",
    "add items to my wedding registry", "start a registry for our wedding", "gift registry for my birthday",
    "can I edit my registry", "where is my wedding list", "how does the gift registry work",
]
PROBE = "how do I start a wedding registry with you"


class Customer:
    """A websocket customer that follows the protocol (ack, then the bot's answer)."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url, open_timeout=10)
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello["type"] == "conversation"
        self.id = hello["id"]

    def ask(self, text: str) -> dict:
        client_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        while True:
            frame = json.loads(self.ws.recv(timeout=20))
            if frame["type"] == "message" and frame["sender"] in ("bot", "system"):
                return frame

    def close(self) -> None:
        self.ws.close()


class Staff:
    """A logged-in admin session over plain HTTP (CSRF included), like a person in the browser."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{base}/admin/login/").read()
        self.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        assert any(c.name == "sessionid" for c in self.jar), "admin login failed"

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str) -> str:
        return self.opener.open(self.base + path).read().decode()

    def post(self, path: str, data: dict) -> None:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        self.opener.open(request).read()


@pytest.fixture(scope="module")
def stack():
    need_redis_server()  # two web processes and the worker meet in Redis
    with RedisServer() as redis, Stack(daphnes=2, celery=True, redis_url=redis.url,
                                       env={"BUNDLE_POLL_SECONDS": "1", "RETRAIN_EPOCHS": "10"}) as live:
        live.manage("retrain")  # the first model, so there is something to swap from
        live.shell("from django.contrib.auth.models import User; "
                   "User.objects.create_superuser('curator', 'c@example.com', 'curate-me-123')")
        yield live


def active_version(stack: Stack) -> str:
    versions = json.loads(stack.manage("model_versions", "--json").stdout)["versions"]
    return next(v["version"] for v in versions if v["active"])


def test_labelled_examples_retrain_on_the_worker_and_hot_swap_into_open_sessions(stack):
    first = active_version(stack)
    early = Customer(stack.ws_url(0))  # opened before the retrain, kept open throughout
    before = early.ask(PROBE)
    assert before["model_version"] == first and before.get("intent") != "wedding_registry"

    # Customers ask; a curator labels their messages in the review queue, one click each.
    for text in REGISTRY_EXAMPLES:  # different customers (one may be handed to a person)
        asker = Customer(stack.ws_url(1))
        asker.ask(text)
        asker.close()
    staff = Staff(stack.url(0).rstrip("/"), "curator", "curate-me-123")
    placeholders = ",".join(["%s"] * len(REGISTRY_EXAMPLES))
    ids = [row[0] for row in stack.sql(
        f"SELECT id FROM chat_message WHERE sender = 'customer' AND text IN ({placeholders})", REGISTRY_EXAMPLES)]
    assert len(ids) == len(REGISTRY_EXAMPLES)
    assert "how do I create a wedding registry" in staff.get("/admin/review/")
    staff.post(f"/admin/review/{ids[0]}/", {"action": "new", "name": "wedding_registry", "answer": REGISTRY_ANSWER})
    intent_id = stack.sql("SELECT id FROM chat_intent WHERE name = 'wedding_registry'")[0][0]
    for message_id in ids[1:]:
        staff.post(f"/admin/review/{message_id}/", {"action": "intent", "intent": intent_id})
    assert stack.sql("SELECT COUNT(*) FROM chat_trainingexample WHERE origin = 'review'")[0][0] == len(ids)

    queued = json.loads(stack.manage("retrain", "--async", "--json").stdout)
    status = wait_for(
        lambda: (s := stack.sql("SELECT status FROM training_trainingrun WHERE id = %s", [queued["run"]])[0][0])
        in ("published", "rejected", "failed") and s,
        240, "the worker did not finish the retraining run")
    assert status == "published", stack.sql("SELECT error, metrics FROM training_trainingrun WHERE id = %s", [queued["run"]])
    second = active_version(stack)
    assert second != first

    answer = wait_for(lambda: (f := early.ask(PROBE))["model_version"] == second and f, 20,
                      "the open session never switched to the new model")
    assert answer["intent"] == "wedding_registry" and answer["text"] == REGISTRY_ANSWER

    # A poisoned training set (labels shuffled) is rejected and the good model keeps answering.
    stack.shell(
        "import random; from knowledge.models import TrainingExample as T\n"
        "rows = list(T.objects.exclude(intent=None)); labels = [r.intent_id for r in rows]\n"
        "random.Random(7).shuffle(labels)\n"
        "for r, l in zip(rows, labels): r.intent_id = l\n"
        "T.objects.bulk_update(rows, ['intent'])")
    poisoned = json.loads(stack.manage("retrain", "--json", check=False).stdout.strip().splitlines()[-1])
    assert poisoned["status"] == "rejected", poisoned
    assert active_version(stack) == second
    assert early.ask(PROBE)["intent"] == "wedding_registry"

    # Rolling back switches every web process, without a restart.
    stack.manage("activate", first)
    late = Customer(stack.ws_url(1))
    for session in (early, late):
        frame = wait_for(lambda s=session: (f := s.ask(PROBE))["model_version"] == first and f, 20,
                         "a web process did not switch back")
        assert frame.get("intent") != "wedding_registry"
    early.close()
    late.close()
