"""Verified identity: a signed user id follows the customer to another device; a forged one is ignored."""

import pytest
from channels.db import database_sync_to_async

from chat.identity import user_hash
from chat.models import Conversation, Visitor
from tests.conftest import chat_communicator, new_client_id, receive_until

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "identity-secret-for-tests"


@pytest.fixture
def shop(site):
    site.identity_secret = SECRET
    site.save()
    return site


def identified(user_id: str, signed_with: str = SECRET, **extra: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"user_id": user_id, "user_hash": user_hash(signed_with, user_id), **extra})


async def opened(query: str = "") -> tuple:
    ws = chat_communicator(query=query)
    await ws.connect()
    frames = await receive_until(ws, "conversation")
    return ws, frames[-1]


async def say(ws, text: str) -> None:
    await ws.send_json_to({"type": "message", "client_id": new_client_id(), "text": text})
    await receive_until(ws, "ack")


async def history(ws, count: int) -> list[str]:
    return [(await ws.receive_json_from(timeout=5))["text"] for _ in range(count)]


async def test_a_verified_customer_sees_their_conversation_on_another_device(shop, fake_bundle):
    laptop, hello = await opened(identified("u-1042", user_name="Ada", user_email="ada@example.com"))
    assert hello["identity"] == "verified"
    await say(laptop, "my order 10482 is late")
    await laptop.disconnect()

    phone, again = await opened(identified("u-1042"))  # no token: a new device
    assert again["id"] == hello["id"] and again["token"] == hello["token"]
    assert "my order 10482 is late" in await history(phone, 2)
    await phone.disconnect()
    visitor = await Visitor.objects.aget(external_id="u-1042")
    assert (visitor.name, visitor.email) == ("Ada", "ada@example.com")


async def test_a_forged_identity_is_ignored(shop, fake_bundle):
    laptop, hello = await opened(identified("u-1042"))
    await say(laptop, "private question")
    await laptop.disconnect()

    for forged in (identified("u-1042", signed_with="guessed-secret"), "user_id=u-1042&user_hash=00",
                   "user_id=u-1042"):
        intruder, frame = await opened(forged)
        assert frame["identity"] == "ignored" and frame["id"] != hello["id"]
        await intruder.disconnect()
    assert await Visitor.objects.filter(external_id="u-1042").acount() == 1


async def test_identities_are_ignored_until_the_site_has_a_secret(site, fake_bundle):
    ws, frame = await opened(identified("u-1"))
    assert frame["identity"] == "ignored"
    await ws.disconnect()
    assert not await Visitor.objects.exclude(external_id="").aexists()


async def test_an_anonymous_chat_becomes_the_customers_when_they_sign_in(shop, fake_bundle):
    ws, anonymous = await opened()
    await say(ws, "hello before login")
    await ws.disconnect()
    ws, signed_in = await opened(f"token={anonymous['token']}&{identified('u-7')}")
    assert signed_in["id"] == anonymous["id"]
    await ws.disconnect()
    chat = await Conversation.objects.select_related("visitor").aget(public_id=anonymous["id"])
    assert chat.visitor.external_id == "u-7"


async def test_signing_in_on_a_fresh_anonymous_chat_opens_the_customers_own(shop, fake_bundle):
    ws, theirs = await opened(identified("u-8"))
    await say(ws, "earlier question")
    await ws.disconnect()
    ws, fresh = await opened()  # another device, before signing in: nothing said yet
    await ws.disconnect()
    ws, signed_in = await opened(f"token={fresh['token']}&{identified('u-8')}")
    assert signed_in["id"] == theirs["id"]
    await ws.disconnect()


async def test_a_verified_chat_is_not_resumed_without_the_identity_or_by_someone_else(shop, fake_bundle):
    ws, mine = await opened(identified("u-1"))
    await say(ws, "my secret order")
    await ws.disconnect()
    for query in (f"token={mine['token']}", f"token={mine['token']}&{identified('u-2')}"):
        ws, other = await opened(query)
        assert other["id"] != mine["id"]
        await ws.disconnect()


async def test_new_chat_for_a_verified_customer_starts_a_new_conversation_of_theirs(shop, fake_bundle):
    ws, first = await opened(identified("u-9"))
    await say(ws, "first question")
    await ws.disconnect()
    ws, second = await opened(f"previous={first['token']}&{identified('u-9')}")
    assert second["id"] != first["id"]
    await ws.disconnect()
    visitors = await database_sync_to_async(lambda: set(Conversation.objects.values_list("visitor__external_id",
                                                                                       flat=True)))()
    assert visitors == {"u-9"}
