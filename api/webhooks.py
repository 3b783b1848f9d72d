"""Webhooks: subscriptions, events from the chat, signed deliveries with retries, replay, disabling.

An event becomes one Delivery row per subscription that wants it, with its body fixed; the
row's id goes to Celery once the transaction commits, so a slow or dead receiver never delays a
chat. Each attempt is logged; a failure is retried with exponential backoff; a delivery whose
retries are spent counts against its subscription, which is disabled after WEBHOOK_DISABLE_AFTER
such failures in a row. docs/webhooks.md has the receiver's side.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone

from api.models import Delivery, DeliveryAttempt, Webhook
from chat import outbound
from chat import signals as chat_signals
from chat.outbound import SIGNATURE_HEADER, sign
from chat.models import Conversation, Message, Rating, Site
from training import signals as training_signals
from training.models import ModelVersion

log = logging.getLogger(__name__)

EVENTS = (
    "conversation.started",
    "message.customer",
    "message.bot",
    "handoff.requested",
    "agent.joined",
    "conversation.closed",
    "rating.created",
    "model.published",
)
ALL = "*"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def clean_events(events: Iterable[str]) -> list[str]:
    """Validated event names (ValueError names an unknown one); "*" alone stands for all."""
    wanted = list(dict.fromkeys(events))
    unknown = [e for e in wanted if e not in EVENTS and e != ALL]
    if unknown:
        raise ValueError(f"unknown event {', '.join(unknown)}; events are {', '.join(EVENTS)} or \"*\"")
    if not wanted:
        raise ValueError("subscribe to at least one event")
    return [ALL] if ALL in wanted else wanted


def subscribe(site: Site, url: str, events: Iterable[str]) -> Webhook:
    webhook = Webhook.objects.create(site=site, url=url, events=clean_events(events), secret=new_secret())
    subscriptions.reset()
    return webhook


class _Subscriptions:
    """Which sites want which events, cached in each process (the chat asks on every batch)."""

    def __init__(self) -> None:
        self._by_site: dict[int, list[tuple[int, list[str]]]] = {}
        self._checked: float | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> None:
        if self._checked is not None and time.monotonic() - self._checked < settings.WEBHOOK_CACHE_SECONDS:
            return
        with self._lock:
            by_site: dict[int, list[tuple[int, list[str]]]] = {}
            for pk, site_id, events in Webhook.objects.filter(is_active=True).values_list("pk", "site_id", "events"):
                by_site.setdefault(site_id, []).append((pk, events))
            self._by_site, self._checked = by_site, time.monotonic()

    def any(self) -> bool:
        self._fresh()
        return bool(self._by_site)

    def wanting(self, site_id: int | None, event: str) -> list[int]:
        """Subscriptions of this site (of every site when None) that want the event."""
        self._fresh()
        groups = self._by_site.values() if site_id is None else [self._by_site.get(site_id, [])]
        return [pk for group in groups for pk, events in group if ALL in events or event in events]

    def reset(self) -> None:
        self._checked = None


subscriptions = _Subscriptions()


def emit(site_id: int | None, event: str, data: dict[str, Any]) -> list[Delivery]:
    """Record the event for each subscription that wants it and queue the deliveries on commit."""
    wanting = subscriptions.wanting(site_id, event)
    if not wanting:
        return []
    created = timezone.now()
    deliveries = []
    for webhook_id in wanting:
        event_id = uuid.uuid4()
        body = json.dumps({"event": event, "id": str(event_id), "created": created.isoformat(), "data": data},
                          separators=(",", ":"), sort_keys=True, default=str)
        deliveries.append(Delivery(webhook_id=webhook_id, event_id=event_id, event=event, body=body,
                                   next_attempt=created))
    with transaction.atomic():
        Delivery.objects.bulk_create(deliveries)
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: enqueue(ids))
    return deliveries


def enqueue(delivery_ids: list[int], countdown: float = 0) -> None:
    """Hand deliveries to Celery; if the broker is away, the sweeper sends them later."""
    from api.tasks import deliver

    for delivery_id in delivery_ids:
        try:
            deliver.apply_async((delivery_id,), countdown=countdown, retry=False)
        except Exception:  # the broker's failure must never reach the chat that emitted the event
            log.warning("could not queue webhook delivery %s; the sweeper will send it", delivery_id, exc_info=True)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base × 3^(attempts-1)."""
    return float(settings.WEBHOOK_RETRY_SECONDS * 3 ** (attempts - 1))


def attempt(delivery_id: int) -> str:
    """Send one delivery once; log it; schedule a retry, or count a spent delivery against its subscription.

    Steps: skip a delivery that is not pending (already sent by a duplicate task, or failed);
    fail it without sending if its subscription was disabled; POST the stored body with a fresh
    signature; on 2xx mark it delivered and clear the subscription's failure count; otherwise retry
    after backoff(n) until WEBHOOK_MAX_ATTEMPTS, then mark it failed and count the failure.
    """
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return "skipped"
    webhook = delivery.webhook
    if not webhook.is_active:
        delivery.status, delivery.last_error = Delivery.Status.FAILED, "subscription disabled"
        delivery.save(update_fields=["status", "last_error"])
        return delivery.status
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(webhook.secret, int(time.time()), delivery.body),
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Id": str(delivery.event_id),
    }
    result = outbound.post(webhook.url, delivery.body.encode(), headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    number = delivery.attempts + 1
    now = timezone.now()
    DeliveryAttempt.objects.create(delivery=delivery, number=number, status=result.status,
                                   response_ms=result.ms, error=result.error)
    delivery.attempts, delivery.last_status = number, result.status
    delivery.last_response_ms, delivery.last_error = result.ms, result.error
    fields = ["attempts", "last_status", "last_response_ms", "last_error", "status", "next_attempt", "delivered"]
    if result.ok:
        delivery.status, delivery.delivered, delivery.next_attempt = Delivery.Status.DELIVERED, now, None
        delivery.save(update_fields=fields)
        Webhook.objects.filter(pk=webhook.pk, failures__gt=0).update(failures=0)
        return delivery.status
    if number >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt = Delivery.Status.FAILED, None
        delivery.save(update_fields=fields)
        _count_failure(webhook, delivery)
        return delivery.status
    delay = backoff(number)
    delivery.next_attempt = now + timedelta(seconds=delay)
    delivery.save(update_fields=fields)
    transaction.on_commit(lambda: enqueue([delivery.pk], countdown=delay))
    return "retrying"


def _count_failure(webhook: Webhook, delivery: Delivery) -> None:
    with transaction.atomic():
        locked = Webhook.objects.select_for_update().get(pk=webhook.pk)
        locked.failures += 1
        if not locked.is_active or locked.failures < settings.WEBHOOK_DISABLE_AFTER:
            locked.save(update_fields=["failures"])
            return
        locked.is_active = False
        locked.disabled_reason = (
            f"Disabled {timezone.now():%Y-%m-%d %H:%M} UTC after {locked.failures} deliveries failed in a row "
            f"({settings.WEBHOOK_MAX_ATTEMPTS} attempts each); last: {delivery.last_error or delivery.last_status}"
        )[:500]
        locked.save(update_fields=["failures", "is_active", "disabled_reason"])
    subscriptions.reset()
    # The notice: in the log, on the subscription (admin and API), and to ADMINS when mail is set up.
    log.warning("webhook %s to %s disabled: %s", locked.pk, locked.url, locked.disabled_reason)
    mail_admins(f"Webhook disabled: {locked.url}", locked.disabled_reason, fail_silently=True)


def replay(delivery: Delivery) -> None:
    """Send a delivery again (same body and id), from the admin; re-enables nothing by itself."""
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING, attempts=0,
                                                   next_attempt=timezone.now(), delivered=None)
    transaction.on_commit(lambda: enqueue([delivery.pk]))


def enable(webhook: Webhook) -> None:
    Webhook.objects.filter(pk=webhook.pk).update(is_active=True, failures=0, disabled_reason="")
    subscriptions.reset()


STUCK_AFTER = timedelta(minutes=2)


def sweep() -> int:
    """Queue pending deliveries whose task was lost (broker away when they were made, worker died)."""
    ids = list(Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt__lt=timezone.now() - STUCK_AFTER)
               .values_list("pk", flat=True)[:1000])
    Delivery.objects.filter(pk__in=ids).update(next_attempt=timezone.now())
    enqueue(ids)
    return len(ids)


# Events, from the chat's and training's signals. A receiver never raises into the chat.


def _conversation_data(conversation: Conversation) -> dict[str, Any]:
    return {"id": str(conversation.public_id), "status": conversation.status,
            "visitor": str(conversation.visitor.public_id), "created": conversation.created.isoformat()}


def _message_data(message: Message, public_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"conversation": public_id, "seq": message.seq, "sender": message.sender,
                            "text": message.text, "created": message.created.isoformat()}
    if message.sender == Message.Sender.BOT:
        data.update(source=message.source, intent=message.intent or None, confidence=message.confidence,
                    model_version=message.model_version)
    return data


def _safely(handler: Any) -> Any:
    def receiver(sender: Any, **kwargs: Any) -> None:
        if not subscriptions.any():
            return
        try:
            with transaction.atomic():
                handler(**kwargs)
        except Exception:
            log.exception("webhook event from %s not recorded", handler.__name__)

    receiver.__name__ = handler.__name__
    return receiver


def _on_conversation_started(conversation: Conversation, **kwargs: Any) -> None:
    emit(conversation.site_id, "conversation.started", {"conversation": _conversation_data(conversation)})


def _on_messages_stored(messages: list[Message], **kwargs: Any) -> None:
    events: dict[str, str] = {Message.Sender.CUSTOMER: "message.customer", Message.Sender.BOT: "message.bot"}
    relevant = [m for m in messages if m.sender in events]
    if not relevant:
        return
    chats = {pk: (site_id, str(public_id)) for pk, site_id, public_id in Conversation.objects.filter(
        pk__in={m.conversation_id for m in relevant}).values_list("pk", "site_id", "public_id")}
    for message in relevant:
        if message.conversation_id in chats:
            site_id, public_id = chats[message.conversation_id]
            emit(site_id, events[message.sender], {"message": _message_data(message, public_id)})


def _on_handoff_requested(conversation: Conversation, reason: str, **kwargs: Any) -> None:
    emit(conversation.site_id, "handoff.requested",
         {"conversation": _conversation_data(conversation), "reason": reason})


def _chat(conversation_id: int) -> Conversation | None:
    return Conversation.objects.select_related("visitor").filter(pk=conversation_id).first()


def _on_agent_joined(conversation_id: int, agent: User, **kwargs: Any) -> None:
    conversation = _chat(conversation_id)
    if conversation is not None:
        emit(conversation.site_id, "agent.joined", {"conversation": _conversation_data(conversation),
                                                     "agent": agent.get_short_name() or agent.get_username()})


def _on_conversation_closed(conversation_id: int, resolution: str, **kwargs: Any) -> None:
    conversation = _chat(conversation_id)
    if conversation is not None:
        emit(conversation.site_id, "conversation.closed",
             {"conversation": _conversation_data(conversation), "resolution": resolution})


def _on_rating_created(rating: Rating, **kwargs: Any) -> None:
    conversation = _chat(rating.conversation_id)
    if conversation is not None:
        emit(conversation.site_id, "rating.created", {"conversation": _conversation_data(conversation),
                                                       "score": rating.score, "comment": rating.comment})


def _on_model_published(version: ModelVersion, **kwargs: Any) -> None:
    metrics = {k: version.metrics.get(k) for k in ("accuracy", "macro_f1", "oos_recall", "n_examples", "n_intents")}
    emit(None, "model.published", {"version": version.version, "metrics": metrics,
                                   "created": version.created.isoformat()})


def connect() -> None:
    """Listen to the chat's and training's signals (ApiConfig.ready)."""
    pairs = [
        (chat_signals.conversation_started, _on_conversation_started),
        (chat_signals.messages_stored, _on_messages_stored),
        (chat_signals.handoff_requested, _on_handoff_requested),
        (chat_signals.agent_joined, _on_agent_joined),
        (chat_signals.conversation_closed, _on_conversation_closed),
        (chat_signals.rating_created, _on_rating_created),
        (training_signals.model_published, _on_model_published),
    ]
    for signal, handler in pairs:
        signal.connect(_safely(handler), dispatch_uid=f"api.webhooks.{handler.__name__}", weak=False)
