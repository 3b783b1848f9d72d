"""Celery tasks of the integrations: each is one line calling a plain function in api.webhooks."""

from celery import shared_task


@shared_task
def deliver(delivery_id: int) -> str:
    from api.webhooks import attempt

    return attempt(delivery_id)


@shared_task
def sweep_webhooks() -> int:
    from api.webhooks import sweep

    return sweep()
