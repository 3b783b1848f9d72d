"""Conversations: open or resume one, its history, feedback and ratings, and the `Reply` of an action.

Storing messages is chat.store's; sites and origins chat.sites'; the wire format chat.frames'.

All functions are synchronous (consumers call them through database_sync_to_async) and each
commits before returning, so a caller that acknowledges after the call acknowledges a stored row.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import signals
from chat.identity import Identity
from chat.models import Conversation, Message, Rating, Site, Visitor
from chat.sites import well_formed_key
from chat.store import redact_for_storage

HISTORY_LIMIT = 500


def open_conversation(site: Site, token: str | None, page: str = "", previous: str | None = None,
                      identity: Identity | None = None) -> tuple[Conversation, bool]:
    """Resume the conversation with this token on this site, or start a new one.

    A new conversation started from an earlier one (`previous`, that chat's token) belongs to
    the same visitor, so agents see the customer's earlier conversations; `page` is where the
    customer chats from. A verified `identity` is its own visitor on every device: its latest
    conversation is resumed when the token names none of its own (an anonymous chat with the
    token and messages in it becomes theirs), and a verified customer's chat is never resumed without the identity
    (a shared computer after logout).
    """
    page = page if _web_address(page) else ""
    visitor = _identified_visitor(site, identity) if identity is not None else None
    conversation = None
    if token and well_formed_key(token):
        conversation = Conversation.objects.filter(site=site, token=token).select_related("visitor").first()
        if conversation is not None and not resumable(conversation, site):
            conversation = None
    if conversation is not None and visitor is not None and conversation.visitor_id != visitor.pk:
        if conversation.visitor.external_id or not conversation.last_seq:
            conversation = None  # another customer's chat on this device, or an empty one: theirs is better
        else:
            Conversation.objects.filter(pk=conversation.pk).update(visitor=visitor)
            conversation.visitor = visitor
    elif conversation is not None and visitor is None and conversation.visitor.external_id:
        conversation = None
    if conversation is None and visitor is not None and not previous:  # `previous`: asked for a new chat
        # The identity proves who they are, so their latest chat opens whatever its age.
        conversation = visitor.conversations.filter(anonymized=False).order_by("-updated").first()
    if conversation is not None:
        if page and page != conversation.page:
            Conversation.objects.filter(pk=conversation.pk).update(page=page)
            conversation.page = page
        return conversation, False
    if visitor is None:
        earlier = None
        if previous and well_formed_key(previous):
            earlier = Conversation.objects.filter(site=site, token=previous).select_related("visitor").first()
            if earlier is not None and (not resumable(earlier, site) or earlier.visitor.external_id):
                earlier = None
        visitor = earlier.visitor if earlier is not None else Visitor.objects.create(site=site)
    conversation = Conversation.objects.create(site=site, visitor=visitor, page=page)
    signals.conversation_started.send(sender=Conversation, conversation=conversation)
    return conversation, True


def _identified_visitor(site: Site, identity: Identity) -> Visitor:
    """The site's visitor for this verified user, created on first sight; name and email kept current."""
    try:
        with transaction.atomic():
            visitor, _ = Visitor.objects.get_or_create(site=site, external_id=identity.user_id)
    except IntegrityError:  # created meanwhile by another device's connect
        visitor = Visitor.objects.get(site=site, external_id=identity.user_id)
    changed = {name: value for name, value in (("name", identity.name), ("email", identity.email))
               if value and getattr(visitor, name) != value}
    if changed:
        Visitor.objects.filter(pk=visitor.pk).update(**changed)
        for name, value in changed.items():
            setattr(visitor, name, value)
    return visitor


def _web_address(page: str) -> bool:
    parts = urlsplit(page)
    return len(page) <= 500 and parts.scheme in ("http", "https") and bool(parts.netloc)


def discard_new_conversation(conversation_id: int) -> None:
    """Remove a conversation that failed to open, with its visitor, if nothing was said in it."""
    conversation = Conversation.objects.filter(pk=conversation_id, last_seq=0).first()
    if conversation is not None:
        visitor_id = conversation.visitor_id
        conversation.delete()
        Visitor.objects.filter(pk=visitor_id, conversations__isnull=True).delete()


def resumable(conversation: Conversation, site: Site) -> bool:
    """Whether a token still opens its conversation: its last message is younger than the site's
    `resume_token_days` (0: always). A token kept in an old browser stops working by itself."""
    if not site.resume_token_days:
        return True
    last = (Message.objects.filter(conversation=conversation).order_by("-seq").values_list("created", flat=True).first()
            or conversation.created)
    return last >= timezone.now() - timedelta(days=site.resume_token_days)


def consent_needed(site: Site, visitor: Visitor) -> bool:
    """Whether the site asks for consent and this visitor has not accepted its current notice."""
    return site.require_consent and visitor.consent_version != site.privacy_notice_version


def record_consent(visitor_id: int, version: str) -> None:
    """Keep the customer's acceptance of the privacy notice: when, and which version."""
    Visitor.objects.filter(pk=visitor_id).update(consent_at=timezone.now(), consent_version=version)


def rotate_token(conversation_id: int) -> str:
    """Give the conversation a new resume token; the old one opens nothing any more."""
    token = secrets.token_urlsafe(32)
    Conversation.objects.filter(pk=conversation_id).update(token=token)
    return token


def history(conversation_id: int, after: int = 0) -> list[Message]:
    messages = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after).select_related("agent").order_by("-seq")
    )
    return list(reversed(messages[:HISTORY_LIMIT]))


def set_feedback(conversation_id: int, seq: int, value: str) -> Message | None:
    """Record thumbs up/down on a bot message of this conversation; None if there is none."""
    message = Message.objects.filter(
        conversation_id=conversation_id, seq=seq, sender=Message.Sender.BOT
    ).first()
    if message is None:
        return None
    message.feedback = value
    message.save(update_fields=["feedback"])
    return message


def rate(conversation_id: int, score: int, comment: str) -> Rating | None:
    """Store the customer's rating of the conversation; None if it was rated already (kept as first given).

    The comment is redacted like a customer's message (payment data and secrets never stored).
    """
    comment = redact_for_storage(comment)
    try:
        with transaction.atomic():
            rating = Rating.objects.create(conversation_id=conversation_id, score=score, comment=comment)
    except IntegrityError:
        return None
    signals.rating_created.send(sender=Rating, rating=rating)
    return rating


@dataclass
class Reply:
    """What an action stored and changed, for the caller to deliver."""

    messages: list[Message] = field(default_factory=list)
    status: str | None = None  # the conversation's new status, when it changed
    handoff: bool = False  # the queue changed: agent consoles should refresh
    offer_email: bool = False
