"""Actions on conversations: every state change of a chat goes through here.

All functions are synchronous (consumers call them through database_sync_to_async) and each
commits before returning, so a caller that acknowledges after the call acknowledges a stored row.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from knowledge.markup import answer_text, sanitize_answer
from chat import signals
from chat.identity import Identity
from chat.models import Conversation, Message, Rating, Site, Visitor
from privacy.redaction import redact

HISTORY_LIMIT = 500
# The bot answers while it owns the chat, while the chat waits for a person, and after it became
# an offline message; only a person owning the chat silences it.
BOT_ANSWERS = frozenset({Conversation.Status.BOT, Conversation.Status.WAITING, Conversation.Status.OFFLINE})


# Site keys and resume tokens are URL-safe base64 (secrets.token_urlsafe) or slugs. Anything
# else is refused before a query: PostgreSQL rejects a NUL in a parameter with an error.
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def well_formed_key(value: str | None) -> bool:
    """Whether `value` has the shape of a site key or a resume token."""
    return isinstance(value, str) and KEY.fullmatch(value) is not None


def find_site(public_key: str) -> Site | None:
    if not well_formed_key(public_key):
        return None
    return Site.objects.filter(public_key=public_key, is_active=True).first()


def origin_allowed(site: Site, origin: str | None, host: str | None) -> bool:
    """Whether a browser page at `origin` may chat as `site`.

    No Origin header means a non-browser client, which could send any Origin anyway.
    The server's own pages (same host) are always allowed; otherwise the origin must match
    one of the site's patterns, where `*` matches any port or subdomain label.
    """
    if not origin:
        return True
    origin = origin.rstrip("/").lower()
    parts = urlsplit(origin)
    if host and parts.netloc == host.lower():
        return True
    return any(origin_matches(origin, pattern) for pattern in site.origin_list())


def origin_matches(origin: str, pattern: str) -> bool:
    """Whether `origin` matches an allowed-origin pattern, where only `*` is a wildcard (a port or
    a host label; never a "/"). Brackets are literal, so `http://[::1]:*` means the IPv6 loopback
    (fnmatch read them as a character class: `http://1:8080` matched it)."""
    parts = (re.escape(part) for part in pattern.rstrip("/").lower().split("*"))
    return re.fullmatch("[^/]*".join(parts), origin.rstrip("/").lower()) is not None


def storable(text: str) -> bool:
    """Whether every database can store the text: no NUL, no lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def open_conversation(site: Site, token: str | None, page: str = "", previous: str | None = None,
                      identity: Identity | None = None) -> tuple[Conversation, bool]:
    """Resume the conversation with this token on this site, or start a new one.

    A new conversation started from an earlier one (`previous`, that chat's token) belongs to
    the same visitor, so agents see the customer's earlier conversations; `page` is where the
    customer chats from. A verified `identity` is its own visitor on every device: its latest
    conversation is resumed when the token names none of its own (an anonymous chat with the
    token becomes theirs), and a verified customer's chat is never resumed without the identity
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
        if conversation.visitor.external_id:
            conversation = None  # another customer's chat on this device
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


def _hot_query(sql: str, params: list[Any]) -> list[tuple]:
    """Run one statement of the message hot path and fetch its rows.

    On PostgreSQL through psycopg's server-side binding cursor (Django's default binds on the
    client, quoting every value into the SQL text, which for a batch's arrays cost more than the
    statement itself); psycopg then prepares a statement it sees repeatedly. Errors are
    translated to Django's exceptions (IntegrityError for a duplicate client_id) as usual.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _next_seqs(conversation_ids: list[int]) -> dict[int, tuple[int, str, bool]]:
    """Hand out seqs and read statuses in one statement (call inside a transaction).

    Returns {conversation: (its last new seq, its status, whether its site redacts contacts at
    storage)}: each conversation gets a run of as
    many seqs as it has messages here. The UPDATE holds the row locks until commit, so seqs are
    dense and ordered; RETURNING saves a SELECT ... FOR UPDATE round trip. On PostgreSQL the rows
    are locked in id order first, so two batches that share conversations wait for each other
    instead of deadlocking.
    """
    counts: dict[int, int] = {}
    for conversation_id in conversation_ids:
        counts[conversation_id] = counts.get(conversation_id, 0) + 1
    table = Conversation._meta.db_table
    # Contacts are redacted at storage where the site says so, and in a conversation retention
    # has anonymised already (a message arriving after that is not kept raw either).
    site_flag = (f"({{c}}anonymized OR (SELECT redact_contacts FROM {Site._meta.db_table} AS s "
                 f"WHERE s.id = {{c}}site_id))")
    ids = sorted(counts)
    if connection.vendor == "postgresql":
        # Arrays keep the statement's text the same for every batch, so it is prepared once.
        rows = _hot_query(
            f"WITH locked AS (SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE) "
            f"UPDATE {table} AS c SET last_seq = c.last_seq + v.n "
            "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, n) "
            "WHERE c.id = v.id AND c.id IN (SELECT id FROM locked) "
            f"RETURNING c.id, c.last_seq, c.status, {site_flag.format(c='c.')}",
            [ids, ids, [counts[i] for i in ids]],
        )
    else:
        marks = ", ".join(["%s"] * len(ids))
        cases = " ".join(["WHEN %s THEN %s"] * len(ids))
        params = [value for conversation_id in ids for value in (conversation_id, counts[conversation_id])]
        rows = _hot_query(
            f"UPDATE {table} SET last_seq = last_seq + CASE id {cases} END WHERE id IN ({marks}) "
            f"RETURNING id, last_seq, status, {site_flag.format(c='')}",
            [*params, *ids],
        )
    found = {int(row[0]): (int(row[1]), str(row[2]), bool(row[3])) for row in rows}
    missing = set(counts) - set(found)
    if missing:
        raise Conversation.DoesNotExist(sorted(missing))
    return found


@dataclass(frozen=True)
class _Seqs:
    seqs: list[int]  # one per message, in order
    statuses: dict[int, str]  # per conversation
    redact_contacts: dict[int, bool]  # per conversation: its site redacts contacts at storage, or it is anonymised


def _assign_seqs(conversation_ids: list[int]) -> _Seqs:
    """Seqs for messages to these conversations (in this order), each conversation's status and site setting."""
    runs = _next_seqs(conversation_ids)
    remaining = {cid: conversation_ids.count(cid) for cid in runs}
    seqs = []
    for conversation_id in conversation_ids:
        last, _, _ = runs[conversation_id]
        seqs.append(last - remaining[conversation_id] + 1)
        remaining[conversation_id] -= 1
    return _Seqs(seqs, {cid: run[1] for cid, run in runs.items()}, {cid: run[2] for cid, run in runs.items()})


def redact_for_storage(text: str) -> str:
    """Text as it may be stored: payment data and typed secrets replaced (docs/privacy.md)."""
    return redact(text, contacts=False)


def _stored_text(text: str, redact_contacts: bool) -> str:
    """`redact_for_storage` output, with emails and phone numbers replaced too where the site says so."""
    return redact(text) if redact_contacts else text


def _insert(messages: list[Message]) -> list[Message]:
    """INSERT many new messages in one statement and set their ids.

    On PostgreSQL the rows travel through `unnest` as one array per column that varies, and one
    value for a column that is the same in every row (most are: a batch shares its timestamp,
    customer messages have no intent, ...), which costs less than half of the ORM's bulk_create
    per row; the columns come from the model, so a new field is written without a change here.
    """
    if connection.vendor != "postgresql" or not messages:
        return Message.objects.bulk_create(messages)
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    selected, scalars, arrays, unnested = [], [], [], []
    for f in fields:
        values = [getattr(message, f.attname) for message in messages]
        if isinstance(f, models.JSONField):
            values = [None if value is None else json.dumps(value) for value in values]
        cast = f.db_type(connection)
        # conversation_id and seq always vary in principle, and unnest needs one array at least.
        if f.attname not in ("conversation_id", "seq") and all(value == values[0] for value in values):
            selected.append(f"%s::{cast}")
            scalars.append(values[0])
        else:
            selected.append(f"u.{f.column}")
            unnested.append((str(f.column), f"%s::{cast}[]"))
            arrays.append(values)
    table = Message._meta.db_table
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    rows = _hot_query(
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(cast for _, cast in unnested)}) AS u({', '.join(c for c, _ in unnested)}) "
        "RETURNING id, conversation_id, seq",
        [*scalars, *arrays],
    )
    ids = {(conversation_id, seq): pk for pk, conversation_id, seq in rows}
    for message in messages:
        message.pk = ids[(message.conversation_id, message.seq)]
        message._state.adding = False
        message._state.db = connection.alias
    return messages


@dataclass(frozen=True)
class Outgoing:
    """A message to store (bot, system or agent), for `append_many`."""

    conversation_id: int
    sender: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


def append_many(outgoing: list[Outgoing], *, durable: bool = True) -> list[Message]:
    """`append` for many messages in one transaction: one UPDATE for the seqs, one INSERT.

    Agent and system messages are redacted like a customer's (an agent may paste a card
    number); the bot's come from curated answers and approved tickets, which are not.
    """
    if not outgoing:
        return []
    bot = Message.Sender.BOT
    texts = [item.text if item.sender == bot else redact_for_storage(item.text) for item in outgoing]
    with transaction.atomic():
        if not durable and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        assigned = _assign_seqs([item.conversation_id for item in outgoing])
        now = timezone.now()
        stored = _insert(
            [
                Message(conversation_id=item.conversation_id, seq=seq, sender=item.sender, created=now,
                        text=text if item.sender == bot else _stored_text(text, assigned.redact_contacts[item.conversation_id]),
                        **item.fields)
                for item, seq, text in zip(outgoing, assigned.seqs, texts, strict=True)
            ]
        )
    signals.messages_stored.send(sender=Message, messages=stored)
    return stored


def append(conversation_id: int, sender: str, text: str, *, durable: bool = True, **fields: Any) -> Message:
    """Store one message at the end of the conversation.

    `durable=False` commits without waiting for PostgreSQL's disk flush, for messages that can
    be produced again (the bot's answers); customers' messages are always durable.
    """
    return append_many([Outgoing(conversation_id, sender, text, fields)], durable=durable)[0]


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool
    # True when this message still needs the bot's answer (new, or a resend of an
    # unanswered last message after a crash between storing it and replying).
    needs_reply: bool
    status: str  # the conversation's status when the message was stored


def receive_customer_message(conversation_id: int, client_id: str, text: str) -> Received:
    """Store a customer message exactly once per client_id."""
    try:
        return _store_new([Incoming(conversation_id, client_id, text)])[0]
    except IntegrityError:
        # Stored before (a resend after a lost ack, or another tab): the unique constraint on
        # (conversation, client_id) rolled this attempt back, seq included.
        existing = Message.objects.select_related("conversation").get(
            conversation_id=conversation_id, client_id=client_id
        )
    conversation = existing.conversation
    unanswered = conversation.last_seq == existing.seq and conversation.status in BOT_ANSWERS
    return Received(existing, created=False, needs_reply=unanswered, status=conversation.status)


@dataclass(frozen=True)
class Incoming:
    """A customer message as it arrived on a socket, for `receive_customer_messages`."""

    conversation_id: int
    client_id: str
    text: str


def receive_customer_messages(batch: list[Incoming]) -> list[Received | Exception]:
    """Store many customer messages, each exactly once per client_id, in one transaction.

    If any of them was stored before (a resend) or its conversation is gone, the transaction
    rolls back and each message takes the one-at-a-time path, which tells resends apart; an
    error there belongs to that message only.
    """
    try:
        return list(_store_new(batch))
    except (IntegrityError, Conversation.DoesNotExist):
        pass
    results: list[Received | Exception] = []
    for item in batch:
        try:
            results.append(receive_customer_message(item.conversation_id, item.client_id, item.text))
        except (IntegrityError, Conversation.DoesNotExist, Message.DoesNotExist) as exc:
            results.append(exc)
    return results


def _store_new(batch: list[Incoming]) -> list[Received]:
    """Store messages as new in one transaction: one UPDATE for every seq, closed chats reopened,
    one INSERT, one (durable) commit. Raises IntegrityError if one of them was stored before.

    The text is redacted before the transaction (payment data, secrets) and, for sites that
    ask, inside it once the site is known (emails, phone numbers): nothing else is stored.
    """
    texts = [redact_for_storage(item.text) for item in batch]
    with transaction.atomic():
        assigned = _assign_seqs([item.conversation_id for item in batch])
        seqs, statuses = assigned.seqs, assigned.statuses
        closed = [cid for cid, status in statuses.items() if status == Conversation.Status.CLOSED]
        if closed:
            Conversation.objects.filter(pk__in=closed).update(status=Conversation.Status.BOT, updated=timezone.now())
            statuses.update(dict.fromkeys(closed, Conversation.Status.BOT))
        now = timezone.now()
        messages = _insert(
            [
                Message(conversation_id=item.conversation_id, seq=seq, sender=Message.Sender.CUSTOMER,
                        text=_stored_text(text, assigned.redact_contacts[item.conversation_id]),
                        client_id=item.client_id, created=now)
                for item, seq, text in zip(batch, seqs, texts, strict=True)
            ]
        )
    signals.messages_stored.send(sender=Message, messages=messages)
    return [
        Received(message, created=True, needs_reply=statuses[message.conversation_id] in BOT_ANSWERS,
                 status=statuses[message.conversation_id])
        for message in messages
    ]


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


@dataclass
class Reply:
    """What an action stored and changed, for the caller to deliver."""

    messages: list[Message] = field(default_factory=list)
    status: str | None = None  # the conversation's new status, when it changed
    handoff: bool = False  # the queue changed: agent consoles should refresh
    offer_email: bool = False
