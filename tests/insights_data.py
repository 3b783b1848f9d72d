"""Conversations written straight into the database, for the insights tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chat.models import Conversation, Message, Rating, Site, Visitor


def conversation(site: Site, at: dt.datetime, turns: list[tuple[str, str, dict[str, Any]]], *,
                 handoff_reason: str = "", rating: int | None = None) -> Conversation:
    """A conversation opened at `at` with messages (sender, text, fields) one second apart."""
    visitor = Visitor.objects.create(site=site)
    chat = Conversation.objects.create(site=site, visitor=visitor, handoff_reason=handoff_reason)
    Conversation.objects.filter(pk=chat.pk).update(created=at, last_seq=len(turns))
    previous_customer = None
    for seq, (sender, text, fields) in enumerate(turns, 1):
        message = Message.objects.create(conversation=chat, seq=seq, sender=sender, text=text,
                                         created=at + dt.timedelta(seconds=seq), **fields)
        if sender == Message.Sender.CUSTOMER:
            previous_customer = message
        elif sender == Message.Sender.BOT and previous_customer is not None:
            Message.objects.filter(pk=message.pk).update(reply_to=previous_customer)
    if rating:
        Rating.objects.create(conversation=chat, score=rating)
    return chat


def answered(question: str, intent: str = "refund", version: str = "v1", **fields: Any) -> list:
    return [("customer", question, {}),
            ("bot", "Refunds take 5 days.", {"source": "answer", "intent": intent, "confidence": 0.9,
                                             "model_version": version, **fields})]


def fallback(question: str, version: str = "v1", **fields: Any) -> list:
    return [("customer", question, {}),
            ("bot", "Sorry, I'm not sure.", {"source": "fallback", "confidence": 0.1, "model_version": version,
                                             **fields})]
