"""Integrations' data: per-site API keys (stored hashed)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from chat.models import Site


class ApiKey(models.Model):
    """A site's key to the REST API; only the SHA-256 of the key is stored."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        ADMIN = "admin", "Admin (model versions, webhooks)"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100, help_text="What uses the key, e.g. “Helpdesk sync”.")
    # The key is `cbk_<prefix>_<secret>`: the prefix finds the row and names the key in the admin.
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed = models.CharField(max_length=64, editable=False)
    scopes = models.CharField(max_length=40, default="read", help_text="Comma-separated: read, write, admin.")
    rate_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute for this key; empty: API_RATE_PER_MINUTE."
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Agent messages posted with this key appear from this user (a service user if empty).",
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (cbk_{self.prefix}_…)"

    def scope_set(self) -> set[str]:
        return {scope.strip() for scope in self.scopes.split(",") if scope.strip()}


class Webhook(models.Model):
    """A site's subscription: events POSTed to a URL, signed with the subscription's secret."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text='Event names, or ["*"] for all.')
    # Kept readable: every delivery is signed with it. Shown once, when the subscription is made.
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True)
    failures = models.PositiveIntegerField(default=0, help_text="Deliveries failed in a row (all retries spent).")
    disabled_reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class Delivery(models.Model):
    """One event for one subscription: its body is fixed, its attempts are logged."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(unique=True, editable=False, help_text="The body's `id`: the same on every retry.")
    event = models.CharField(max_length=40)
    body = models.TextField(help_text="The exact JSON sent (and signed) on every attempt.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP status of the last attempt.")
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt"])]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """The log of one POST: status, response time, error."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    status = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP status; empty if none came back.")
    response_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_id", "number"]
