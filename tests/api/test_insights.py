"""The insights figures through the API: the dashboard's numbers for the key's site."""

import datetime as dt

import pytest
from django.utils import timezone

from chat.models import Conversation, Message, Visitor
from tests.api_support import api_client, error_code, key_for

pytestmark = pytest.mark.django_db


def test_the_sites_figures_for_a_range_come_with_each_day(site):
    chat = Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
    Message.objects.create(conversation=chat, seq=1, sender="customer", text="where is my parcel")
    Message.objects.create(conversation=chat, seq=2, sender="bot", text="Track it.", source="answer", intent="x")
    today = timezone.now().date()
    body = api_client(key_for(site, "read")).get("/api/v1/insights/", {
        "start": (today - dt.timedelta(days=2)).isoformat(), "end": today.isoformat()}).json()
    assert body["site"] == "test-site" and body["conversations"] == 1 and body["containment_rate"] == 1.0
    assert [d["day"] for d in body["days"]][-1] == today.isoformat() and len(body["days"]) == 3


def test_a_backwards_range_is_refused(site):
    response = api_client(key_for(site, "read")).get("/api/v1/insights/", {"start": "2026-12-01", "end": "2026-11-01"})
    assert response.status_code == 400 and error_code(response) == "invalid"
