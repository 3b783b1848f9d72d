"""Never stranded: a customer who asks for a person when nobody can come is told so, and keeps a bot."""

from datetime import UTC, datetime, time

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from chat import handoff, hours
from chat.models import Conversation, Message, Site
from tests.conftest import chat_communicator, receive_reply
from tests.chat.test_handoff import agent_communicator, next_of, say, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

# Tuesday 1 December 2026, 20:30 in Berlin (19:30 UTC): after closing time.
TUESDAY_EVENING = datetime(2026, 12, 1, 19, 30, tzinfo=UTC)


def berlin_shop(**fields) -> Site:
    values = {"name": "Shop", "public_key": "shop", "time_zone": "Europe/Berlin", "opens_at": time(9),
              "closes_at": time(17), "open_days": "12345", **fields}
    return Site(**values)


def test_a_site_without_opening_hours_is_always_open():
    assert hours.is_open(Site(name="Shop"), TUESDAY_EVENING)
    assert hours.next_opening(Site(name="Shop"), TUESDAY_EVENING) is None


def test_business_hours_are_read_in_the_sites_time_zone():
    shop = berlin_shop()
    assert hours.is_open(shop, datetime(2026, 12, 1, 15, 59, tzinfo=UTC))  # 16:59 in Berlin
    assert not hours.is_open(shop, datetime(2026, 12, 1, 16, 0, tzinfo=UTC))  # 17:00 in Berlin
    assert not hours.is_open(shop, datetime(2026, 12, 5, 11, 0, tzinfo=UTC))  # a Saturday


def test_the_next_opening_skips_closed_days():
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    opening = hours.next_opening(berlin_shop(), friday_evening)
    assert opening is not None and (opening.isoweekday(), opening.hour) == (1, 9)
    assert hours.describe_opening(berlin_shop(), friday_evening) == "Monday at 09:00 (Europe/Berlin time)"
    assert hours.describe_opening(berlin_shop(), TUESDAY_EVENING) == "tomorrow at 09:00 (Europe/Berlin time)"


def test_hours_that_run_past_midnight_are_open_on_both_sides_of_it():
    night = Site(name="Night desk", opens_at=time(22), closes_at=time(6), open_days="1234567")
    assert hours.is_open(night, datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
    assert hours.is_open(night, datetime(2026, 12, 1, 5, 0, tzinfo=UTC))
    assert not hours.is_open(night, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


def test_a_bad_time_zone_or_day_list_is_refused_with_a_clear_error():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not a time zone"):
        berlin_shop(time_zone="Mars/Olympus").clean_fields()
    with pytest.raises(ValidationError, match="ISO numbers"):
        berlin_shop(open_days="158").clean_fields()


@pytest.fixture
def closed_site(site):
    """The test site with business hours that are over for the day, whatever time the test runs."""
    now = datetime.now(UTC)
    site.time_zone = "UTC"
    site.open_days = str(now.isoweekday())  # open today only, in an hour that has passed or not begun
    site.opens_at, site.closes_at = (time(0, 0), time(0, 1)) if now.time() >= time(0, 2) else (time(23, 0), time(23, 1))
    site.save()
    return site


async def test_outside_business_hours_the_customer_hears_at_once_when_people_are_back(closed_site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    status = await next_of(customer, "status")
    assert status == {"type": "status", "status": "waiting", "offer_email": True}
    notice = await receive_reply(customer)
    assert "a person will be back" in notice["text"] and "(UTC time)" in notice["text"]
    assert "Leave your email" in notice["text"]
    await customer.disconnect()


async def test_the_bot_keeps_answering_every_message_while_the_chat_waits(site, fake_bundle, refund_intent):
    fake_bundle.intents["how do refunds work"] = ("refund", 0.92, None)
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    await customer.send_json_to({"type": "message", "client_id": "h1", "text": "I want to talk to a real human"})
    assert (await next_of(customer, "status"))["status"] == "waiting"
    assert "No agent is online" in (await receive_reply(customer))["text"]

    still = await say(customer, "hello? is anyone there?", "h2")
    assert still["sender"] == "bot" and still["source"] == "fallback"
    assert "A person will see your message" in still["text"] and still["suggestions"] == []
    answer = await say(customer, "How do refunds work", "h3")
    assert (answer["source"], answer["text"]) == ("answer", refund_intent.answer)
    again = await say(customer, "talk to a person please", "h4")
    assert again["sender"] == "system" and "No agent is online" in again["text"]
    conversation = await database_sync_to_async(Conversation.objects.get)(messages__client_id="h4")
    assert conversation.status == "waiting"
    await customer.disconnect()


async def test_a_person_who_joins_a_waiting_chat_takes_over_from_the_bot(site, fake_bundle):
    agent = await database_sync_to_async(User.objects.create_user)("sam", password="pw-for-tests-only", is_staff=True)
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    await next_of(customer, "status", status="waiting")
    await receive_reply(customer)  # nobody is online
    assert (await say(customer, "anyone?", "w1"))["sender"] == "bot"
    console = agent_communicator(await database_sync_to_async(session_cookie)(agent))
    await console.connect()
    await console.send_json_to({"type": "join", "conversation": hello["id"]})
    await next_of(customer, "status", status="human")
    assert "joined the chat" in (await receive_reply(customer))["text"]
    await customer.send_json_to({"type": "message", "client_id": "w2", "text": "great, hi"})
    assert (await customer.receive_json_from())["type"] == "ack"
    await next_of(console, "message", client_id="w2")
    assert await customer.receive_nothing(timeout=0.5), "the bot must stay silent once a person owns the chat"
    assert not await database_sync_to_async(
        Message.objects.filter(sender="bot", reply_to__client_id="w2").exists)()
    await console.disconnect()
    await customer.disconnect()


async def test_the_customer_can_stop_waiting_and_go_back_to_the_bot(site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    await next_of(customer, "status", status="waiting")
    await receive_reply(customer)
    await customer.send_json_to({"type": "stop_waiting"})
    assert (await next_of(customer, "status"))["status"] == "bot"
    notice = await receive_reply(customer)
    assert notice["sender"] == "system" and "with the bot again" in notice["text"]
    conversation = await database_sync_to_async(Conversation.objects.get)(public_id=hello["id"])
    assert (conversation.status, conversation.waiting_since) == ("bot", None)
    await customer.disconnect()


async def test_frustration_gets_the_offer_of_a_person_not_a_silent_queue(site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    offer = await say(customer, "you are a useless stupid bot", "f1")
    assert offer["source"] == "offer" and offer["suggestions"] == ["Talk to a person"]
    conversation = await database_sync_to_async(Conversation.objects.get)(public_id=hello["id"])
    assert conversation.status == "bot"
    await customer.disconnect()


def waiting_chat(site: Site, *, left: bool = False) -> Conversation:
    from chat import conversations

    conversation = conversations.open_conversation(site, None)[0]
    handoff.request(conversation.pk, "customer asked")
    if left:
        handoff.customer_left(conversation.pk)
    return Conversation.objects.get(pk=conversation.pk)


def test_queue_positions_count_only_chats_still_waiting_live(site):
    waiting_chat(site, left=True)
    waiting_chat(site, left=True)
    first = waiting_chat(site)
    second = waiting_chat(site)
    assert (handoff.queue_position(first), handoff.queue_position(second)) == (1, 2)


def test_a_chat_that_waits_too_long_with_nobody_online_becomes_an_offline_message(site, settings):
    settings.CHAT_OFFLINE_AFTER_SECONDS = 60
    stale, fresh = waiting_chat(site), waiting_chat(site)
    Conversation.objects.filter(pk=stale.pk).update(waiting_since=stale.waiting_since.replace(year=2025))
    expired = handoff.expire_waiting()
    assert [c.pk for c, _ in expired] == [stale.pk]
    _, reply = expired[0]
    assert reply.status == "offline" and reply.offer_email
    assert "Leave your email" in reply.messages[0].text
    assert Conversation.objects.get(pk=stale.pk).status == "offline"
    assert Conversation.objects.get(pk=fresh.pk).status == "waiting"
    rows = {row["id"]: row for row in handoff.queue()}
    assert rows[str(stale.public_id)]["status"] == "offline"


async def test_the_customer_socket_hears_that_the_chat_became_an_offline_message(site, fake_bundle, settings):
    settings.CHAT_OFFLINE_AFTER_SECONDS = 1
    customer = chat_communicator()
    await customer.connect()
    hello = await customer.receive_json_from()
    await customer.send_json_to({"type": "handoff"})
    await next_of(customer, "status", status="waiting")
    await receive_reply(customer)
    await database_sync_to_async(Conversation.objects.filter(public_id=hello["id"]).update)(
        waiting_since=TUESDAY_EVENING.replace(year=2025))

    def expire():
        handoff.publish(handoff.expire_waiting())

    await database_sync_to_async(expire)()
    assert (await next_of(customer, "status"))["status"] == "offline"
    assert "Nobody could join in time" in (await receive_reply(customer))["text"]
    answered = await say(customer, "still there?", "o1")
    assert answered["sender"] == "bot"
    await customer.disconnect()
