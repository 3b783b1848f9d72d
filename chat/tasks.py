"""Celery tasks of the chat: each is one line calling a plain function."""

from celery import shared_task


@shared_task
def apply_retention() -> int:
    from chat.retention import anonymize_expired, purge_empty_conversations, purge_erased_tickets

    return anonymize_expired() + purge_erased_tickets() + purge_empty_conversations()


@shared_task
def requeue_abandoned_chats() -> int:
    from chat.handoff import publish, requeue_abandoned

    requeued = requeue_abandoned()
    publish(requeued)
    return len(requeued)


@shared_task
def expire_waiting_chats() -> int:
    from chat.handoff import expire_waiting, publish

    expired = expire_waiting()
    publish(expired)
    return len(expired)


@shared_task
def notify_team(conversation_id: int, kind: str) -> bool:
    from chat.mail import notify_team

    return notify_team(conversation_id, kind)


@shared_task
def send_transcript(conversation_id: int) -> bool:
    from chat.mail import send_transcript

    return send_transcript(conversation_id)
