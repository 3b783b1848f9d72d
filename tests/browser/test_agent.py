"""The agent console in a real Chromium, against a customer using the widget on a shop page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_support import sign_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"




def test_the_console_sends_strangers_to_the_login_page(new_page, browser_stack):
    page = new_page()
    page.goto(browser_stack.url(0, "/agent/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/agent/$"))
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()


def test_a_customer_who_asks_for_a_person_gets_an_agent_who_replies_live(new_page, browser_stack, host):
    customer = new_page()
    customer.goto(host.page())
    customer.get_by_role("button", name="Open chat").click()
    chat = customer.frame_locator("chat-widget iframe")
    chat.get_by_label("Message").fill("My parcel arrived broken")
    chat.get_by_role("button", name="Send", exact=True).click()
    expect(chat.locator(".from-bot:not(.is-greeting)")).to_have_count(1)

    # Nobody is online yet: the customer is offered to leave an email.
    chat.get_by_role("button", name="Talk to a person").first.click()
    expect(chat.get_by_text("Waiting for an agent…")).to_be_visible()
    chat.get_by_label("Leave your email").fill("not-an-email")
    chat.get_by_role("button", name="Save email").click()
    expect(chat.get_by_role("alert")).to_contain_text("email")
    chat.get_by_label("Leave your email").fill("sam@example.com")
    chat.get_by_role("button", name="Save email").click()
    expect(chat.get_by_text("Thanks! We'll reply to sam@example.com.")).to_be_visible()

    agent = new_page()
    sign_in(agent, browser_stack)
    expect(agent).to_have_url(browser_stack.url(0, "/agent/"))
    waiting = agent.locator(".queue-item[data-status='waiting']").filter(has_text="customer asked")
    expect(waiting).to_have_count(1)
    conversation = waiting.get_attribute("data-conversation")
    waiting.click()
    expect(agent.get_by_role("log")).to_contain_text("My parcel arrived broken")

    agent.get_by_role("button", name="Join", exact=True).click()
    expect(chat.get_by_role("log")).to_contain_text("Alex joined the chat.")
    expect(chat.get_by_text("You're chatting with a person")).to_be_visible()

    agent.get_by_label("Reply").press_sequentially("Hi")
    expect(chat.get_by_text("The agent is typing")).to_be_visible()
    agent.get_by_label("Reply").press("Enter")
    expect(chat.locator(".from-agent")).to_contain_text("Hi")
    expect(chat.get_by_text("You're chatting with Alex")).to_be_visible()

    chat.get_by_label("Message").press_sequentially("Photo")
    expect(agent.get_by_text("Customer is typing…")).to_be_visible()
    chat.get_by_label("Message").fill("<img src=x onerror=alert(1)>")
    chat.get_by_role("button", name="Send", exact=True).click()
    expect(agent.get_by_text("<img src=x onerror=alert(1)>", exact=True)).to_be_visible()
    expect(agent.locator("#log img")).to_have_count(0)

    # A reply while the panel is closed lights the launcher's badge.
    chat.get_by_role("button", name="Close chat").click()
    agent.get_by_label("Insert a canned answer").select_option(label="Shipping times")
    expect(agent.get_by_label("Reply")).to_have_value(re.compile("business days"))
    agent.get_by_role("button", name="Send reply").click()
    expect(customer.get_by_role("button", name="Open chat, 1 unread message")).to_be_visible()
    customer.get_by_role("button", name=re.compile("^Open chat")).click()
    expect(chat.get_by_role("log")).to_contain_text("business days")

    agent.get_by_role("button", name="Hand back to bot").click()
    expect(chat.get_by_role("log")).to_contain_text("You're chatting with the bot again")

    agent.get_by_role("button", name="Close…").click()
    agent.get_by_label("Resolution").fill("Sent a replacement parcel.")
    agent.get_by_role("button", name="Close conversation").click()
    expect(chat.get_by_role("log")).to_contain_text("This conversation was closed.")
    expect(chat.get_by_text("How was this chat?")).to_be_visible()  # the customer is asked for a rating
    expect(agent.locator(f".queue-item[data-conversation='{conversation}']")).to_have_count(0)
    proposed = browser_stack.shell(
        "from knowledge.models import Ticket; print(Ticket.objects.filter(resolution='Sent a replacement parcel.').count())"
    )
    assert proposed.strip() == "1"
    # The ticket holds the customer's question, not the whole chat.
    question = browser_stack.shell(
        "from knowledge.models import Ticket; print(Ticket.objects.get(resolution='Sent a replacement parcel.').question)"
    )
    assert question.strip() == "My parcel arrived broken"

    # A closed chat offers a new conversation instead of the composer (writing would not reopen it).
    expect(chat.get_by_label("Message")).to_be_hidden()
    chat.get_by_role("button", name="Start a new conversation").click()
    expect(chat.get_by_label("Message")).to_be_visible()
    expect(chat.get_by_text("My parcel arrived broken")).to_have_count(0)


def test_the_console_has_no_serious_accessibility_violations(new_page, browser_stack):
    page = new_page(bypass_csp=True)
    sign_in(page, browser_stack)
    expect(page.get_by_text("Online", exact=True)).to_be_visible()
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, json.dumps([{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in serious])
