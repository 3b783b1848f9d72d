"""Conversation actions taken through the API, delivered to the customer as the agent console does.

Each action is chat's own (chat.handoff); the frames it stored then go through the channel layer
to the conversation's sockets (chat.handoff.publish), and agent consoles refresh their queue.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from chat import handoff
from chat.conversations import Reply
from chat.models import Conversation


def post_agent_message(conversation: Conversation, agent: User, text: str) -> Reply:
    """The agent (joining first if the chat was not theirs) says `text` to the customer."""
    reply = handoff.agent_message(conversation.pk, agent, text)
    handoff.publish([(conversation, reply)])
    return reply


def hand_off(conversation: Conversation, reason: str) -> Reply:
    reply = handoff.request(conversation.pk, reason)
    handoff.publish([(conversation, reply)])
    return reply


def close(conversation: Conversation, agent: User, resolution: str) -> Reply:
    reply = handoff.close(conversation.pk, agent, resolution)
    handoff.publish([(conversation, reply)])
    return reply
