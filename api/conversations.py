"""Conversation actions taken through the API, delivered to the customer as the agent console does.

Each action is chat's own (chat.handoff); what this module adds is the delivery: the frames the
action stored go through the channel layer to the conversation's sockets, and agent consoles are
told to refresh their queue.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from chat import conversations, handoff
from chat.consumers import conversation_group
from chat.conversations import Reply
from chat.models import Conversation

# The frames' origin: no socket of ours, so every customer and console socket forwards them.
ORIGIN = "api"


def deliver(conversation: Conversation, reply: Reply) -> None:
    """Send an action's status change and messages to the conversation's sockets and to agents."""
    layer = get_channel_layer()
    if layer is None:
        return
    public_id = str(conversation.public_id)
    frames: list[dict[str, Any]] = []
    if reply.status:
        frames.append({"type": "status", "status": reply.status, "offer_email": reply.offer_email})
    frames.extend(conversations.message_frame(message) for message in reply.messages)
    send = async_to_sync(layer.group_send)
    for frame in frames:
        send(conversation_group(public_id), {"type": "chat.frame", "origin": ORIGIN,
                                             "frame": {**frame, "conversation": public_id}})
    if reply.status or reply.handoff:
        async_to_sync(handoff.notify_queue)(layer)


def post_agent_message(conversation: Conversation, agent: User, text: str) -> Reply:
    """The agent (joining first if the chat was not theirs) says `text` to the customer."""
    reply = handoff.agent_message(conversation.pk, agent, text)
    deliver(conversation, reply)
    return reply


def hand_off(conversation: Conversation, reason: str) -> Reply:
    reply = handoff.request(conversation.pk, reason)
    deliver(conversation, reply)
    return reply


def close(conversation: Conversation, agent: User, resolution: str) -> Reply:
    reply = handoff.close(conversation.pk, agent, resolution)
    deliver(conversation, reply)
    return reply
