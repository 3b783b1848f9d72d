"""Customer-facing text in the site's language: notices, the bot's own words, the widget's catalog, mail."""

import json

import pytest
from django.test import Client

from chat import conversations, handoff, mail, replies, store
from chat.models import Message
from tests.conftest import chat_communicator, receive_reply
from tests.chat.test_handoff import next_of, say

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def german_site(site):
    site.language = "de"
    site.save()
    return site


def test_a_german_site_hears_the_nobody_online_notice_in_german(german_site):
    conversation = conversations.open_conversation(german_site, None)[0]
    [notice] = handoff.request(conversation.pk, "customer asked").messages
    assert notice.text.startswith("Gerade ist kein Mitarbeiter online")
    assert "Hinterlassen Sie Ihre E-Mail-Adresse" in notice.text


@pytest.mark.parametrize("language, fallback, button", [
    ("de", "Entschuldigung, dabei kann ich vermutlich nicht helfen.", "Mit einem Menschen sprechen"),
    ("fr", "Désolé, je ne suis pas sûr de pouvoir vous aider.", "Parler à une personne"),
    ("es", "Lo siento, no estoy seguro de poder ayudarle con eso.", "Hablar con una persona"),
    ("en", "Sorry, I'm not sure I can help with that.", "Talk to a person"),
])
def test_the_fallback_and_its_person_button_are_in_the_sites_language(site, fake_bundle, language, fallback, button):
    site.language = language
    site.save()
    conversation = conversations.open_conversation(site, None)[0]
    [answer] = replies.respond(conversation.pk, "zxqv blorp").messages
    assert answer.text.startswith(fallback) and answer.suggestions == [button]
    # Pressing the translated button is a request for a person.
    assert replies.respond(conversation.pk, button).status == "waiting"


def test_the_widget_catalog_is_served_in_each_shipped_language_and_english_otherwise(db):
    client = Client()
    assert "Antwortet sofort" in client.get("/widget/i18n/de.js").content.decode()
    assert json.dumps("Répond immédiatement") in client.get("/widget/i18n/fr.js").content.decode()  # as JSON
    assert "Responde al instante" in client.get("/widget/i18n/es.js").content.decode()
    assert "Antwortet sofort" not in client.get("/widget/i18n/xx.js").content.decode()


def test_the_frame_loads_the_catalog_of_the_sites_language(german_site):
    page = Client().get("/widget/frame/?site=test-site&origin=http://localhost:3000").content.decode()
    assert '<script src="/widget/i18n/de.js"></script>' in page
    assert "<title>Chat mit Test shop</title>" in page


def test_the_transcript_is_in_the_sites_language(german_site, smtp_server):
    conversation = conversations.open_conversation(german_site, None)[0]
    store.append(conversation.pk, Message.Sender.CUSTOMER, "Wo ist meine Bestellung?", client_id="c1")
    conversation.visitor.email = "kim@example.com"
    conversation.visitor.save()
    assert mail.send_transcript(conversation.pk)
    [sent] = smtp_server.wait_for(1)
    assert sent["Subject"] == "Ihr Gespräch mit Test shop"
    assert "Sie: Wo ist meine Bestellung?" in sent.get_content()


async def test_a_german_customer_hears_german_over_the_socket(german_site, fake_bundle):
    customer = chat_communicator()
    await customer.connect()
    await customer.receive_json_from()
    fallback = await say(customer, "zxqv blorp", "g1")
    assert fallback["text"].startswith("Entschuldigung")
    await customer.send_json_to({"type": "handoff"})
    await next_of(customer, "status", status="waiting")
    assert (await receive_reply(customer))["text"].startswith("Gerade ist kein Mitarbeiter online")
    await customer.disconnect()


def test_every_collected_string_is_translated_in_every_shipped_language():
    import gettext
    import importlib.util
    from pathlib import Path

    locale = Path(__file__).resolve().parents[2] / "locale"
    spec = importlib.util.spec_from_file_location("translations", locale / "translations.py")
    translations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(translations)
    for language in ("de", "fr", "es"):
        for po in (locale / language / "LC_MESSAGES").glob("*.po"):
            entries = translations.ENTRY.findall(po.read_text(encoding="utf-8"))
            untranslated = [translations._unquote(msgid) for _, msgid, msgstr in entries
                            if translations._unquote(msgid) and not translations._unquote(msgstr)]
            assert not untranslated, f"{po}: {untranslated}"
            # The committed .mo says the same as the .po (else `make messages` was not run).
            with open(po.with_suffix(".mo"), "rb") as compiled:
                catalog = gettext.GNUTranslations(compiled)
            stale = [translations._unquote(msgid) for _, msgid, msgstr in entries if translations._unquote(msgid)
                     and catalog.gettext(translations._unquote(msgid)) != translations._unquote(msgstr)]
            assert not stale, f"{po.with_suffix('.mo')} is out of date (make messages): {stale}"
