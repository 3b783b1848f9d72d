"""Never stranded, in a real Chromium: the no-agent journey in the widget outside business hours, and
the agent console that knows who the customer is.

The shop `closed-shop` keeps Berlin hours on every day but today, so whenever the test runs
nobody is there until tomorrow at 09:00. A Celery worker sends the team's mail to a real local
SMTP server (aiosmtpd) running in the test process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_support import sign_in
from tests.mail_support import Inbox

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Set SAVE_SCREENSHOTS=1 to refresh docs/screenshots/ from these tests.
SAVE = os.environ.get("SAVE_SCREENSHOTS") == "1"

CLOSED_SHOP = """
from datetime import datetime, time
from zoneinfo import ZoneInfo
from chat.models import Site
today = str(datetime.now(ZoneInfo("Europe/Berlin")).isoweekday())
Site.objects.update_or_create(public_key="closed-shop", defaults=dict(
    name="Closed shop", allowed_origins="http://localhost:*\\nhttp://127.0.0.1:*",
    time_zone="Europe/Berlin", opens_at=time(9), closes_at=time(17),
    open_days="".join(d for d in "1234567" if d != today), team_email="team@shop.example.com",
    language="en"))
Site.objects.update_or_create(public_key="german-shop", defaults=dict(
    name="Deutscher Laden", allowed_origins="http://localhost:*\\nhttp://127.0.0.1:*", language="de",
    greeting="Hallo! Wie kann ich helfen?"))
"""


def screenshot(target, name: str) -> None:
    if SAVE:
        target.screenshot(path=str(SCREENSHOTS / name))


@pytest.fixture(scope="module")
def smtp(browser_stack):
    """A real SMTP server here, and a Celery worker on the chat server's database and broker sending to it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        browser_stack.shell(CLOSED_SHOP)
        browser_stack.start_celery("celery-mail", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port),
                                   CHAT_PUBLIC_URL=browser_stack.url(0, ""))
        yield inbox
    finally:
        if "celery-mail" in browser_stack.processes:
            browser_stack.kill("celery-mail")
        controller.stop()


def open_widget(page):
    page.get_by_role("button", name="Open chat").click()
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_label("Message")).to_be_focused()
    return chat


def say(chat, text: str) -> None:
    chat.get_by_label("Message").fill(text)
    chat.get_by_role("button", name="Send", exact=True).click()


def test_outside_business_hours_a_customer_is_told_when_people_are_back_leaves_an_email_and_keeps_the_bot(
        new_page, host, smtp):
    page = new_page()
    page.goto(host.page("closed-shop"))
    chat = open_widget(page)
    log = chat.get_by_role("log")

    say(chat, "I want to talk to a real human")
    expect(chat.get_by_text("Waiting for an agent…")).to_be_visible()
    expect(log).to_contain_text("Our team is away right now; a person will be back tomorrow at 09:00 "
                                "(Europe/Berlin time)")
    chat.get_by_label("Leave your email").fill("sam@example.com")
    chat.get_by_role("button", name="Save email").click()
    expect(chat.get_by_text("Thanks! We'll reply to sam@example.com.")).to_be_visible()
    [notice] = smtp.wait_for(1, timeout=30)
    assert notice["To"] == "team@shop.example.com"
    assert notice["Subject"] == "sam@example.com left their email on Closed shop"
    assert "I want to talk to a real human" in notice.get_content()

    # The bot keeps answering while the chat waits: every message gets a reply.
    bot = chat.locator(".from-bot:not(.is-greeting)")
    before = bot.count()
    say(chat, "hello? is anyone there?")
    expect(bot).to_have_count(before + 1)
    say(chat, "how long does standard delivery take?")
    expect(bot).to_have_count(before + 2)
    screenshot(page, "widget-no-agent.png")

    chat.get_by_role("button", name="Stop waiting and chat with the bot").click()
    expect(chat.get_by_text("Replies instantly")).to_be_visible()
    expect(log).to_contain_text("You're chatting with the bot again.")
    say(chat, "do you ship abroad?")
    expect(bot).to_have_count(before + 3)


def test_the_console_shows_the_customers_email_page_and_earlier_conversation(new_page, host, browser_stack, smtp):
    customer = new_page()
    customer.goto(host.page("closed-shop"))
    chat = open_widget(customer)
    say(chat, "Do you sell gift cards for Christmas?")
    expect(chat.locator(".from-bot:not(.is-greeting)")).to_have_count(1)
    chat.get_by_role("button", name="New chat").click()
    chat.get_by_role("button", name="Start new conversation").click()
    expect(chat.get_by_text("Do you sell gift cards for Christmas?")).to_have_count(0)
    say(chat, "I want to talk to a person about my order 5521")
    chat.get_by_label("Leave your email").fill("robin@example.com")
    chat.get_by_role("button", name="Save email").click()
    expect(chat.get_by_text("Thanks! We'll reply to robin@example.com.")).to_be_visible()

    agent = new_page()
    sign_in(agent, browser_stack)
    row = agent.locator(".queue-item[data-status='waiting']").filter(has_text="robin@example.com")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("I want to talk to a person about my order 5521")
    row.click()
    expect(agent.locator("#conversation-title")).to_contain_text("robin@example.com")
    card = agent.get_by_role("region", name="Customer")
    expect(card).to_contain_text("robin@example.com")
    expect(card).to_contain_text(f"{host.url}/")
    expect(card).to_contain_text("Do you sell gift cards for Christmas?")
    screenshot(agent, "agent-console-customer.png")

    card.get_by_role("button", name="Do you sell gift cards").click()
    expect(agent.get_by_role("log")).to_contain_text("Do you sell gift cards for Christmas?")


def test_a_german_site_shows_german_in_the_widget_its_notices_and_the_fallback(new_page, host, smtp):
    page = new_page()
    page.goto(host.page("german-shop"))
    page.get_by_role("button", name="Chat öffnen").click()  # the launcher on the shop's page speaks German too
    chat = page.frame_locator("chat-widget iframe")
    expect(page.get_by_role("button", name="Chat schließen")).to_be_visible()
    log = chat.get_by_role("log", name="Gespräch")
    expect(chat.get_by_text("Antwortet sofort")).to_be_visible()
    expect(chat.get_by_label("Nachricht")).to_have_attribute("placeholder", "Nachricht schreiben…")
    chat.get_by_label("Nachricht").fill("Wie lange dauert der Versand?")
    chat.get_by_role("button", name="Senden", exact=True).click()
    expect(log).to_contain_text("Entschuldigung, dabei kann ich vermutlich nicht helfen.")
    chat.get_by_role("button", name="Mit einem Menschen sprechen").first.click()
    expect(chat.get_by_text("Warten auf einen Mitarbeiter…")).to_be_visible()
    expect(log).to_contain_text("Gerade ist kein Mitarbeiter online")
    expect(chat.get_by_text("Gerade ist niemand erreichbar")).to_be_visible()
    expect(chat.get_by_role("button", name="Nicht mehr warten und mit dem Bot chatten")).to_be_visible()
    screenshot(page, "widget-de.png")
