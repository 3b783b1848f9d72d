"""Fixtures shared by the browser tests (the live stack and Chromium come from tests/conftest.py)."""

import pytest
from playwright.sync_api import expect

# Assertions wait for their condition as long as actions do (the contexts' 15 s), not Playwright's
# 5 s default: a bot reply on a busy 2-core CI machine once took longer than 5 s to appear.
expect.set_options(timeout=15_000)


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
