"""Intents (with examples and answers) and tickets (CRUD, bulk import) through the API."""

import pytest

from knowledge.catalog import catalog
from knowledge.models import Intent, Ticket, TrainingExample
from tests.api_support import api_client, error_code, key_for

pytestmark = pytest.mark.django_db

LOYALTY = {
    "name": "loyalty_points",
    "description": "Loyalty points",
    "answer": "You earn <b>1 point</b> per euro.",
    "quick_replies": ["Talk to a person"],
    "examples": ["how many loyalty points do I have", "check my points balance"],
}


def test_an_intent_is_created_with_its_examples_and_answer(site):
    client = api_client(key_for(site, "read,write"))
    response = client.post("/api/v1/intents/", LOYALTY, content_type="application/json")
    assert response.status_code == 201, response.content
    intent = Intent.objects.get(name="loyalty_points")
    assert sorted(intent.examples.values_list("text", flat=True)) == sorted(LOYALTY["examples"])
    assert catalog.get("loyalty_points").answer == LOYALTY["answer"]
    body = client.get("/api/v1/intents/loyalty_points/").json()
    assert body["examples"] == LOYALTY["examples"] and body["quick_replies"] == ["Talk to a person"]


def test_writing_examples_makes_them_exactly_the_list(site):
    client = api_client(key_for(site, "read,write"))
    client.post("/api/v1/intents/", LOYALTY, content_type="application/json")
    kept = TrainingExample.objects.get(text="check my points balance")
    response = client.patch("/api/v1/intents/loyalty_points/",
                            {"examples": ["check my points balance", "redeem my points"]},
                            content_type="application/json")
    assert sorted(response.json()["examples"]) == ["check my points balance", "redeem my points"]
    assert TrainingExample.objects.filter(pk=kept.pk).exists()  # untouched, not recreated
    client.patch("/api/v1/intents/loyalty_points/", {"answer": "Changed."}, content_type="application/json")
    assert Intent.objects.get().examples.count() == 2


def test_a_duplicate_or_nameless_intent_is_refused_with_its_fields(site):
    client = api_client(key_for(site, "write"))
    client.post("/api/v1/intents/", LOYALTY, content_type="application/json")
    response = client.post("/api/v1/intents/", {**LOYALTY, "quick_replies": "nope"}, content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert set(response.json()["error"]["fields"]) == {"name", "quick_replies"}
    assert client.post("/api/v1/intents/", {"answer": "x"}, content_type="application/json").status_code == 400


def test_deleting_an_intent_deletes_its_examples(site):
    client = api_client(key_for(site, "write"))
    client.post("/api/v1/intents/", LOYALTY, content_type="application/json")
    assert client.delete("/api/v1/intents/loyalty_points/").status_code == 204
    assert not TrainingExample.objects.exists()


def test_intents_list_in_name_order(site):
    for name in ("returns", "billing", "shipping"):
        Intent.objects.create(name=name)
    body = api_client(key_for(site, "read")).get("/api/v1/intents/?limit=2").json()
    assert [i["name"] for i in body["results"]] == ["billing", "returns"] and body["next"]


def test_a_ticket_goes_through_create_approve_edit_and_delete(site):
    client = api_client(key_for(site, "read,write"))
    created = client.post("/api/v1/tickets/", {"question": "parcel crushed", "resolution": "We replace it."},
                          content_type="application/json").json()
    assert created["status"] == "proposed"
    approved = client.patch(f"/api/v1/tickets/{created['id']}/", {"status": "approved"},
                            content_type="application/json").json()
    assert approved["status"] == "approved" and approved["approved_at"]
    assert client.get("/api/v1/tickets/", {"status": "approved"}).json()["results"][0]["id"] == created["id"]
    assert client.delete(f"/api/v1/tickets/{created['id']}/").status_code == 204
    assert not Ticket.objects.exists()


def test_tickets_are_imported_in_bulk_from_json(site):
    rows = [{"question": f"question {i}", "resolution": f"answer {i}", "intent": "shipping"} for i in range(30)]
    response = api_client(key_for(site, "write")).post("/api/v1/tickets/import/", {"tickets": rows, "approved": True},
                                                       content_type="application/json")
    assert response.status_code == 201 and response.json() == {"created": 30, "skipped": 0, "approved": True}
    assert Ticket.objects.filter(status=Ticket.Status.APPROVED, intent="shipping").count() == 30


def test_a_bulk_import_with_one_bad_row_stores_nothing_and_names_the_row(site):
    rows = [{"question": "fine", "resolution": "fine"}, {"question": "no answer"}]
    response = api_client(key_for(site, "write")).post("/api/v1/tickets/import/", {"tickets": rows},
                                                       content_type="application/json")
    assert response.status_code == 400
    # Only the bad rows, by index.
    assert response.json()["error"]["fields"]["tickets"] == {"1": {"resolution": ["This field is required."]}}
    assert not Ticket.objects.exists()


def test_tickets_are_imported_from_a_csv_upload(site, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("question,answer,intent\nwhere is my parcel,Track it under Orders,shipping\nno answer,,\n")
    with open(path, "rb") as upload:
        response = api_client(key_for(site, "write")).post("/api/v1/tickets/import/", {"file": upload})
    assert response.json() == {"created": 1, "skipped": 1, "approved": False}
    path.write_text("q,a\nx,y\n")
    with open(path, "rb") as upload:
        response = api_client(key_for(site, "write")).post("/api/v1/tickets/import/", {"file": upload})
    assert response.status_code == 400 and "no column" in response.json()["error"]["fields"]["file"][0]
