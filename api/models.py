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
