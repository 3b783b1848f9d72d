"""Redaction of personal data from chat text before it is stored.

`redact()` runs on every stored message, so it is pure Python with regexes compiled once,
and it returns at once for text that holds no digit and no "@". The rules, their order and
their measured recall and false positives are in docs/privacy.md.
"""

from __future__ import annotations

import logging

import re
from collections import Counter
from collections.abc import Callable

# Official IBAN lengths (SWIFT IBAN registry). A candidate must have exactly its country's
# length and pass mod-97, so a random code-like string is almost never taken for an IBAN.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

KINDS = ("EMAIL", "IBAN", "PHONE", "CARD", "SSN", "IP")

_MAY_HOLD_PII = re.compile(r"[0-9@]")

# Local part and domain are deliberately liberal: a false "[EMAIL]" costs little, a leaked
# address costs a lot. The lookbehind makes the regex start only at token starts (linear time).
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[\w-]+\.)+[^\W\d_]{2,}")

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})([0-9]{2})")

# "+" or "00", then digit groups. Every repetition starts with a non-digit, so matching is
# linear; a "(0)" trunk marker is allowed as in "+44 (0)20 7946 0958".
_INTL_PHONE = re.compile(
    r"""
    (?<![\w+])(?<![0-9][ .\-/])
    (?P<prefix>\+\ ?|00\ ?(?=[1-9]))
    [0-9]+
    (?: (?:[ .\-]|\ ?/\ ?)[0-9]+
      | [ .\-]?\ ?\([0-9]{1,5}\)\ ?[0-9]+
    )*
    (?![0-9])
    """,
    re.VERBOSE,
)

# Contiguous runs (any Luhn-valid run of 13-19 digits is a card, whatever its context), or
# groups that start with 4 digits and share one separator. The separated form must not sit
# inside a longer grouped number (tracking codes), hence the look-arounds.
_CARD = re.compile(
    r"""
    (?<![0-9])[0-9]{13,19}(?![0-9])
    | (?<![0-9])(?<![0-9][ -])
      [0-9]{4}(?P<sep>[ -])[0-9]{4,6}(?:(?P=sep)[0-9]{1,6}){1,3}
      (?![0-9])(?![ -][0-9])
    """,
    re.VERBOSE,
)

# Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
_SSN = re.compile(r"(?<![\w-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![\w-])")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IP = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w])(?!\.[0-9])")
# "version 1.2.3.4" and "v1.2.3.4" are versions, not addresses.
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bver\.?|\bversion|\brelease|\bbuild)\s*$")

# US/Canada: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199.
_NANP_PHONE = re.compile(
    r"""
    (?<![\w+])(?<![0-9][.,/-])
    (?:1[ .-]?)?
    (?:\([0-9]{3}\)\ ?|[0-9]{3}[ .-])
    [0-9]{3}[ .-][0-9]{4}
    (?![0-9])(?![.,/-][0-9])
    """,
    re.VERBOSE,
)

# National numbers with a trunk "0": UK 020 7946 0958, 07700 900123, FR 06 12 34 56 78,
# DE 030 1234567, 030/1234567, (030) 1234567, NL 06-12345678, IT 06 1234 5678.
_TRUNK_PHONE = re.compile(
    r"""
    (?<![\w+])(?<![0-9][ .,/-])
    (?P<area>\(0[0-9]{1,4}\)|0[0-9]{1,4})
    (?P<s1>\ ?/\ ?|[ .-])?
    (?P<rest>[0-9]+(?:(?P<sep>[ .-])[0-9]+(?:(?P=sep)[0-9]+)*)?)
    (?![0-9])(?![.,/-][0-9])
    """,
    re.VERBOSE,
)

_BARE_NATIONAL_MOBILE = re.compile(r"07[0-9]{9}|0[67][0-9]{8}|01[5-7][0-9]{8,9}")

# Ten or more bare digits are only a phone number when the customer says so.
_KEYWORD_PHONE = re.compile(
    r"""
    (?P<kw>
      \b(?:tele?phone|phone|tel|mobile|cell|call|text|sms|whats\ ?app|fax|my\ number)
      (?:\ ?(?:number|no\.?|\#))?
      (?:\ (?:me|us))?
      (?:\ (?:at|on|is))?
      \ ?[:=]?\ ?
    )
    (?P<num>\+?[0-9]{10,13})(?![0-9])
    """,
    re.VERBOSE | re.IGNORECASE,
)

_Found = Counter[str]
_Rule = Callable[[str, _Found], str]


def luhn_valid(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True when a compact upper-case IBAN has its country's length and passes mod-97."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isascii() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _sub(pattern: re.Pattern[str], kind: str, accept: Callable[[re.Match[str]], bool]) -> _Rule:
    """A rule that replaces each match that `accept` approves with `[kind]`."""
    placeholder = f"[{kind}]"

    def rule(text: str, found: _Found) -> str:
        def replace(m: re.Match[str]) -> str:
            if accept(m):
                found[kind] += 1
                return placeholder
            return m.group(0)

        return pattern.sub(replace, text)

    return rule


def _redact_emails(text: str, found: _Found) -> str:
    if "@" not in text:
        return text
    return _sub(_EMAIL, "EMAIL", lambda m: True)(text, found)


def _iban_end(text: str, m: re.Match[str]) -> int | None:
    """End offset of a valid IBAN starting at `m`, allowing single spaces between characters."""
    length = IBAN_LENGTHS.get(m.group(1).upper())
    if length is None:
        return None
    chars = [m.group(1).upper(), m.group(2)]
    pos, need, n = m.end(), length - 4, len(text)
    while need:
        if pos < n and text[pos] == " ":
            pos += 1
        if pos >= n or not (text[pos].isascii() and text[pos].isalnum()):
            return None
        chars.append(text[pos].upper())
        pos += 1
        need -= 1
    if pos < n and text[pos].isalnum():
        return None  # the code runs on, so it is something longer than this IBAN
    return pos if iban_valid("".join(chars)) else None


def _redact_ibans(text: str, found: _Found) -> str:
    out: list[str] = []
    kept_from = search_from = 0
    while m := _IBAN_START.search(text, search_from):
        end = _iban_end(text, m)
        if end is None:
            search_from = m.start() + 1
            continue
        out += (text[kept_from : m.start()], "[IBAN]")
        found["IBAN"] += 1
        kept_from = search_from = end
    out.append(text[kept_from:])
    return "".join(out)


_GROUP_SPLIT = re.compile(r"[0-9]+|\([0-9]+\)")


def _redact_intl_phones(text: str, found: _Found) -> str:
    """Numbers after "+" or "00" with 8-15 digits (E.164); extra trailing groups stay text."""

    def replace(m: re.Match[str]) -> str:
        body = m.group(0)[len(m.group("prefix")) :]
        groups = list(_GROUP_SPLIT.finditer(body))
        # "(0)" is the national trunk prefix, not part of the E.164 number.
        sizes = [0 if g.group(0) == "(0)" else len(g.group(0).strip("()")) for g in groups]
        minimum = 8 if m.group("prefix").startswith("+") else 9
        while sum(sizes) > 15 and len(groups) > 1:
            groups.pop()
            sizes.pop()
        if not minimum <= sum(sizes) <= 15:
            return m.group(0)
        found["PHONE"] += 1
        return "[PHONE]" + body[groups[-1].end() :]

    return _INTL_PHONE.sub(replace, text)


def _card_accept(m: re.Match[str]) -> bool:
    """Luhn-valid 13-19 digits; a trailing 3-digit group may be a typed CVV ("... 1111 123")."""
    groups = re.findall(r"[0-9]+", m.group(0))
    digits = "".join(groups)
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return True
    number = digits[: -len(groups[-1])]
    return len(groups) > 3 and len(groups[-1]) == 3 and 13 <= len(number) and luhn_valid(number)


def _ip_accept(m: re.Match[str]) -> bool:
    return not _VERSION_BEFORE.search(m.string, max(0, m.start() - 12), m.start())


def _trunk_accept(m: re.Match[str]) -> bool:
    groups = re.findall(r"[0-9]+", m.group(0))
    digits = sum(map(len, groups))
    if len(groups) == 1 and "(" not in m.group(0):
        # A bare 0-led run is also the shape of order and waybill numbers, so only the
        # mobile shapes pass: UK 07xxx xxxxxx (11), FR/NL 06/07 (10), DE 015x-017x (11-12).
        run = groups[0]
        return bool(_BARE_NATIONAL_MOBILE.fullmatch(run))
    return 10 <= digits <= 12 and all(len(g) >= 2 for g in groups)


def _redact_keyword_phones(text: str, found: _Found) -> str:
    def replace(m: re.Match[str]) -> str:
        found["PHONE"] += 1
        return m.group("kw") + "[PHONE]"

    return _KEYWORD_PHONE.sub(replace, text)


# Order matters: emails first (their local part may hold digits), IBANs before anything that
# reads digit runs, "+"/"00" numbers before cards (a prefixed number is a phone, and the
# rule refuses more than 15 digits, so it never swallows a card), cards before the national
# phone shapes, SSN and IP before phones that could read their digits.
_RULES: tuple[_Rule, ...] = (
    _redact_emails,
    _redact_ibans,
    _redact_intl_phones,
    _sub(_CARD, "CARD", _card_accept),
    _sub(_SSN, "SSN", lambda m: True),
    _sub(_IP, "IP", _ip_accept),
    _sub(_NANP_PHONE, "PHONE", lambda m: True),
    _sub(_TRUNK_PHONE, "PHONE", _trunk_accept),
    _redact_keyword_phones,
)


def redact_counted(text: str) -> tuple[str, dict[str, int]]:
    """Redact `text` and count the placeholders inserted, by kind.

    Steps:
    1. Return at once when the text holds no digit and no "@".
    2. Apply every rule in order (see `_RULES`).
    3. Repeat while a pass changed the text. A replacement can free its neighbour from a
       look-behind ("555-123-4567 020 7946 0958"), and repeating makes `redact` idempotent.
       Each changing pass removes digits or "@", so the loop ends; clean text costs one pass.
    """
    found: _Found = Counter()
    if not _MAY_HOLD_PII.search(text):
        return text, {}
    while True:
        before = text
        for rule in _RULES:
            text = rule(text, found)
        if text == before:
            return text, dict(found)


def redact(text: str) -> str:
    """`text` with emails, phones, cards, IBANs, SSNs and IPv4 addresses replaced by `[KIND]`."""
    return redact_counted(text)[0]



class RedactingFilter(logging.Filter):
    """Redacts personal data from every log record (message and arguments) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.exc_info and not record.exc_text:
            # A traceback can quote a customer's text (an exception's message): format it here,
            # redacted; formatters print exc_text instead of formatting exc_info again.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
