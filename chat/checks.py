"""System checks: misconfiguration is reported at start-up, not at the first chat."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def artifacts_dir_is_writable(app_configs, **kwargs):
    path = settings.ARTIFACTS_DIR
    parent = path if path.exists() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        return [Error(f"ARTIFACTS_DIR {path} is not writable", hint="Point ARTIFACTS_DIR at a writable directory.",
                      id="chat.E001")]
    return []


@register()
def base_model_is_present(app_configs, **kwargs):
    if not any(settings.BASE_MODEL_DIR.glob("*.json")):
        return [Warning(f"no pretrained base model in {settings.BASE_MODEL_DIR}: retraining will fail",
                        hint="Run `python manage.py pretrain --data-dir PATH` or set BASE_MODEL_DIR.", id="chat.W001")]
    return []


@register(Tags.security, deploy=True)
def secret_key_is_not_the_development_one(app_configs, **kwargs):
    if settings.USING_DEV_SECRET:
        return [Error("SECRET_KEY is the development key", hint="Set SECRET_KEY in the environment.", id="chat.E002")]
    return []


@register(Tags.security)
def production_has_its_own_secret_key(app_configs, **kwargs):
    """Outside DEBUG the development key is refused by every command and by the web process:
    it is public (in this repository), so sessions and password-reset links could be forged."""
    if not settings.DEBUG and settings.USING_DEV_SECRET:
        return [Error("SECRET_KEY is not set and DEBUG is off: the development key is public",
                      hint="Set SECRET_KEY in the environment (e.g. python -c 'import secrets; "
                      "print(secrets.token_urlsafe(50))'), or DEBUG=true for development.", id="chat.E003")]
    return []


@register(deploy=True)
def redis_is_configured_for_production(app_configs, **kwargs):
    if not settings.REDIS_URL:
        return [Warning("REDIS_URL is not set: agents and customers on different web processes cannot reach "
                        "each other, and Celery uses a local filesystem broker",
                        hint="Set REDIS_URL=redis://host:6379/0 in production.", id="chat.W002")]
    return []


@register(deploy=True)
def mail_is_configured(app_configs, **kwargs):
    """Offline messages, customers' emails and transcripts go out by mail: without a server they are lost."""
    if not settings.EMAIL_HOST:
        return [Warning("EMAIL_HOST is not set: the team hears of no offline message and no transcript is sent",
                        hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS).",
                        id="chat.W010")]
    return []
