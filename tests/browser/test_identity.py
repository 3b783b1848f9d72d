"""Verified identity in a real Chromium: a signed-in customer sees their conversation on a second
device (another browser context, no shared storage); a forged identity sees nothing of it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.identity import user_hash
from tests.browser.test_widget import BOT_REPLIES, new_context, open_widget, send  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

SECRET = "browser-identity-secret"


@pytest.fixture(scope="module")
def identity_secret(browser_stack):
    browser_stack.manage("shell", "-c", f"from chat.models import Site; Site.objects.filter(public_key='demo')"
                                 f".update(identity_secret={SECRET!r})")
    return SECRET


def signed(user_id: str, secret: str = SECRET) -> dict[str, str]:
    return {"user_id": user_id, "user_hash": user_hash(secret, user_id), "user_name": "Ada Lovelace"}


def test_a_verified_customer_sees_their_chat_on_a_second_device_and_a_forged_one_does_not(
        new_context, host, identity_secret):
    laptop = new_context().new_page()
    laptop.goto(host.page(**signed("shop-user-1042")))
    chat = open_widget(laptop)
    send(chat, "Where is my order 10482?")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)

    phone = new_context().new_page()  # a second device: nothing stored in common
    phone.goto(host.page(**signed("shop-user-1042")))
    expect(open_widget(phone).get_by_text("Where is my order 10482?", exact=True)).to_have_count(1)

    forger = new_context().new_page()
    forger.goto(host.page(**signed("shop-user-1042", secret="a-guessed-secret")))
    forged = open_widget(forger)
    expect(forged.get_by_role("log")).to_contain_text("demo shop's assistant")
    expect(forged.get_by_text("Where is my order 10482?", exact=True)).to_have_count(0)


def test_identify_signs_in_later_and_on_reports_messages_and_opening(new_context, host, identity_secret):
    first = new_context().new_page()
    first.goto(host.page(**signed("shop-user-7")))
    send(open_widget(first), "Do you ship to Norway?")
    expect(first.frame_locator("chat-widget iframe").locator(BOT_REPLIES)).to_have_count(1)

    page = new_context().new_page()
    page.goto(host.page())  # not signed in yet
    page.wait_for_function("() => window.ChatWidget")
    page.evaluate("""() => {
        window.events = [];
        ChatWidget.on("open", () => events.push("open"));
        ChatWidget.on("close", () => events.push("close"));
        ChatWidget.on("message", (m) => events.push(m.sender + ": " + m.text));
    }""")
    user = signed("shop-user-7")
    page.evaluate("(u) => ChatWidget.identify({id: u.user_id, hash: u.user_hash, name: u.user_name})", user)
    page.evaluate("() => ChatWidget.open()")
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_text("Do you ship to Norway?", exact=True)).to_have_count(1)
    page.wait_for_function("() => events.includes('customer: Do you ship to Norway?')")
    page.evaluate("() => ChatWidget.close()")
    assert page.evaluate("() => events.filter(e => e === 'open' || e === 'close')") == ["open", "close"]
