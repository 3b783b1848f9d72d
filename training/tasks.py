"""Celery tasks: each is one line calling a plain function that a command also calls."""

from celery import shared_task


@shared_task(acks_late=False)
def retrain(run_id: int) -> str:
    # acks_late off: a worker killed mid-training must not have the run redelivered and rerun;
    # the dead run is marked failed by the next run or by the reaper below.
    from training.pipeline import retrain as run

    return run(run_id).status


@shared_task
def retrain_if_enough_new_data() -> int | None:
    from training.schedule import retrain_if_enough_new_data as check

    return check()


@shared_task
def reap_dead_runs() -> int:
    from training.pipeline import reap_dead_runs as reap

    return reap()
