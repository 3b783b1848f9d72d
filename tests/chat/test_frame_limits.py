"""Rate limits cover every frame that stores something and last their whole window, whatever
the client does; an email must be an email (issue 14, item 6)."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, Visitor
from tests.conftest import chat_communicator, new_client_id

pytestmark = [pytest.mark.django_db(transaction=True)]


async def open_chat(**kwargs):
    ws = chat_communicator(**kwargs)
    await ws.connect()
    hello = await ws.receive_json_from()
    assert hello["type"] == "conversation"
    return ws, hello


async def answer(ws, frame: dict, kinds: tuple[str, ...]) -> str:
    """Send `frame`; the code of the error it earned, or the first frame type in `kinds`."""
    await ws.send_json_to(frame)
    while True:
        reply = await ws.receive_json_from()
        if reply["type"] == "error":
            return reply["code"]
        if reply["type"] in kinds:
            return reply["type"]


async def test_email_frames_count_against_the_chats_rate_limit(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 3
    ws, _ = await open_chat(client=("192.0.2.81", 1))
    results = [await answer(ws, {"type": "email", "email": f"pat{i}@example.com"}, ("email",)) for i in range(6)]
    assert results == ["email"] * 3 + ["rate_limited"] * 3
    system = await database_sync_to_async(Message.objects.filter(sender="system").count)()
    assert system == 3
    await ws.disconnect()


async def test_handoff_and_feedback_frames_share_the_same_budget_as_messages(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 2
    ws, _ = await open_chat(client=("192.0.2.82", 1))
    assert await answer(ws, {"type": "message", "client_id": new_client_id(), "text": "hi"}, ("ack",)) == "ack"
    assert await answer(ws, {"type": "handoff", "reason": "please"}, ("status",)) == "status"
    assert await answer(ws, {"type": "handoff", "reason": "again"}, ("status",)) == "rate_limited"
    assert await answer(ws, {"type": "feedback", "seq": 2, "value": "up"}, ("feedback",)) == "rate_limited"
    await ws.disconnect()


async def test_new_conversations_from_one_address_do_not_get_a_fresh_budget(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_IP_PER_MINUTE = 4
    results = []
    for _ in range(3):
        ws, _ = await open_chat(client=("192.0.2.83", 1))
        for _ in range(2):
            results.append(await answer(ws, {"type": "message", "client_id": new_client_id(), "text": "hi"}, ("ack",)))
        await ws.disconnect()
    assert results == ["ack"] * 4 + ["rate_limited"] * 2


@pytest.mark.parametrize("email", ["<svg/onload=alert(3)>@x.io", "a b@example.com", "pat@", "pat@example.com\x00"])
async def test_an_email_that_is_not_an_address_is_refused_and_not_saved(site, fake_bundle, email):
    ws, _ = await open_chat(client=("192.0.2.84", 1))
    assert await answer(ws, {"type": "email", "email": email}, ("email",)) == "invalid_email"
    saved = await database_sync_to_async(lambda: list(Visitor.objects.exclude(email="").values_list("email", flat=True)))()
    assert saved == []
    await ws.disconnect()
