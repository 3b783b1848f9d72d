"""The socket module in a real Chromium, on the chat page and in the agent console (static/chat/socket.js).

A live stack with a 40-character message limit: the customer's composer and the agent's reply box
learn it from the socket's first frame (nothing in the page or the scripts says 40) and keep a
longer message, with an explanation, instead of sending it to be refused. Both pages reconnect
by themselves after the server restarts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_support import browser_stack, sign_in
from tests.conftest import need_chromium

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"
LIMIT = 40
TOO_LONG = f"Limited to {LIMIT} characters, this one is over by a few"  # 56 characters
FITS = "x" * (LIMIT - 4) + " end"  # exactly LIMIT characters


@pytest.fixture(scope="module")
def stack():
    need_chromium()
    # Its own stack: the limit is the point of this module.
    with browser_stack(CHAT_MAX_MESSAGE_CHARS=str(LIMIT)) as live:
        live.answer_once()
        yield live


def test_the_composer_keeps_a_message_over_the_advertised_limit_and_sends_one_within_it(new_page, stack):
    page = new_page()
    page.goto(stack.url(0, "/?site=demo"))
    message = page.get_by_label("Message")

    message.fill(TOO_LONG)
    expect(page.get_by_role("alert")).to_have_text(f"Too long to send: messages are limited to {LIMIT} characters.")
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text(f"{len(TOO_LONG)} / {LIMIT}", exact=True)).to_be_visible()
    message.press("Enter")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(message).to_have_value(TOO_LONG)  # kept for editing, not cut and not lost

    message.fill(FITS)
    expect(page.get_by_role("alert")).to_have_text("")
    expect(message).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text(f"{LIMIT} / {LIMIT}", exact=True)).to_be_visible()
    message.press("Enter")

    expect(page.locator(".from-bot:not(.is-greeting)")).to_have_count(1)
    # Had the long one gone out, it would sit in the log as "Sending…" or "Not sent".
    expect(page.locator(".from-customer")).to_have_count(1)
    expect(page.locator(".from-customer")).to_contain_text(FITS)
    stored = stack.sql("SELECT text FROM chat_message WHERE sender = 'customer' AND text IN (%s, %s)", (TOO_LONG, FITS))
    assert stored == [(FITS,)]


def test_the_message_limit_notice_has_no_serious_accessibility_violations(new_page, stack):
    page = new_page(bypass_csp=True)
    page.goto(stack.url(0, "/?site=demo"))
    page.get_by_label("Message").fill(TOO_LONG)
    expect(page.get_by_role("alert")).to_contain_text(f"limited to {LIMIT} characters")

    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, json.dumps([{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in serious])


def test_the_agent_reply_box_enforces_the_same_limit(new_page, stack):
    customer = new_page()
    customer.goto(stack.url(0, "/?site=demo"))
    customer.get_by_label("Message").fill("I want to talk to a person")
    customer.get_by_label("Message").press("Enter")
    expect(customer.get_by_text("Waiting for an agent…")).to_be_visible()

    agent = new_page()
    sign_in(agent, stack)
    agent.locator(".queue-item[data-status='waiting']").first.click()
    expect(agent.get_by_role("log")).to_contain_text("I want to talk to a person")

    reply = agent.get_by_label("Reply")
    reply.fill(TOO_LONG)
    expect(agent.locator("#reply-limit [role=alert]")).to_have_text(
        f"Too long to send: messages are limited to {LIMIT} characters.")
    agent.get_by_role("button", name="Send reply").click()
    expect(reply).to_have_value(TOO_LONG)

    reply.fill(FITS)
    agent.get_by_role("button", name="Send reply").click()
    expect(reply).to_have_value("")
    expect(customer.locator(".from-agent")).to_contain_text(FITS)
    expect(agent.locator("#log .from-agent")).to_have_count(1)
    assert stack.sql("SELECT text FROM chat_message WHERE sender = 'agent'") == [(FITS,)]


def test_after_a_server_restart_the_console_and_the_customer_reconnect_and_talk_again(new_page, stack):
    customer = new_page()
    customer.goto(stack.url(0, "/?site=demo"))
    # Not a request for a person in words: that would hand off at once and hide the header button.
    customer.get_by_label("Message").fill("A question about a restart")
    customer.get_by_label("Message").press("Enter")
    customer.get_by_title("Talk to a person").click()  # the header button, not a reply's chip that may appear meanwhile
    expect(customer.get_by_text("Waiting for an agent…")).to_be_visible()

    agent = new_page()
    sign_in(agent, stack)
    [(conversation,)] = stack.sql(
        "SELECT c.public_id FROM chat_conversation c JOIN chat_message m ON m.conversation_id = c.id WHERE m.text = %s",
        ("A question about a restart",))
    agent.locator(f".queue-item[data-conversation='{conversation}']").click()
    expect(agent.get_by_role("log")).to_contain_text("about a restart")
    agent.get_by_role("button", name="Join", exact=True).click()
    expect(customer.get_by_text("You're chatting with a person")).to_be_visible()

    stack.kill("daphne0")
    expect(agent.get_by_role("status")).to_have_text("Reconnecting…")
    stack.restart("daphne0")
    # Backoff grows while the server is down: the retries may take a few seconds.
    expect(agent.get_by_role("status")).to_have_text("Online", timeout=45_000)

    # The console watches the conversation it showed again, without a click.
    customer.get_by_label("Message").fill("Still there after the restart?")
    customer.get_by_label("Message").press("Enter")
    expect(agent.get_by_role("log")).to_contain_text("Still there after the restart?", timeout=45_000)
    agent.get_by_label("Reply").fill("Yes, still here.")
    agent.get_by_label("Reply").press("Enter")
    expect(customer.locator(".from-agent")).to_contain_text("Yes, still here.")


def test_a_saved_token_the_server_cannot_read_starts_a_new_conversation_and_loses_no_message(new_page, stack):
    page = new_page()
    page.goto(stack.url(0, "/healthz"))  # the chat's origin, to seed its storage before the chat loads
    page.evaluate("""() => {
        localStorage.setItem('chat.v1.demo.token', 'not a token!');
        localStorage.setItem('chat.v1.demo.outbox', JSON.stringify(
            [{client_id: 'kept-through-a-bad-token', text: 'Written before the token broke', created: new Date().toISOString()}]));
    }""")
    page.goto(stack.url(0, "/?site=demo"))

    expect(page.locator(".from-bot:not(.is-greeting)")).to_have_count(1)
    expect(page.locator(".from-customer")).to_have_text(re.compile("Written before the token broke"))
    expect(page.locator(".chat-banner")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('chat.v1.demo.token')") != "not a token!"
    assert stack.message_counts(["kept-through-a-bad-token"]) == {"kept-through-a-bad-token": 1}
