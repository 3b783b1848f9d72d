"""Regenerate docs/screenshots/*.png: the widget on a demo shop page (desktop and phone) and the console.

    .venv/bin/python bench/screenshots.py            # starts its own server on a throwaway database
    .venv/bin/python bench/screenshots.py --out DIR

Prints the files it wrote as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after the path tweak)

from tests.browser_support import STAFF_PASSWORD, STAFF_USER, HostPages, browser_stack, launch_browser  # noqa: E402


def converse(page) -> None:  # type: ignore[no-untyped-def]
    """Open the widget and have a short exchange that shows an answer, thumbs and quick replies."""
    page.get_by_role("button", name="Open chat").click()
    chat = page.frame_locator("chat-widget iframe")
    for text, replies in (("Hi, how long does shipping take?", 1), ("Shipping times", 2)):
        chat.get_by_label("Message").fill(text)
        chat.get_by_role("button", name="Send", exact=True).click()
        expect(chat.locator(".from-bot:not(.is-greeting)")).to_have_count(replies)
    chat.get_by_role("button", name="Helpful", exact=True).last.click()
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)  # let the entry animations finish before the picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with browser_stack() as stack, sync_playwright() as playwright:
        host = HostPages(stack.url(0, ""))
        browser = launch_browser(playwright)
        try:
            for name, options in (
                ("widget-desktop.png", {"viewport": {"width": 1280, "height": 800}}),
                ("widget-phone.png", {"viewport": {"width": 375, "height": 667}, "device_scale_factor": 2,
                                      "is_mobile": True, "has_touch": True}),
            ):
                context = browser.new_context(reduced_motion="reduce", **options)
                page = context.new_page()
                page.goto(host.page())
                converse(page)
                page.screenshot(path=args.out / name)
                written.append(str(args.out / name))
                if name == "widget-desktop.png":
                    # The same chat from the agent's side: ask for a person, then open the console.
                    chat = page.frame_locator("chat-widget iframe")
                    chat.get_by_role("button", name="Talk to a person").first.click()
                    expect(chat.get_by_text("Waiting for an agent…")).to_be_visible()
                    console = context.new_page()
                    console.set_viewport_size({"width": 1280, "height": 800})
                    console.goto(stack.url(0, "/agent/"))
                    console.screenshot(path=args.out / "login.png")
                    written.append(str(args.out / "login.png"))
                    console.get_by_label("Username").fill(STAFF_USER)
                    console.get_by_label("Password").fill(STAFF_PASSWORD)
                    console.get_by_role("button", name="Sign in").click()
                    console.locator(".queue-item[data-status='waiting']").first.click()
                    console.get_by_role("button", name="Join", exact=True).click()
                    console.get_by_label("Reply").fill("Hi, I'm Alex. Let me check that order for you.")
                    console.get_by_role("button", name="Send reply").click()
                    expect(console.locator("#log .from-agent")).to_have_count(1)
                    console.get_by_label("Reply").fill("Could you tell me the order number?")
                    console.wait_for_timeout(300)
                    console.screenshot(path=args.out / "agent-console.png")
                    written.append(str(args.out / "agent-console.png"))
                context.close()
        finally:
            browser.close()
            host.close()
    print(json.dumps({"screenshots": written}, indent=1))


if __name__ == "__main__":
    main()
