"""The API's one error shape: `{"error": {"code", "message", "fields"?}}` for every 4xx."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: not_authenticated, scope_missing, invalid, …")
    message = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        required=False, help_text="With code `invalid`: each invalid field's messages (`non_field_errors` for the whole)."
    )


class Error(serializers.Serializer):
    error = ErrorBody()


def _code(detail: Any, default: str) -> str:
    return str(getattr(detail, "code", None) or default)


def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped; anything DRF does not handle stays a 500."""
    if isinstance(exc, Http404):  # DRF turns these into 404/403 but keeps the exception's class
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        body: dict[str, Any] = {"code": "invalid", "message": "the request is not valid; see fields", "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        default = exc.default_code if isinstance(exc, exceptions.APIException) else "error"
        body = {"code": _code(detail, str(default)), "message": str(detail)}
    response.data = {"error": body}
    return response
