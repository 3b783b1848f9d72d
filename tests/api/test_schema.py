"""The OpenAPI schema is valid and complete, and its interactive page needs no CDN."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

RESOURCES = {
    "/api/v1/conversations/": {"get"},
    "/api/v1/conversations/{id}/": {"get"},
    "/api/v1/conversations/{id}/messages/": {"get", "post"},
    "/api/v1/conversations/{id}/handoff/": {"post"},
    "/api/v1/conversations/{id}/close/": {"post"},
    "/api/v1/intents/": {"get", "post"},
    "/api/v1/intents/{name}/": {"get", "put", "patch", "delete"},
    "/api/v1/tickets/": {"get", "post"},
    "/api/v1/tickets/{id}/": {"get", "put", "patch", "delete"},
    "/api/v1/tickets/import/": {"post"},
    "/api/v1/model-versions/": {"get"},
    "/api/v1/model-versions/retrain/": {"post"},
    "/api/v1/model-versions/{version}/activate/": {"post"},
    "/api/v1/training-runs/{id}/": {"get"},
    "/api/v1/webhooks/": {"get", "post"},
    "/api/v1/webhooks/{id}/": {"get", "patch", "delete"},
    "/api/v1/webhooks/{id}/deliveries/": {"get"},
}


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_resource_and_method_is_in_the_schema(schema):
    for path, methods in RESOURCES.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), (path, set(schema["paths"][path]))


def test_every_operation_needs_the_bearer_key_and_documents_the_error_shape(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"bearerAuth": []} in operation["security"], (path, method)
            assert operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_lists_are_cursor_paginated_in_the_schema(schema):
    listed = schema["paths"]["/api/v1/conversations/"]["get"]
    assert "cursor" in {p["name"] for p in listed["parameters"]}


def test_the_docs_page_loads_its_assets_from_this_server():
    page = Client().get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    for asset in assets:
        assert asset.startswith("/static/")
        assert finders.find(asset.removeprefix("/static/")), asset


def test_the_insights_figures_are_in_the_schema(schema):
    assert "get" in schema["paths"]["/api/v1/insights/"]
