"""The widget in a real Chromium: a shop page on another origin embeds it with the one-line snippet.

The server runs without a model (every answer is the fallback), so the tests look for a bot
reply, never for its words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"
BOT_REPLIES = ".from-bot:not(.is-greeting)"
# True when nothing animates in the document or any shadow root under it (the widget's panel lives in
# one, and `document.getAnimations()` does not look inside shadow roots).
SETTLED = """() => {
    const roots = [document];
    for (let i = 0; i < roots.length; i++) {
        for (const element of roots[i].querySelectorAll("*")) if (element.shadowRoot) roots.push(element.shadowRoot);
    }
    return roots.every(root => root.getAnimations().length === 0);
}"""




@pytest.fixture
def new_context(browser, browser_stack):
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    if not browser_stack.daphne(0).alive():  # a failed restart test must not take the next tests down
        browser_stack.restart("daphne0")
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


def open_widget(page):
    page.get_by_role("button", name="Open chat").click()
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_label("Message")).to_be_focused()
    return chat


def wait_until_settled(target) -> None:
    """Wait until no CSS animation or transition runs in the page or frame, its shadow roots included.

    A new message fades in (`chat-in`, 180 ms); axe measured mid-fade sees its timestamp at a
    fraction of its opacity (1.4:1 at 30 ms) and reports a contrast failure the customer never reads.
    A finished animation without a fill mode leaves `getAnimations()`: empty lists mean settled.
    """
    target.wait_for_function(SETTLED)


def send(chat, text: str) -> None:
    chat.get_by_label("Message").fill(text)
    chat.get_by_role("button", name="Send", exact=True).click()


def test_the_snippet_opens_a_chat_that_answers_and_remembers_it_after_a_reload(page, host):
    page.goto(host.page())
    chat = open_widget(page)
    expect(chat.get_by_role("log")).to_contain_text("demo shop's assistant")

    send(chat, "Where is my parcel?")

    expect(chat.locator(BOT_REPLIES)).to_have_count(1)
    expect(chat.get_by_text("Where is my parcel?", exact=True)).to_have_count(1)
    page.reload()
    chat = open_widget(page)
    expect(chat.get_by_text("Where is my parcel?", exact=True)).to_have_count(1)
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)


def test_a_message_sent_while_the_server_is_down_is_delivered_once_when_it_is_back(page, host, browser_stack):
    page.goto(host.page())
    chat = open_widget(page)
    send(chat, "Hello before the crash")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)

    browser_stack.kill("daphne0")  # SIGKILL, as a crash
    send(chat, "Sent during the outage")
    expect(chat.locator(".from-customer.is-pending")).to_have_count(1)
    browser_stack.restart("daphne0")  # on the same port

    expect(chat.locator(".from-customer.is-pending")).to_have_count(0, timeout=30_000)
    expect(chat.locator(BOT_REPLIES)).to_have_count(2)
    expect(chat.get_by_text("Sent during the outage", exact=True)).to_have_count(1)
    expect(chat.get_by_text("Hello before the crash", exact=True)).to_have_count(1)
    assert browser_stack.count_messages("Sent during the outage") == 1


def test_a_message_still_unsent_when_the_page_closes_is_sent_on_the_next_visit(new_context, host, browser_stack):
    context = new_context()
    page = context.new_page()
    page.goto(host.page())
    chat = open_widget(page)
    send(chat, "First visit")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)

    browser_stack.kill("daphne0")  # SIGKILL, as a crash
    send(chat, "Typed just before closing the tab")
    expect(chat.locator(".from-customer.is-pending")).to_have_count(1)
    page.close()
    browser_stack.restart("daphne0")  # on the same port

    page = context.new_page()
    page.goto(host.page())
    chat = open_widget(page)
    expect(chat.locator(".from-customer.is-pending")).to_have_count(0)
    expect(chat.get_by_text("Typed just before closing the tab", exact=True)).to_have_count(1)
    expect(chat.locator(BOT_REPLIES)).to_have_count(2)
    assert browser_stack.count_messages("Typed just before closing the tab") == 1


def test_a_site_refuses_a_page_on_an_origin_it_does_not_allow(page, host, browser_stack):
    with page.expect_console_message(lambda m: m.type == "error" and "not allowed" in m.text) as refusal:
        with page.expect_response(re.compile(r"/widget/frame/")) as frame_response:
            page.goto(host.page("restricted"))

    assert frame_response.value.status == 403
    assert host.url in refusal.value.text
    expect(page.get_by_role("button", name="Open chat")).to_be_hidden()
    # A page that skips the widget and opens the socket itself is refused by the server too.
    socket = browser_stack.ws_url(0, "/ws/chat/?v=1&site=restricted")
    refused = page.evaluate(
        """url => new Promise(resolve => {
            const ws = new WebSocket(url); let code = null;
            ws.onmessage = e => { code = JSON.parse(e.data).code; };
            ws.onclose = e => resolve([code, e.code]);
        })""",
        socket,
    )
    assert refused == ["origin_not_allowed", 4403]


def test_a_page_that_lies_about_its_origin_cannot_frame_the_chat(page, host, browser_stack):
    page.goto(host.page("restricted"))
    lying = browser_stack.url(0, "/widget/frame/?site=restricted&origin=https://shop.example.com")
    with page.expect_response(lying) as response:
        page.evaluate("url => { const f = document.createElement('iframe'); f.src = url; document.body.append(f); }", lying)

    assert response.value.status == 200  # the view believed the origin parameter...
    assert "frame-ancestors 'self' https://shop.example.com" in response.value.headers["content-security-policy"]
    # ...but the browser enforced frame-ancestors: the frame holds an error page, not the chat.
    page.wait_for_function("() => document.body.lastElementChild.tagName === 'IFRAME'")
    lied_in = page.locator("body > iframe").element_handle().content_frame()
    lied_in.wait_for_load_state()
    assert lied_in.url.startswith("chrome-error://"), lied_in.url
    assert lied_in.get_by_label("Message").count() == 0


def test_html_sent_by_a_customer_is_shown_as_text(page, host):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(host.page())
    chat = open_widget(page)

    payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
    for payload in payloads:
        send(chat, payload)

    expect(chat.locator(BOT_REPLIES)).to_have_count(2)
    for payload in payloads:
        expect(chat.get_by_text(payload, exact=True)).to_have_count(1)
    expect(chat.locator(".chat-log img, .chat-log script")).to_have_count(0)
    assert dialogs == []


def test_answer_markup_is_rebuilt_from_an_allowlist(page, browser_stack):
    page.goto(browser_stack.url(0, "/healthz"))
    html = page.evaluate(
        """async () => {
            const { safeFragment } = await import('/static/chat/markup.js');
            const box = document.createElement('div');
            box.append(safeFragment('<p>See <b>Orders</b> <a href="https://shop.example/o" onclick="x()">here</a>'
              + '<img src=x onerror=alert(1)><a href="javascript:alert(1)">bad</a><script>alert(2)</script></p>'));
            return box.innerHTML;
        }"""
    )
    assert html == (
        '<p>See <b>Orders</b> <a href="https://shop.example/o" target="_blank" rel="noopener noreferrer nofollow">'
        "here</a><a>bad</a></p>"
    )


def test_the_open_widget_has_no_serious_accessibility_violations(new_context, host):
    # bypass_csp: axe is injected as an inline script, which the frame's CSP rightly forbids.
    page = new_context(bypass_csp=True).new_page()
    page.goto(host.page())
    chat = open_widget(page)
    send(chat, "Can I pay by invoice?")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)
    expect(chat.get_by_role("button", name="Talk to a person", exact=True).first).to_be_visible()

    frame = page.frame(url=re.compile(r"/widget/frame/"))
    violations = []
    for target, context in ((frame, "document"), (page, "{include: [['chat-widget']]}")):
        wait_until_settled(target)
        target.add_script_tag(path=str(AXE))
        results = target.evaluate(f"axe.run({context}, {{resultTypes: ['violations']}})")
        violations += [v for v in results["violations"] if v["impact"] in ("serious", "critical")]

    assert not violations, json.dumps(
        [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]} for v in violations], indent=1
    )


def test_on_a_phone_the_open_chat_fills_the_screen(new_context, host):
    # Reduced motion also means no opening animation to catch the panel mid-flight.
    page = new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True,
                       reduced_motion="reduce").new_page()
    page.goto(host.page())
    chat = open_widget(page)

    expect(page.locator("chat-widget .panel")).to_have_css("animation-name", "none")
    panel = page.locator("chat-widget .panel").bounding_box()
    assert panel == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(page.get_by_role("button", name=re.compile("chat"))).to_be_hidden()
    chat.get_by_role("button", name="Close chat").click()
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()


def test_the_keyboard_opens_and_closes_the_chat(page, host):
    page.goto(host.page())
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    launcher.focus()
    page.keyboard.press("Enter")
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_label("Message")).to_be_focused()

    page.keyboard.press("Escape")

    expect(page.locator("chat-widget .panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()


def test_new_conversation_asks_first_starts_over_and_stays_fresh_after_a_reload(page, host, browser_stack):
    page.goto(host.page())
    chat = open_widget(page)
    send(chat, "Something to forget")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)

    chat.get_by_role("button", name="New chat").click()
    chat.get_by_role("button", name="Keep this one").click()
    expect(chat.get_by_text("Something to forget", exact=True)).to_have_count(1)
    chat.get_by_role("button", name="New chat").click()
    chat.get_by_role("button", name="Start new conversation").click()

    expect(chat.get_by_text("Something to forget", exact=True)).to_have_count(0)
    expect(chat.locator(BOT_REPLIES)).to_have_count(0)
    send(chat, "A fresh start")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)
    assert browser_stack.count_messages("Something to forget") == 1  # never carried into the new chat
    page.reload()
    chat = open_widget(page)
    expect(chat.get_by_text("A fresh start", exact=True)).to_have_count(1)
    expect(chat.get_by_text("Something to forget", exact=True)).to_have_count(0)


def test_the_full_page_chat_runs_the_same_client(page, browser_stack):
    page.goto(browser_stack.url())
    expect(page.get_by_role("log")).to_contain_text("demo shop's assistant")
    page.get_by_label("Message").fill("Do you ship abroad?")
    page.keyboard.press("Enter")
    expect(page.locator(BOT_REPLIES)).to_have_count(1)
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_have_count(0)  # fallbacks get no thumbs


def test_a_site_that_asks_for_consent_shows_its_notice_before_the_first_message(page, host, browser_stack):
    browser_stack.shell(
        "from chat.models import Site\n"
        "demo = Site.objects.get(public_key='demo')\n"
        "Site.objects.update_or_create(public_key='consent-shop', defaults=dict(name='Consent shop', "
        "allowed_origins=demo.allowed_origins, require_consent=True, "
        "privacy_notice_url='https://shop.example.com/privacy', privacy_notice_version='2024-05'))"
    )
    page.goto(host.page("consent-shop"))
    page.get_by_role("button", name="Open chat").click()
    chat = page.frame_locator("chat-widget iframe")
    expect(chat.get_by_role("link", name="privacy notice")).to_have_attribute("href", "https://shop.example.com/privacy")
    expect(chat.get_by_label("Message")).to_be_hidden()
    chat.get_by_role("button", name="Accept and chat").click()
    expect(chat.get_by_label("Message")).to_be_visible()
    send(chat, "Where is my parcel?")
    expect(chat.locator(BOT_REPLIES)).to_have_count(1)
    consent = browser_stack.shell(
        "from chat.models import Visitor\n"
        "v = Visitor.objects.filter(site__public_key='consent-shop').latest('created')\n"
        "print(v.consent_version, v.consent_at is not None)"
    )
    assert consent.split() == ["2024-05", "True"]
