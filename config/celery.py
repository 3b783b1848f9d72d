import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(loglevel: int | str | None = None, **kwargs: object) -> None:
    """The worker logs through Django's LOGGING, whose handlers redact personal data.

    Without a receiver for this signal Celery replaces the root logger's handlers with its own,
    and a task's log line (or a traceback quoting a customer's message) would skip the filter.
    The worker's own `--loglevel` still sets how much Celery itself says.
    """
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)
