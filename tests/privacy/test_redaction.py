"""privacy.redaction: typed redaction of personal data (plain pytest, no database)."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.redaction import iban_valid, luhn_valid, redact, redact_counted

CORPUS = Path(__file__).resolve().parents[1] / "data" / "pii_corpus.jsonl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+shop@mail.example.co.uk.", "write to [EMAIL]."),
        ("<JOHN_SMITH42@Example.COM>", "<[EMAIL]>"),
        ("call +44 20 7946 0958 today", "call [PHONE] today"),
        ("+44 (0)20 7946 0958", "[PHONE]"),
        ("+1 (555) 123-4567", "[PHONE]"),
        ("0044 7700 900123", "[PHONE]"),
        ("(555) 123-4567 or 555-123-4567 or 555.123.4567", "[PHONE] or [PHONE] or [PHONE]"),
        ("1-800-555-0199", "[PHONE]"),
        ("020 7946 0958, 07700 900123, 07700900123", "[PHONE], [PHONE], [PHONE]"),
        ("06 12 34 56 78 / 06.12.34.56.78", "[PHONE] / [PHONE]"),
        ("030 1234567, 030/1234567, (030) 1234567", "[PHONE], [PHONE], [PHONE]"),
        ("call me at 2125550123", "call me at [PHONE]"),
        ("card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"),
        ("4111-1111-1111-1111", "[CARD]"),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("card 4111 1111 1111 1111 123 thanks", "card [CARD] thanks"),
        ("5555555555554444", "[CARD]"),
        ("IBAN DE89 3704 0044 0532 0130 00, thanks", "IBAN [IBAN], thanks"),
        ("GB82WEST12345698765432", "[IBAN]"),
        ("fr14 2004 1010 0505 0001 3m02 606", "[IBAN]"),
        ("SSN 123-45-6789", "SSN [SSN]"),
        ("from 192.168.1.10.", "from [IP]."),
    ],
)
def test_it_replaces_personal_data_with_typed_placeholders(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Where is order #A123456?",
        "order 12345678 and order number 1234567890",
        "I paid $1,234.56 and then 1234 EUR, €1.234,56",
        "delivered 2024-01-15, since 15/01/2024, am 15.01.2024 um 14:30",
        "on 01/15/2024 at 10:30:45, customer since 1998",
        "2 items, room 404, 15% off, page 3 of 10",
        "tracking 1Z999AA10123456784, USPS 9400 1000 0000 0000 0000 00",
        "app v2.3.14, version 1.2.3.4, iOS 17.4.1",
        "ZIP 02134-1234, PLZ 01067 Dresden",
        "amazon order 123-4567890-1234567",
        "sort code 20-00-00, SKU 123-456-789",
    ],
)
def test_it_leaves_order_numbers_amounts_dates_and_versions_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111 1111 1111 1111 exp 12/27 cvv 123", "my card is [CARD] exp 12/27 cvv [CVV]"),
        ("4111.1111.1111.1111", "[CARD]"),
        ("4111\u00a01111\u00a01111\u00a01111 and 4111\u202f1111\u202f1111\u202f1111", "[CARD] and [CARD]"),
        ("card 4111  1111  1111  1111, thanks", "card [CARD], thanks"),
        ("4111 1111-1111.1111", "[CARD]"),
        ("card ４１１１１１１１１１１１１１１１", "card [CARD]"),
        ("card ４１１１ １１１１ １１１１ １１１１ ok", "card [CARD] ok"),
        ("security code: 1234, CVC2 is 987", "security code: [CVV], CVC2 is [CVV]"),
        ("IBAN NL91-ABNA-0417-1643-00", "IBAN [IBAN]"),
        ("NL91  ABNA  0417  1643  00 and DE89.3704.0044.0532.0130.00", "[IBAN] and [IBAN]"),
        ("my account number is 12345678", "my account number is [ACCOUNT]"),
        ("acct no. 12-3456-7890123-00, routing number 021000021", "acct no. [ACCOUNT], routing number [ACCOUNT]"),
        ("SSN 123 45 6789", "SSN [SSN]"),
        ("my ssn is 123456789", "my ssn is [SSN]"),
        ("my password is hunter2", "my password is [SECRET]"),
        ("password: hunter2! and pin is 1234", "password: [SECRET]! and pin is [SECRET]"),
        ("the verification code is 483920.", "the verification code is [SECRET]."),
    ],
)
def test_it_replaces_the_forms_issue_14_found_missing(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my password is not working",
        "I forgot my password, the reset link is broken",
        "my pin is bent",
        "the discount code is SAVE10",
        "account ending 4242 was charged",
        "is the cvv the 3 digits on the back?",
        "ticket ４２ for order 1234",
    ],
)
def test_it_leaves_talk_about_secrets_and_partial_numbers_alone(text: str) -> None:
    assert redact(text) == text


def test_contacts_stay_readable_when_only_payment_data_and_secrets_are_redacted() -> None:
    text = "mail jo@example.com or +44 20 7946 0958 from 10.0.0.1; card 4111111111111111 cvv 123, password: s3cret"
    assert redact_counted(text, contacts=False) == (
        "mail jo@example.com or +44 20 7946 0958 from 10.0.0.1; card [CARD] cvv [CVV], password: [SECRET]",
        {"CARD": 1, "CVV": 1, "SECRET": 1},
    )


def test_a_phone_number_that_passes_luhn_is_not_taken_for_a_card_when_phones_stay() -> None:
    text = "call +44 20 7946 0958 or +4915112345678"
    assert redact(text, contacts=False) == text


def test_a_digit_string_failing_luhn_is_not_a_card() -> None:
    assert not luhn_valid("4111111111111112")
    assert redact("ref 4111111111111112 and 4111 1111 1111 1112") == "ref 4111111111111112 and 4111 1111 1111 1112"


def test_an_iban_failing_mod97_is_not_an_iban() -> None:
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("DE89370400440532013001")
    assert "[IBAN]" not in redact("DE89 3704 0044 0532 0130 01")


def test_ibans_and_cards_win_over_phones() -> None:
    assert redact_counted("BE68 5390 0754 7034 and 4111 1111 1111 1111") == (
        "[IBAN] and [CARD]",
        {"IBAN": 1, "CARD": 1},
    )


def test_it_counts_what_it_found() -> None:
    _, found = redact_counted("a@b.co, c@d.org, +33 6 12 34 56 78")
    assert found == {"EMAIL": 2, "PHONE": 1}


def test_text_without_digits_or_at_comes_back_unchanged() -> None:
    assert redact_counted("Hello, where is my parcel?") == ("Hello, where is my parcel?", {})


def test_it_catches_99_percent_of_the_corpus_with_no_false_positives_on_codes() -> None:
    """The corpus (bench/pii_corpus.py) includes the forms issue 14 found missed (0.87 recall before)."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    positives = [r for r in rows if r["kind"]]
    negatives = [r for r in rows if not r["kind"]]
    assert len(positives) >= 2000 and len(negatives) >= 1000
    caught = sum(r["value"] not in redact(r["text"]) for r in positives)
    false_positives = [r["text"] for r in negatives if redact(r["text"]) != r["text"]]
    assert caught / len(positives) >= 0.99
    assert len(false_positives) <= len(negatives) // 200  # measured: 1 (a Luhn-valid run in a parcel code)


# Text built from the pieces redaction cares about, so Hypothesis reaches the edge cases that
# uniform Unicode text almost never hits (digit runs, separators, "@", letters next to digits).
_FRAGMENTS = st.sampled_from(
    ["4111111111111111", "4111 1111 1111 1111", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00",
     "+44 20 7946 0958", "555-123-4567", "020 7946 0958", "06 12 34 56 78", "123-45-6789",
     "192.168.0.1", "a.b@c.de", "@", ".", "-", " ", "/", "(", ")", "+", "00", "0", "7", "call ", "v",
     "2024-01-15", "12/27", "#A123456", "$1,234.56", "GB", "x"]
)  # fmt: skip
_PIECES = st.one_of(_FRAGMENTS, st.text(alphabet="0123456789 -.+()/@abDE", max_size=25))
_CHATTY_TEXT = st.lists(_PIECES, max_size=12).map("".join)
_ANY_TEXT = st.one_of(st.text(max_size=200), _CHATTY_TEXT)

_DIGIT_RUN = re.compile(r"[0-9]+")
# An independent, ASCII-only notion of an email address for checking the output.
_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_redaction_of_payment_data_only_is_idempotent_and_leaves_contacts_for_retention(text: str) -> None:
    once = redact(text, contacts=False)
    assert redact(once, contacts=False) == once
    assert not _ADDRESS.search(redact(once))  # retention's full redaction still finds the kept emails


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_output_holds_no_card_number_and_no_email_address(text: str) -> None:
    out = redact(text)
    assert not any(13 <= len(run) <= 19 and luhn_valid(run) for run in _DIGIT_RUN.findall(out))
    assert not _ADDRESS.search(out)
    if "+" not in text and "00" not in text:  # else a kept phone number may pass Luhn
        kept = redact(text, contacts=False)
        assert not any(13 <= len(run) <= 19 and luhn_valid(run) for run in _DIGIT_RUN.findall(kept))


def test_log_records_are_redacted_before_they_are_written():
    import logging

    from privacy.redaction import RedactingFilter

    record = logging.LogRecord("chat", logging.INFO, __file__, 1, "customer %s wrote %r", ("pat@example.com", "card 4111 1111 1111 1111"), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "customer [EMAIL] wrote 'card [CARD]'"


def test_the_celery_worker_and_tracebacks_log_redacted(capsys):
    import logging

    from config.celery import use_django_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        use_django_logging()  # what the worker does at start-up instead of Celery's own logging
        try:
            raise ValueError("could not reach jane.doe@example.com")
        except ValueError:
            logging.getLogger("training.tasks").exception("retrain failed for %s", "+44 20 7946 0958")
        err = capsys.readouterr().err
    finally:
        root.handlers[:], root.level = saved
    assert "retrain failed for [PHONE]" in err
    assert "could not reach [EMAIL]" in err and "ValueError" in err
    assert "jane.doe" not in err and "7946" not in err


def test_the_workers_own_loglevel_still_governs_what_celery_says(settings):
    import logging

    from config.celery import use_django_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("celery").level
    settings.LOGGING = {**settings.LOGGING, "root": {**settings.LOGGING["root"], "level": "WARNING"}}
    try:
        use_django_logging(loglevel=logging.INFO)  # `celery worker --loglevel INFO`, LOG_LEVEL=WARNING
        assert logging.getLogger("celery.apps.worker").isEnabledFor(logging.INFO)  # "celery@host ready."
        assert not logging.getLogger("chat").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("celery").setLevel(saved[2])
