"""Property: whatever a client sends, the chat socket answers every frame well-formed and stays open.

Random and hostile frames (any JSON value, wrong types, huge and odd strings, nested objects, binary,
not-JSON text) are mixed with valid messages, some resent with the same client_id. After each frame the
test sends a ping: the consumer handles frames in order, so everything the frame caused arrives before
the pong. Checked per frame against the protocol (docs/protocol.md), and per conversation that every
acknowledged client_id is stored exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re

import pytest
from django.db import connections
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st

from channels.db import database_sync_to_async

from chat.models import Message
from tests.conftest import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]

CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_FRAME = 16384
MAX_TEXT = 2000
KNOWN = {"message", "handoff", "feedback", "email", "typing", "ping"}
SERVER_TYPES = {"ack", "message", "typing", "status", "feedback", "error", "pong", "email"}
addresses = itertools.count(1)

# Any character, NUL and lone surrogates included (the database can store neither).
text = st.text()
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
client_ids = st.sampled_from(["dup-1", "dup-2"]) | st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
texts = text.filter(bool) | st.sampled_from(["hello", "  ", "\u202e\u200bé😀", "x" * (MAX_TEXT + 1)])
valid_message = st.builds(
    lambda cid, text: json.dumps({"type": "message", "client_id": cid, "text": text}),
    client_ids, text.filter(str.strip),
)
hostile_message = st.builds(
    lambda cid, text, extra: json.dumps({"type": "message", "client_id": cid, "text": text, **extra}),
    client_ids | json_values, texts | json_values, st.dictionaries(text, json_values, max_size=2),
)
other_frames = st.builds(
    lambda kind, extra: json.dumps({"type": kind, **extra}),
    st.sampled_from(sorted(KNOWN - {"message", "handoff"})) | scalars,
    st.dictionaries(st.sampled_from(["seq", "value", "email", "state", "reason", "conversation"]), json_values,
                    max_size=3),
)
raw_text = st.text(min_size=1, max_size=300) | st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 2000)) | st.just(
    "{" + '"a":' * 1 + '"' + "y" * (MAX_FRAME + 10) + '"}'
)

frames = st.lists(
    st.one_of(valid_message, valid_message, hostile_message, other_frames,
              json_values.map(json.dumps), raw_text,
              st.binary(min_size=1, max_size=64)),
    min_size=1, max_size=12,
)


def expected_error(raw: str | bytes) -> str | None:
    """The error code the protocol prescribes for this frame, or None when it is not an error."""
    if isinstance(raw, bytes):
        return "binary_not_supported"
    if len(raw) > MAX_FRAME:
        return "frame_too_large"
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return "bad_json"
    if not isinstance(frame, dict):
        return "bad_frame"
    kind = frame.get("type")
    if not isinstance(kind, (str, int, float, bool, type(None))) or kind not in KNOWN:
        return "unknown_type"
    if kind != "message":
        return None
    client_id, text = frame.get("client_id"), frame.get("text")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        return "invalid_client_id"
    if not isinstance(text, str):
        return "missing_text"
    if not text.strip():
        return "empty_text"
    if "\x00" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "invalid_text"
    if len(text.strip()) > MAX_TEXT:
        return "too_long"
    return None


def is_ping(raw: str | bytes) -> bool:
    if expected_error(raw) is not None:
        return False
    return json.loads(raw).get("type") == "ping"


def check_well_formed(frame: dict) -> None:
    assert frame.get("type") in SERVER_TYPES, frame
    if frame["type"] == "error":
        assert isinstance(frame.get("code"), str) and isinstance(frame.get("detail"), str) and frame["detail"]
    if frame["type"] == "ack":
        assert isinstance(frame.get("client_id"), str) and isinstance(frame.get("seq"), int)
    if frame["type"] == "message":
        assert isinstance(frame.get("seq"), int) and frame.get("sender") in ("bot", "agent", "system", "customer")
        assert isinstance(frame.get("text"), str)


async def exchange(sent: list[str | bytes]) -> tuple[str, dict[str, int]]:
    index = next(addresses)
    ws = chat_communicator(client=(f"10.77.{index // 250}.{index % 250 + 1}", 4000))
    connected, _ = await ws.connect()
    assert connected
    hello = await ws.receive_json_from(timeout=10)
    assert hello["type"] == "conversation"
    acked: dict[str, int] = {}
    for raw in sent:
        if isinstance(raw, bytes):
            await ws.send_to(bytes_data=raw)
        else:
            await ws.send_to(text_data=raw)
        await ws.send_to(text_data='{"type":"ping"}')
        replies = []
        pongs = 1 + is_ping(raw)  # a generated ping gets its own pong before ours
        while pongs:
            output = await ws.receive_output(timeout=10)
            assert output["type"] == "websocket.send", f"the server closed the socket after {raw[:200]!r}: {output}"
            frame = json.loads(output["text"])
            check_well_formed(frame)
            if frame["type"] == "pong":
                pongs -= 1
                continue
            replies.append(frame)
        code = expected_error(raw)
        errors = [f for f in replies if f["type"] == "error"]
        if code is not None:
            assert [e["code"] for e in errors] == [code], (raw[:200], replies)
            assert len(replies) == 1, replies
            continue
        if isinstance(raw, str) and json.loads(raw).get("type") == "message":
            client_id = json.loads(raw)["client_id"]
            acks = [f for f in replies if f["type"] == "ack"]
            assert [a["client_id"] for a in acks] == [client_id] and not errors, replies
            assert acked.setdefault(client_id, acks[0]["seq"]) == acks[0]["seq"], "a resend got another seq"
    await ws.disconnect()
    # The consumer's database thread outlives this event loop: close its connection.
    await database_sync_to_async(connections.close_all)()
    return hello["id"], acked


# No shrinking: a failing example is printed as generated, and the test stays fast.
@hypothesis_settings(max_examples=30, deadline=None, phases=[Phase.explicit, Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sent=frames)
def test_every_frame_gets_a_well_formed_answer_and_acked_messages_are_stored_once(site, fake_bundle, sent):
    conversation, acked = asyncio.run(exchange(sent))
    stored = Message.objects.filter(conversation__public_id=conversation, sender="customer")
    rows = list(stored.values_list("client_id", "seq"))
    assert sorted(rows) == sorted(acked.items())


# One frame for each error code of docs/protocol.md that a frame alone decides (not the rate limit,
# not the feedback and email codes that need stored messages), with the code the document gives it.
DOCUMENTED = [
    ("this is not json", "bad_json"),
    ("[1, 2, 3]", "bad_frame"),
    (json.dumps({"type": "dance"}), "unknown_type"),
    ('{"a": "' + "y" * MAX_FRAME + '"}', "frame_too_large"),
    (b"\x00", "binary_not_supported"),
    (json.dumps({"type": "message", "text": "hi"}), "invalid_client_id"),
    (json.dumps({"type": "message", "client_id": "x1"}), "missing_text"),
    (json.dumps({"type": "message", "client_id": "x1", "text": "   "}), "empty_text"),
    (json.dumps({"type": "message", "client_id": "x1", "text": "a\u0000b"}), "invalid_text"),
    (json.dumps({"type": "message", "client_id": "x1", "text": "a" * (MAX_TEXT + 1)}), "too_long"),
    (json.dumps({"type": "message", "client_id": "x1", "text": "hi"}), None),
]


def test_the_oracle_and_the_socket_give_each_documented_error_its_code(site, fake_bundle):
    """The property test judges the socket by `expected_error`: both must follow the document."""
    assert [expected_error(raw) for raw, _ in DOCUMENTED] == [code for _, code in DOCUMENTED]
    # exchange() asserts the socket's answer to each frame is the oracle's (an error code, or an ack).
    conversation, acked = asyncio.run(exchange([raw for raw, _ in DOCUMENTED]))
    stored = Message.objects.filter(conversation__public_id=conversation, sender="customer")
    assert list(stored.values_list("client_id", flat=True)) == list(acked) == ["x1"]


ONCE_CRASHED = {
    "unhashable type": ('{"type": []}', "unknown_type"),
    "nested deeper than the recursion limit": ("[" * 5000 + "]" * 5000, "bad_json"),
    "NUL in a stored text": ('{"type": "message", "client_id": "nul-1", "text": "a\\u0000b"}', "invalid_text"),
    "lone surrogate in a stored text": ('{"type": "message", "client_id": "sur-1", "text": "\\ud800"}', "invalid_text"),
}


@pytest.mark.parametrize("raw, code", list(ONCE_CRASHED.values()), ids=list(ONCE_CRASHED))
def test_a_known_hostile_frame_gets_its_error_not_an_ack_or_a_closed_socket(site, fake_bundle, raw, code):
    async def send() -> list[dict]:
        ws = chat_communicator()
        try:
            await ws.connect()
            await ws.receive_json_from(timeout=10)
            await ws.send_to(text_data=raw)
            await ws.send_to(text_data='{"type":"ping"}')
            frames = [await ws.receive_json_from(timeout=10) for _ in range(2)]
            await ws.disconnect()
            return frames
        finally:
            await database_sync_to_async(connections.close_all)()

    first, pong = asyncio.run(send())
    assert first["type"] == "error" and first["code"] == code and first["detail"], first
    assert pong == {"type": "pong"}
    assert not Message.objects.exists()
