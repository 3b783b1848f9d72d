"""The satisfaction rating frame: validated, stored once per conversation, rate limited."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import Rating
from tests.conftest import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


async def connect(communicator):
    connected, _ = await communicator.connect()
    assert connected
    return await communicator.receive_json_from()


async def test_a_rating_is_stored_with_its_comment_and_confirmed(site, fake_bundle):
    ws = chat_communicator()
    hello = await connect(ws)
    await ws.send_json_to({"type": "rating", "score": 4, "comment": "  quick and friendly  "})
    assert await ws.receive_json_from() == {"type": "rating", "score": 4, "saved": True}
    rating = await database_sync_to_async(Rating.objects.select_related("conversation").get)()
    assert (rating.score, rating.comment, str(rating.conversation.public_id)) == (4, "quick and friendly", hello["id"])
    await ws.disconnect()


async def test_a_conversation_is_rated_once_and_the_first_rating_stays(site, fake_bundle):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "rating", "score": 2})
    assert (await ws.receive_json_from())["saved"] is True
    await ws.send_json_to({"type": "rating", "score": 5})
    assert (await ws.receive_json_from())["code"] == "already_rated"
    scores = await database_sync_to_async(lambda: list(Rating.objects.values_list("score", flat=True)))()
    assert scores == [2]
    await ws.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "rating", "score": 0},
        {"type": "rating", "score": 6},
        {"type": "rating", "score": "4"},
        {"type": "rating", "score": True},
        {"type": "rating", "score": 4.5},
        {"type": "rating"},
        {"type": "rating", "score": 3, "comment": ["not", "text"]},
        {"type": "rating", "score": 3, "comment": "nul \u0000 inside"},
    ],
)
async def test_a_bad_rating_gets_an_error_and_nothing_is_stored(site, fake_bundle, frame):
    ws = chat_communicator()
    await connect(ws)
    await ws.send_to(text_data=json.dumps(frame))
    assert (await ws.receive_json_from())["code"] == "invalid_rating"
    assert await database_sync_to_async(Rating.objects.count)() == 0
    await ws.disconnect()


async def test_a_too_long_comment_is_refused(site, fake_bundle, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "rating", "score": 3, "comment": "x" * 11})
    assert (await ws.receive_json_from())["code"] == "too_long"
    assert await database_sync_to_async(Rating.objects.count)() == 0
    await ws.disconnect()


async def test_ratings_count_against_the_conversations_message_budget(site, fake_bundle, settings):
    settings.CHAT_RATE_PER_MINUTE = 1
    ws = chat_communicator()
    await connect(ws)
    await ws.send_json_to({"type": "message", "client_id": "m-1", "text": "hello"})
    assert (await ws.receive_json_from())["type"] == "ack"
    await ws.send_json_to({"type": "rating", "score": 5})
    frame = await ws.receive_json_from()
    while frame["type"] != "error":  # the bot's answer to the message may come first
        frame = await ws.receive_json_from()
    assert frame["code"] == "rate_limited"
    assert await database_sync_to_async(Rating.objects.count)() == 0
    await ws.disconnect()


@pytest.mark.django_db
def test_the_review_queue_shows_the_conversations_rating(client, site):
    import datetime as dt

    from django.contrib.auth.models import User
    from django.utils import timezone

    from tests.insights_data import conversation, fallback

    conversation(site, timezone.now() - dt.timedelta(minutes=5), fallback("where is the shop?"), rating=1)
    from django.contrib.auth.models import Permission

    owner = User.objects.create_user("owner", password="pw-123-456-789", is_staff=True)
    owner.user_permissions.add(Permission.objects.get(codename="add_trainingexample"))
    client.force_login(owner)
    assert "customer rated the chat <b>1/5</b>" in client.get("/admin/review/").content.decode()
