"""Two consumers talking through the real Redis channel layer (as two Daphne processes would)."""

import os

import pytest
from channels.layers import channel_layers

from tests.conftest import chat_communicator, need_redis, receive_reply, until_tabs_know_each_other

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def redis_layer(settings):
    need_redis()
    from config.settings import redis_channel_layer

    layer = redis_channel_layer(REDIS_URL)
    layer["CONFIG"]["prefix"] = f"test{os.getpid()}"
    settings.CHANNEL_LAYERS = {"default": layer}
    channel_layers.backends.clear()
    yield channel_layers["default"]
    channel_layers.backends.clear()


async def test_two_tabs_see_each_others_messages_through_redis(site, fake_bundle, redis_layer, chat_sockets):
    assert type(redis_layer).__name__ == "RedisChannelLayer"
    first = chat_communicator()
    await first.connect()
    hello = await first.receive_json_from()
    second = chat_communicator(query=f"token={hello['token']}")
    await second.connect()
    await second.receive_json_from()
    await until_tabs_know_each_other(chat_sockets)  # the tabs' hello crosses Redis
    await first.send_json_to({"type": "message", "client_id": "redis-1", "text": "over redis"})
    echoed = await second.receive_json_from(timeout=5)
    assert echoed["client_id"] == "redis-1" and echoed["text"] == "over redis"
    reply = await receive_reply(second)
    assert reply["sender"] == "bot"
    await first.disconnect()
    await second.disconnect()
