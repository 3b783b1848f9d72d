"""Admin for API keys: created here (the key is shown once), revoked here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api import keys, webhooks
from api.models import ApiKey, Delivery, DeliveryAttempt, Webhook


class ApiKeyForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(
        label="Scopes", choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=["read"],
    )

    class Meta:
        model = ApiKey
        fields = ["site", "name", "scope_choices", "rate_per_minute", "agent"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scope_choices"] = sorted(self.instance.scope_set())

    def clean_scope_choices(self) -> str:
        try:
            return ",".join(keys.parse_scopes(self.cleaned_data["scope_choices"]))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    form = ApiKeyForm
    list_display = ["name", "site", "key_prefix", "scopes", "rate_per_minute", "created", "last_used", "revoked"]
    list_filter = ["site", "revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["key_prefix", "created", "last_used", "revoked"]
    actions = ["revoke"]

    @admin.display(description="Key")
    def key_prefix(self, key: ApiKey) -> str:
        return f"cbk_{key.prefix}_…" if key.prefix else "-"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        obj.scopes = form.cleaned_data["scope_choices"]
        if change:
            obj.save()
            return
        prefix, secret = keys.new_secret()
        obj.prefix, obj.hashed = prefix, keys._digest(secret)
        obj.save()
        self.message_user(request, f"Copy the new key now; it is not shown again: {secret}", messages.WARNING)

    @admin.action(description="Revoke the selected keys (requests with them get 401)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            keys.revoke(key)
        self.message_user(request, f"Revoked {queryset.count()} keys.")


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[("*", "All events")] + [(e, e) for e in webhooks.EVENTS], widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["site", "url", "events", "is_active"]

    def clean_events(self) -> list[str]:
        try:
            return webhooks.clean_events(self.cleaned_data["events"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin[Webhook]):
    form = WebhookForm
    list_display = ["url", "site", "event_list", "is_active", "failures", "disabled_reason", "created"]
    list_filter = ["is_active", "site"]
    readonly_fields = ["failures", "disabled_reason", "created"]
    actions = ["enable"]

    @admin.display(description="Events")
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events)

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        if not change:
            obj.secret = webhooks.new_secret()
        obj.save()
        webhooks.subscriptions.reset()
        if not change:
            self.message_user(request, f"Give the receiver this signing secret; it is not shown again: {obj.secret}",
                              messages.WARNING)

    @admin.action(description="Enable the selected subscriptions again (clears their failure count)")
    def enable(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            webhooks.enable(webhook)
        self.message_user(request, f"Enabled {queryset.count()} subscriptions.")


class AttemptInline(admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    fields = ("number", "status", "response_ms", "error", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    list_display = ["event", "event_id", "webhook", "status", "attempts", "last_status", "last_response_ms",
                    "created", "delivered"]
    list_filter = ["status", "event", "webhook"]
    search_fields = ["event_id"]
    readonly_fields = ["webhook", "event_id", "event", "body", "status", "attempts", "next_attempt", "last_status",
                       "last_response_ms", "last_error", "created", "delivered"]
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay: send the selected deliveries again (same id and body)")
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        disabled = 0
        for delivery in queryset.select_related("webhook"):
            webhooks.replay(delivery)
            disabled += not delivery.webhook.is_active
        note = f" {disabled} belong to disabled subscriptions: enable those first." if disabled else ""
        self.message_user(request, f"Queued {queryset.count()} deliveries again.{note}")
