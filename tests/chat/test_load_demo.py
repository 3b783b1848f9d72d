"""`manage.py load_demo` on every start: the demo is added once, the owner's edits stay."""

import csv

import pytest
from django.core.management import call_command

from chat.management.commands.load_demo import DEMO_DIR
from chat.models import Site
from knowledge.models import Intent, TrainingExample
from knowledge.models import Ticket

pytestmark = pytest.mark.django_db


def demo_rows(name):
    with open(DEMO_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_demo_is_a_small_shop_worth_showing():
    intents = demo_rows("intents.csv")
    per_intent = {}
    for row in intents:
        per_intent[row["intent"]] = per_intent.get(row["intent"], 0) + 1
    curated = {name: n for name, n in per_intent.items() if name != "oos"}
    assert len(curated) >= 25 and min(curated.values()) >= 40
    assert per_intent["oos"] >= 100
    assert set(curated) == {row["intent"] for row in demo_rows("answers.csv")}
    tickets = demo_rows("tickets.csv")
    # A topic (key) may have been asked by several customers in different words.
    assert len({t["key"] for t in tickets}) >= 80 and len({t["question"] for t in tickets}) == len(tickets)


def test_loading_it_creates_the_site_intents_examples_and_approved_tickets():
    call_command("load_demo", verbosity=0)
    assert Site.objects.filter(public_key="demo").exists()
    assert Intent.objects.count() == len(demo_rows("answers.csv"))
    assert TrainingExample.objects.count() == len(demo_rows("intents.csv"))
    assert Ticket.objects.filter(status=Ticket.Status.APPROVED).count() == len(demo_rows("tickets.csv"))


def test_restarts_add_no_duplicate_tickets_or_examples():
    for _ in range(3):
        call_command("load_demo", verbosity=0)
    assert Ticket.objects.count() == len(demo_rows("tickets.csv"))
    assert TrainingExample.objects.count() == len(demo_rows("intents.csv"))


def test_the_owners_edits_to_the_site_and_answers_survive_a_restart():
    call_command("load_demo", verbosity=0)
    Site.objects.filter(public_key="demo").update(
        allowed_origins="https://shop.example.com", greeting="Welcome to our shop!"
    )
    Intent.objects.filter(name="order_status").update(answer="Our own words.", quick_replies=[])
    rejected = Ticket.objects.get(question=demo_rows("tickets.csv")[0]["question"])
    rejected.status = Ticket.Status.REJECTED
    rejected.save()

    call_command("load_demo", verbosity=0)

    site = Site.objects.get(public_key="demo")
    assert (site.allowed_origins, site.greeting) == ("https://shop.example.com", "Welcome to our shop!")
    assert Intent.objects.get(name="order_status").answer == "Our own words."
    assert Ticket.objects.get(pk=rejected.pk).status == Ticket.Status.REJECTED
    assert Ticket.objects.count() == len(demo_rows("tickets.csv"))


def test_a_restart_adds_back_only_what_is_missing():
    call_command("load_demo", verbosity=0)
    Intent.objects.filter(name="gift_cards").delete()
    Ticket.objects.filter(question=demo_rows("tickets.csv")[-1]["question"]).delete()

    call_command("load_demo", verbosity=0)

    assert Intent.objects.filter(name="gift_cards").exists()
    assert Ticket.objects.count() == len(demo_rows("tickets.csv"))
