"""The handoff across processes: the customer on Daphne A, the agent on Daphne B, Redis between them."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import need_postgres, need_redis_server
from tests.stack import RedisServer, Stack

pytestmark = [pytest.mark.services]

TIMEOUT = 30


@pytest.fixture
def stack():
    need_postgres()
    need_redis_server()
    with RedisServer() as redis, Stack(2, redis_url=redis.url) as live:
        live.shell(
            "from django.contrib.auth.models import User\n"
            "User.objects.create_user('alice', password='agent-pass-4821', is_staff=True, first_name='Alice')\n"
            "User.objects.create_user('mallory', password='visitor-pass-4821')\n"
        )
        yield live


def login(stack: Stack, index: int, username: str, password: str) -> str:
    """The session cookie, through the login form (or straight into the session store without one)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        page = opener.open(stack.url(index, "/accounts/login/"), timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        body = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": token}).encode()
        opener.open(urllib.request.Request(stack.url(index, "/accounts/login/"), data=body,
                                           headers={"Referer": stack.url(index, "/accounts/login/")}), timeout=10)
    except (urllib.error.HTTPError, AttributeError):
        pass  # no login page yet, or a redirect target that does not exist: the cookie may be set anyway
    cookies = {c.name: c.value for c in jar}
    if "sessionid" in cookies:
        return cookies["sessionid"]
    out = stack.shell(
        "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY\n"
        "from django.contrib.auth.models import User\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        f"user = User.objects.get(username={username!r})\n"
        "session = SessionStore()\n"
        "session[SESSION_KEY] = str(user.pk)\n"
        "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "session[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "session.create()\n"
        "print('SESSION=' + session.session_key)\n"
    )
    return out.rsplit("SESSION=", 1)[1].strip()


async def agent_socket(stack: Stack, index: int, session: str):
    origin = f"http://127.0.0.1:{stack.port(index)}"
    return await connect(stack.ws_url(index, "/ws/agent/"), open_timeout=10, ping_interval=None,
                         additional_headers={"Origin": origin, "Cookie": f"sessionid={session}"})


async def next_frame(ws, match) -> dict:
    """Frames up to the first one `match` accepts (anything else is skipped)."""
    deadline = time.monotonic() + TIMEOUT
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        seen.append(frame)
        if match(frame):
            return frame


def test_a_customer_on_one_process_and_an_agent_on_another_hand_off_and_close_with_a_ticket(stack):
    session = login(stack, 1, "alice", "agent-pass-4821")

    async def scenario() -> tuple[str, list[dict]]:
        customer = await connect(stack.ws_url(0), open_timeout=10, ping_interval=None)
        hello = json.loads(await customer.recv())
        conversation = hello["id"]
        customer_frames: list[dict] = []

        def mine(kind, **fields):
            def match(frame):
                customer_frames.append(frame)
                return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())
            return match

        await customer.send(json.dumps({"type": "message", "client_id": "h-1", "text": "I want to talk to a person"}))
        await next_frame(customer, mine("ack", client_id="h-1"))
        await next_frame(customer, mine("status", status="waiting"))

        agent = await agent_socket(stack, 1, session)
        queue = await next_frame(agent, lambda f: f["type"] == "queue")
        waiting = [row for row in queue["conversations"] if row["id"] == conversation]
        assert waiting and waiting[0]["status"] == "waiting"

        await agent.send(json.dumps({"type": "join", "conversation": conversation}))
        await next_frame(agent, lambda f: f["type"] == "history" and f["conversation"] == conversation)
        await next_frame(customer, mine("status", status="human"))

        await agent.send(json.dumps({"type": "message", "conversation": conversation, "text": "Hi, Alice here."}))
        said = await next_frame(customer, mine("message", sender="agent"))
        assert said["text"] == "Hi, Alice here."

        await customer.send(json.dumps({"type": "message", "client_id": "h-2", "text": "My parcel is late"}))
        ack = await next_frame(customer, mine("ack", client_id="h-2"))
        relayed = await next_frame(agent, lambda f: f["type"] == "message" and f.get("client_id") == "h-2")
        assert relayed["sender"] == "customer" and relayed["conversation"] == conversation

        # The customer's consumer handles the agent's next frame only after it finished with h-2,
        # so a bot answer to h-2 would arrive before this one.
        await agent.send(json.dumps({"type": "message", "conversation": conversation, "text": "Reshipping it."}))
        await next_frame(customer, mine("message", sender="agent", text="Reshipping it."))
        after_ack = customer_frames[[f.get("client_id") for f in customer_frames].index("h-2"):]
        assert not [f for f in after_ack if f.get("type") == "message" and f.get("sender") == "bot"]

        await agent.send(json.dumps({"type": "close", "conversation": conversation,
                                     "resolution": "Reshipped the parcel with express delivery."}))
        await next_frame(customer, mine("status", status="closed"))
        await customer.close()
        await agent.close()
        return conversation, ack

    conversation, ack = asyncio.run(scenario())
    bot_after = stack.sql(
        "SELECT COUNT(*) FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id "
        "WHERE c.public_id = %s AND m.sender = 'bot' AND m.seq > %s", [conversation, ack["seq"]])
    assert bot_after == [(0,)]
    tickets = stack.sql(
        "SELECT t.status, t.resolution FROM retrieval_ticket t JOIN chat_conversation c ON c.id = t.conversation_id "
        "WHERE c.public_id = %s", [conversation])
    assert tickets == [("proposed", "Reshipped the parcel with express delivery.")]


def test_a_session_without_staff_rights_is_refused_at_the_agent_socket(stack):
    session = login(stack, 1, "mallory", "visitor-pass-4821")

    async def attempt() -> int:
        try:
            ws = await agent_socket(stack, 1, session)
        except InvalidStatus as exc:
            return exc.response.status_code
        await ws.close()
        return 101

    assert asyncio.run(attempt()) == 403
