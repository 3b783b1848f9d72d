"""Celery tasks of the insights: each is one line calling a plain function."""

from celery import shared_task


@shared_task
def rollup_recent() -> int:
    from insights.metrics import rollup_recent

    return rollup_recent()


@shared_task
def compute_content_gaps(run_id: int) -> str:
    from insights.gaps import compute

    return compute(run_id).status


@shared_task
def refresh_content_gaps() -> int:
    from insights.gaps import refresh_all

    return refresh_all()
