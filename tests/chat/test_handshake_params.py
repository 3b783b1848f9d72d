"""Bad query parameters get a clear refusal, and a refused or failed handshake gives its
connection back to the address's budget (issue 14, item 2)."""

import pytest
from django.test import Client

from chat import conversations
from tests.conftest import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


async def refusal(ws) -> tuple[str, int]:
    connected, _ = await ws.connect()
    assert connected
    error = await ws.receive_json_from()
    assert error["type"] == "error"
    close = await ws.receive_output()
    assert close["type"] == "websocket.close"
    return error["code"], close["code"]


async def chat_opens(**kwargs) -> bool:
    ws = chat_communicator(**kwargs)
    await ws.connect()
    frame = await ws.receive_json_from()
    await ws.disconnect()
    return frame["type"] == "conversation"


async def test_nul_tokens_are_refused_and_never_use_up_the_addresss_connections(site, fake_bundle, settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 3
    address = ("192.0.2.71", 4000)
    for _ in range(10):
        assert await refusal(chat_communicator(query="token=%00", client=address)) == ("invalid_token", 4400)
    assert await chat_opens(client=address)


async def test_a_nul_or_malformed_site_key_is_refused_at_the_handshake(site, settings):
    for key in ("%00", "demo%00", "a%20b", "x" * 65):
        assert await refusal(chat_communicator(key)) == ("invalid_site", 4404)


async def test_a_connection_is_given_back_when_opening_the_conversation_fails(site, fake_bundle, settings, monkeypatch):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    address = ("192.0.2.72", 4000)

    def database_refuses(*args, **kwargs):
        raise RuntimeError("the database refused the query")

    monkeypatch.setattr(conversations, "open_conversation", database_refuses)
    for _ in range(5):
        assert (await refusal(chat_communicator(client=address)))[0] == "unavailable"
    monkeypatch.undo()
    assert await chat_opens(client=address)


@pytest.mark.parametrize("path", ["/?site=%00", "/widget/frame/?site=%00", "/widget/frame/?site=a%2Fb"])
def test_the_chat_page_and_the_widget_frame_refuse_a_malformed_site_key(path, site):
    response = Client().get(path, secure=True)
    assert response.status_code == 400
    assert b"malformed" in response.content
