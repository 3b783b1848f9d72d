"""The message store: dense per-conversation sequence numbers and batched inserts, exactly once.

All functions are synchronous (consumers call them through database_sync_to_async) and each
commits before returning, so a caller that acknowledges after the call acknowledges a stored row.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from chat import signals
from chat.models import Conversation, Message, Site
from privacy.redaction import redact


# The bot answers while it owns the chat, while the chat waits for a person, and after it became
# an offline message; only a person owning the chat silences it.
BOT_ANSWERS = frozenset({Conversation.Status.BOT, Conversation.Status.WAITING, Conversation.Status.OFFLINE})


def _hot_query(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run one statement of the message hot path and fetch its rows.

    On PostgreSQL through psycopg's server-side binding cursor (Django's default binds on the
    client, quoting every value into the SQL text, which for a batch's arrays cost more than the
    statement itself); psycopg then prepares a statement it sees repeatedly. Errors are
    translated to Django's exceptions (IntegrityError for a duplicate client_id) as usual.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
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


@dataclass(frozen=True)
class _Column:
    """One column of the message table as `_insert` writes it."""

    field: models.Field[Any, Any]
    cast: str  # its SQL type, for the casts of the statement's parameters
    relation: bool  # a foreign key, which callers may give as an instance (agent=user) or an id (agent_id=1)
    plain: bool  # text or a number: its str, int and float values need no conversion (`_db_value`)


# Column types whose str, int and float values the SQLite driver takes as they are; a value of
# another type (a datetime, a list for JSON, a lazy string) goes through the field's own conversion.
_PLAIN_TYPES = frozenset({"CharField", "TextField", "IntegerField", "PositiveIntegerField", "BigIntegerField",
                          "SmallIntegerField", "FloatField", "ForeignKey", "BigAutoField", "AutoField"})
_PLAIN_VALUES = (type(None), int, str, float)


@functools.cache
def _columns(vendor: str) -> tuple[_Column, ...]:
    """Every concrete field of Message but the id, in the model's order (worked out once per process)."""
    return tuple(_Column(f, str(f.db_type(connection)), bool(f.is_relation), f.get_internal_type() in _PLAIN_TYPES)
                 for f in Message._meta.concrete_fields if not f.primary_key)


def _insert(count: int, varying: dict[str, list[Any]], same: dict[str, Any]) -> list[Message]:
    """INSERT `count` new messages in one statement and hand them back as Message instances with ids.

    `varying` holds one value per message for some fields, `same` one value for all of them for
    others, each by field name or attname; every other field takes its default. Building the
    rows from columns, not from `Message(**fields)` per row, is a fifth of the cost of a batch
    in the web process (issue 20): the instances are made afterwards through the model's
    positional constructor, as the ORM makes them from a query's rows.

    On PostgreSQL the rows travel through `unnest` as one array per column that varies, and one
    value for a column that is the same in every row (most are: a batch shares its timestamp,
    customer messages have no intent, ...); the columns come from the model, so a new field is
    written without a change here.
    """
    columns = _columns(connection.vendor)
    values: list[list[Any] | None] = []  # per column: one value per row, or None when `scalars` has it
    scalars: list[Any] = []
    related: list[tuple[str, list[Any]]] = []  # instances given for foreign keys, cached on the messages
    for column in columns:
        f = column.field
        name = f.name if column.relation and (f.name in varying or f.name in same) else f.attname
        if name in varying:
            row_values: list[Any] | None = varying[name]
            scalar = None
        else:
            row_values, scalar = None, same[name] if name in same else f.get_default()
        if name != f.attname:  # a relation given as instances: store their ids, keep the instances
            related.append((f.name, row_values if row_values is not None else [scalar] * count))
            if row_values is not None:
                row_values = [None if obj is None else obj.pk for obj in row_values]
            else:
                scalar = None if scalar is None else scalar.pk
        # conversation_id and seq always vary in principle, and unnest needs one array at least.
        if row_values is not None and f.attname not in ("conversation_id", "seq") and all(
                value == row_values[0] for value in row_values):
            scalar = row_values[0]
            row_values = None
        values.append(row_values)
        scalars.append(scalar)
    rows: list[list[Any]] = [[None if row_values is None else row_values[i] for row_values in values]
                             for i in range(count)]
    for row in rows:
        for j, scalar in enumerate(scalars):
            if values[j] is None:
                # A JSON default (a list) is not shared between messages.
                row[j] = copy.copy(scalar) if isinstance(scalar, (list, dict)) else scalar
    # Positional, in the model's field order (the id first), as Model.from_db builds rows.
    messages = [Message(None, *row) for row in rows]  # type: ignore[misc]  # django-stubs types keywords only
    for name, instances in related:
        for message, obj in zip(messages, instances, strict=True):
            if obj is not None:
                setattr(message, name, obj)
    if not messages:
        return messages
    if connection.vendor == "postgresql":
        returned = _insert_unnest(columns, values, scalars)
    else:
        returned = _insert_values(columns, values, scalars, count)
    new_ids = {(conversation_id, seq): pk for pk, conversation_id, seq in returned}
    for message in messages:
        message.pk = new_ids[(message.conversation_id, message.seq)]
        message._state.adding = False
        message._state.db = connection.alias
    return messages


def _insert_unnest(columns: tuple[_Column, ...], values: list[list[Any] | None],
                   scalars: list[Any]) -> list[tuple[Any, ...]]:
    """PostgreSQL: one INSERT ... SELECT FROM unnest(one array per varying column); (id, conversation, seq) back."""
    selected, params, arrays, unnested = [], [], [], []
    for column, row_values, scalar in zip(columns, values, scalars, strict=True):
        dump = json.dumps if isinstance(column.field, models.JSONField) else None
        if row_values is None:
            selected.append(f"%s::{column.cast}")
            params.append(dump(scalar) if dump and scalar is not None else scalar)
        else:
            selected.append(f"u.{column.field.column}")
            unnested.append((str(column.field.column), f"%s::{column.cast}[]"))
            arrays.append([dump(v) if v is not None else None for v in row_values] if dump else row_values)
    return _hot_query(
        f"INSERT INTO {Message._meta.db_table} ({_names(columns)}) SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(cast for _, cast in unnested)}) AS u({', '.join(c for c, _ in unnested)}) "
        "RETURNING id, conversation_id, seq",
        [*params, *arrays],
    )


def _names(columns: tuple[_Column, ...]) -> str:
    return ", ".join(connection.ops.quote_name(str(column.field.column)) for column in columns)


def _db_value(column: _Column, value: Any) -> Any:
    if column.plain and type(value) in _PLAIN_VALUES:
        return value
    return column.field.get_db_prep_save(value, connection)


def _insert_values(columns: tuple[_Column, ...], values: list[list[Any] | None], scalars: list[Any],
                   count: int) -> list[tuple[Any, ...]]:
    """Other databases (SQLite): INSERT ... SELECT FROM (VALUES one row per message) with the
    columns that vary, the others as one parameter each; (id, conversation, seq) back.

    Not the ORM's bulk_create, whose statement compiler worked out a placeholder per value: that
    was a quarter of the web process's CPU per message and of the answer helper's (issue 20).
    """
    varying = [j for j, row_values in enumerate(values) if row_values is not None]
    fixed = [_db_value(columns[j], scalars[j]) for j in range(len(columns)) if values[j] is None]
    limit = connection.features.max_query_params or 999  # None: no limit known; SQLite's old default
    per_statement = max(1, (limit - len(fixed)) // len(varying))
    selected, position = [], {j: k for k, j in enumerate(varying, start=1)}
    for j in range(len(columns)):
        selected.append(f"v.column{position[j]}" if j in position else "%s")
    converted = [[_db_value(columns[j], value) for value in values[j] or ()] for j in varying]
    row = "(" + ", ".join(["%s"] * len(varying)) + ")"
    returned: list[tuple[Any, ...]] = []
    for start in range(0, count, per_statement):
        stop = min(count, start + per_statement)
        params = [*fixed, *(column[i] for i in range(start, stop) for column in converted)]
        returned += _hot_query(
            f"INSERT INTO {Message._meta.db_table} ({_names(columns)}) SELECT {', '.join(selected)} "
            f"FROM (VALUES {', '.join([row] * (stop - start))}) AS v RETURNING id, conversation_id, seq",
            params,
        )
    return returned


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
        varying: dict[str, list[Any]] = {
            "conversation_id": [item.conversation_id for item in outgoing],
            "seq": assigned.seqs,
            "sender": [item.sender for item in outgoing],
            "text": [text if item.sender == bot else _stored_text(text, assigned.redact_contacts[item.conversation_id])
                     for item, text in zip(outgoing, texts, strict=True)],
        }
        for name in {name for item in outgoing for name in item.fields}:
            model_field = Message._meta.get_field(name)  # by name or attname
            assert isinstance(model_field, models.Field), name
            varying[name] = [item.fields[name] if name in item.fields else model_field.get_default()
                             for item in outgoing]
        stored = _insert(len(outgoing), varying, {"created": timezone.now()})
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
        redact_contacts = assigned.redact_contacts
        messages = _insert(len(batch), {
            "conversation_id": [item.conversation_id for item in batch],
            "seq": seqs,
            "text": [_stored_text(text, redact_contacts[item.conversation_id])
                     for item, text in zip(batch, texts, strict=True)],
            "client_id": [item.client_id for item in batch],
        }, {"sender": Message.Sender.CUSTOMER, "created": timezone.now()})
    signals.messages_stored.send(sender=Message, messages=messages)
    return [
        Received(message, created=True, needs_reply=statuses[message.conversation_id] in BOT_ANSWERS,
                 status=statuses[message.conversation_id])
        for message in messages
    ]
