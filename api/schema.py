"""OpenAPI generation (drf-spectacular): the bearer scheme, and the error shape on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from api.errors import Error

ERRORS = {
    "400": "Invalid request (code `invalid`, with `fields`)",
    "401": "No valid API key",
    "403": "The key lacks the scope",
    "404": "Not found",
    "429": "Rate limit reached (see Retry-After)",
}


class Schema(AutoSchema):
    """Documents the common error responses (errors.Error) beside each operation's own."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            if code == "400" and self.method in ("GET", "DELETE") and not self._is_list_view():
                continue
            if code not in responses:
                response = self._get_response_for_code(Error, code, direction=direction)
                response["description"] = description
                responses[code] = response
        return responses


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.keys.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A site's API key: `Authorization: Bearer cbk_…`"}
