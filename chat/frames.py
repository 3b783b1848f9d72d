"""The wire format of the chat sockets: frames parsed and validated in, stored messages serialized out.

The protocol is documented in docs/protocol.md; consumers translate between it and the actions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chat.models import Message
from knowledge.markup import answer_text, sanitize_answer

if TYPE_CHECKING:
    from chat.conversations import Reply


PROTOCOL_VERSION = 1
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


# Close codes (4000-4999 are the application's own range).
CLOSE_UNKNOWN_SITE = 4404
CLOSE_ORIGIN = 4403
CLOSE_PROTOCOL = 4400
CLOSE_TOO_MANY_CONNECTIONS = 4429
CLOSE_UNAVAILABLE = 4503  # not fatal: clients reconnect with backoff (Daphne sends no 1013)


class FrameError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def storable(text: str) -> bool:
    """Whether every database can store the text: no NUL, no lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def message_frame(message: Message) -> dict[str, Any]:
    """The protocol's representation of a stored message (no query: agents come with the message)."""
    frame: dict[str, Any] = {
        "type": "message",
        "seq": message.seq,
        "sender": message.sender,
        "text": message.text,
        "created": message.created.isoformat(),
    }
    if message.client_id:
        frame["client_id"] = message.client_id
    if message.sender == Message.Sender.BOT:
        frame.update(
            source=message.source,
            intent=message.intent or None,
            confidence=message.confidence,
            suggestions=message.suggestions or [],
            model_version=message.model_version,
        )
        if message.source == Message.Source.ANSWER:
            # Curated answers may hold a small safe HTML subset: `html` for the widget, plain `text` for the rest.
            frame["html"] = sanitize_answer(message.text)
            frame["text"] = answer_text(message.text)
        if message.feedback:
            frame["feedback"] = message.feedback
    agent = message.agent if message.sender == Message.Sender.AGENT and message.agent_id else None
    if agent is not None:
        frame["agent"] = agent.get_short_name() or agent.get_username()
    return frame


def dumps(frame: dict[str, Any]) -> str:
    """A frame as the socket sends it (compact JSON)."""
    return json.dumps(frame, separators=(",", ":"))


@dataclass(frozen=True)
class Outbound:
    """A `Reply` as its socket sends it: the stored messages already serialized.

    What comes back from an answer helper process: a few strings cross the pipe, where the
    `Message` instances cost the web process more to unpickle than to send (issue 20).
    """

    messages: tuple[str, ...] = ()  # message frames, JSON text, in order
    status: str | None = None
    handoff: bool = False
    offer_email: bool = False


def outbound(reply: Reply) -> Outbound:
    return Outbound(tuple(dumps(message_frame(message)) for message in reply.messages), reply.status,
                    reply.handoff, reply.offer_email)


def parse(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    if text_data is None:
        raise FrameError("binary_not_supported", "frames must be JSON text")
    if len(text_data) > settings.CHAT_MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"frames are limited to {settings.CHAT_MAX_FRAME_BYTES} characters")
    try:
        frame = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise FrameError("bad_json", "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("bad_frame", "frame must be a JSON object")
    return frame


def echo_ids(text_data: str | None) -> dict[str, Any]:
    """Repeat the frame's client_id in an error so the client knows which message failed."""
    try:
        client_id = json.loads(text_data or "").get("client_id")
    except (ValueError, AttributeError, RecursionError):
        return {}
    return {"client_id": client_id} if isinstance(client_id, str) and CLIENT_ID.match(client_id) else {}
