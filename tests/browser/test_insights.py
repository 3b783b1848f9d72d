"""Insights in a real Chromium: ratings reach the dashboard, content gaps become intents, CSVs match charts."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_support import STAFF_PASSWORD, STAFF_USER

pytestmark = pytest.mark.browser


# Set to a folder (e.g. docs/screenshots) to save the dashboard and content-gap screenshots there.
SCREENSHOTS = os.environ.get("INSIGHTS_SCREENSHOTS")

GIFT_CARDS = [
    "Do you sell gift cards?", "can I buy a gift card", "gift card for my sister's birthday",
    "how do gift cards work", "Is there a gift card I can send by email?", "do you have gift vouchers or gift cards",
]
OTHERS = ["Can I pay with bitcoin?", "do you ship to Antarctica", "Are your mugs dishwasher safe?"]


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "accept_downloads": True,
                                         **options})
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def worker(browser_stack):
    """A Celery worker on the stack's database and broker (the content gaps run there)."""
    yield browser_stack.start_celery("celery-insights")
    browser_stack.kill("celery-insights")


def sign_in(page, stack, to="/insights/?site=demo"):
    page.goto(stack.url(0, f"/accounts/login/?next={to}"))
    page.get_by_label("Username").fill(STAFF_USER)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(to.split("?")[0])))


def open_widget(page):
    page.get_by_role("button", name="Open chat").click()
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_label("Message")).to_be_focused()
    return chat


def ask(chat, text, answers_before):
    chat.get_by_label("Message").fill(text)
    chat.get_by_role("button", name="Send", exact=True).click()
    # The first answer of a fresh server waits for its answer helper process to start.
    expect(chat.locator(".from-bot:not(.is-greeting)")).to_have_count(answers_before + 1, timeout=30_000)


def table(page, chart):
    """A chart's numbers as shown under it: header and rows of text."""
    figure = page.locator(f"#chart-{chart}")
    figure.locator("summary").click()
    header = figure.locator("thead th").all_inner_texts()
    rows = [row.locator("td").all_inner_texts() for row in figure.locator("tbody tr").all()]
    return [header, *rows]


def ratings_of_four(page, stack):
    page.goto(stack.url(0, "/insights/?site=demo"))
    return int(dict(row for row in table(page, "satisfaction")[1:])["4"])


def test_a_conversation_rated_4_shows_in_the_dashboards_satisfaction(new_page, browser_stack, host):
    owner = new_page()
    sign_in(owner, browser_stack)
    before = ratings_of_four(owner, browser_stack)

    customer = new_page()
    customer.goto(host.page())
    chat = open_widget(customer)
    ask(chat, "Do you deliver on Sundays?", 0)
    chat.get_by_role("button", name="Close chat").click()  # leaving after the bot answered
    chat.get_by_role("radio", name="4 of 5: Good").click()
    chat.get_by_label("Anything to add? (optional)").fill("Quick, but I still need a person")
    chat.get_by_role("button", name="Send rating").click()
    expect(customer.get_by_role("button", name="Open chat")).to_be_visible()  # the widget closed

    assert ratings_of_four(owner, browser_stack) == before + 1
    expect(owner.locator("#kpi-satisfaction")).to_contain_text("/ 5")
    stored = browser_stack.shell("from chat.models import Rating; r = Rating.objects.latest('created'); print(r.score, r.comment)")
    assert stored.strip() == "4 Quick, but I still need a person"
    if SCREENSHOTS:
        owner.screenshot(path=str(Path(SCREENSHOTS) / "insights-dashboard.png"), full_page=True)


def test_unanswered_questions_become_a_content_gap_that_one_click_turns_into_an_intent(new_page, browser_stack, host, worker):
    customer = new_page()
    customer.goto(host.page())
    chat = open_widget(customer)
    for i, text in enumerate(GIFT_CARDS + OTHERS):  # no trained model here: every one gets the fallback
        ask(chat, text, i)

    owner = new_page()
    sign_in(owner, browser_stack, "/insights/gaps/?site=demo")
    owner.get_by_label("Last").fill("1")
    owner.get_by_role("button", name="Recompute now").click()
    topic = owner.locator(".topic").filter(has_text="gift card").first  # the page reloads when the run is done
    expect(topic.locator(".topic-size")).to_have_text("6", timeout=60_000)  # a worker busy on a loaded machine
    expect(topic.locator(".topic-samples li")).to_have_count(6)
    if SCREENSHOTS:
        owner.screenshot(path=str(Path(SCREENSHOTS) / "insights-content-gaps.png"), full_page=True)

    # Curating needs the model permissions, as in the review queue.
    browser_stack.shell(
        "from django.contrib.auth.models import Permission, User; "
        f"User.objects.get(username={STAFF_USER!r}).user_permissions.add("
        "*Permission.objects.filter(codename__in=['add_trainingexample', 'add_intent']))"
    )
    topic.get_by_label("New intent").fill("buying_gift_cards")
    topic.get_by_label("Answer").fill("Yes! Gift cards from €10 are in the shop, sent by email.")
    topic.get_by_role("button", name="Create intent from these questions").click()

    expect(owner.get_by_text("Created intent buying_gift_cards with 6 examples")).to_be_visible()
    examples = browser_stack.shell(
        "from knowledge.models import TrainingExample as T; "
        "print('\\n'.join(sorted(T.objects.filter(intent__name='buying_gift_cards').values_list('text', flat=True))))"
    )
    assert examples.splitlines() == sorted(GIFT_CARDS)


def test_a_charts_csv_download_matches_the_numbers_under_it(new_page, browser_stack):
    page = new_page()
    sign_in(page, browser_stack)
    for chart in ["rates", "satisfaction", "conversations"]:
        shown = table(page, chart)
        with page.expect_download() as download:
            page.locator(f"#chart-{chart} a.csv").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows == shown


def test_thumbs_down_offers_a_person_or_a_comment_sent_to_the_chat(new_page, browser_stack, host):
    customer = new_page()
    customer.goto(host.page())
    chat = open_widget(customer)
    ask(chat, "Shipping times", 0)  # a quick reply's label: the curated answer, with thumbs
    # The first answer itself, not "the last bot message": the bot's reply to the comment below
    # becomes the last one, and a lazy `.last` would then look for the thanks in that reply.
    answer = chat.locator(".from-bot:not(.is-greeting)").first
    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.get_by_role("button", name="Talk to a person")).to_be_visible()
    answer.get_by_role("button", name="Tell us what was missing").click()
    answer.get_by_label("What were you looking for?").fill("shipping to Iceland")
    answer.get_by_role("button", name="Send", exact=True).click()
    expect(answer.get_by_text("Thanks: we'll use this to improve.")).to_be_visible()
    expect(chat.locator(".from-customer").last).to_contain_text("shipping to Iceland")
    expect(chat.locator(".from-bot:not(.is-greeting)")).to_have_count(2, timeout=30_000)  # the bot tries again
