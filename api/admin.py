"""Admin for API keys: created here (the key is shown once), revoked here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api import keys
from api.models import ApiKey


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
