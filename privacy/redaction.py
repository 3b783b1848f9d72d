"""Redaction of personal data from chat text.

Two levels. Payment and secret data (cards, CVV codes, IBANs, bank account numbers, SSNs,
passwords typed in words) must never be stored: `redact(text, contacts=False)` replaces them
and keeps emails, phone numbers and IP addresses readable for the agent; every stored message
goes through it (chat/conversations.py). `redact(text)` replaces everything, for retention,
logs, training data and sites that redact contacts at storage too.

It runs on every stored message, so it is pure Python with regexes compiled once, and it
returns at once for text that holds no digit, no "@" and no secret keyword. Checksums come
from python-stdnum (Luhn, IBAN mod-97 and country formats, SSN ranges). The rules, their
order and their measured recall and false positives are in docs/privacy.md.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from urllib.parse import unquote

from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn
from stdnum.exceptions import ValidationError
from stdnum.us import ssn as stdnum_ssn

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

KINDS = ("EMAIL", "IBAN", "PHONE", "CARD", "CVV", "ACCOUNT", "SSN", "SECRET", "IP")
# Readable to agents until retention ends (unless the site redacts them at storage too).
CONTACT_KINDS = frozenset({"EMAIL", "PHONE", "IP"})

# Detection reads digits and spaces in their plain ASCII form: full-width digits, no-break and
# thin spaces and Unicode dashes map one character to one character, so offsets are unchanged.
_PLAIN = str.maketrans(
    {
        **{0xFF10 + i: str(i) for i in range(10)},
        **dict.fromkeys([0x00A0, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
                         0x2008, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000], " "),
        **dict.fromkeys([0x2010, 0x2011, 0x2012, 0x2212, 0xFE63, 0xFF0D], "-"),
        0xFF0E: ".", 0xFF20: "@", 0xFF0F: "/",
    }
)  # fmt: skip

_MAY_HOLD_PII = re.compile(r"[0-9@]|pass|pwd|\bpw\b|\bpin\b|code|cvv|cvc|\bcid\b|otp|secret", re.IGNORECASE)

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

# Runs of digit groups joined by one separator each: one or two spaces, a dot or a dash.
# Separators may differ within a run ("4111 1111-1111.1111"). A spaced dash (" - ") ends
# a run: it joins a card to a date or an amount more often than it splits a card.
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]+(?:(?: {1,2}|[.-])[0-9]+)*(?![0-9])")
_GROUP = re.compile(r"[0-9]+")

# 123-45-6789 or 123 45 6789 (one separator), or nine digits after the words (_SSN_KEYWORD);
# stdnum knows which numbers are never issued (area 000, 666, 900-999, group 00, ...).
_SSN = re.compile(r"(?<![\w-])(?<![0-9][ .])[0-9]{3}(?P<sep>[ -])[0-9]{2}(?P=sep)[0-9]{4}(?![\w-])(?![ .][0-9])")
_SSN_KEYWORD = re.compile(r"(?i)\b(?P<kw>ssn|social security(?: number| no\.?)?)(?P<mid>\W{0,3}(?:is\W{1,3})?)(?P<num>[0-9]{9})(?![0-9])")

# A CVV/CVC typed after its name: "cvv 123", "security code: 1234", "CVC2 is 123".
_CVV = re.compile(
    r"""
    \b(?P<kw>cvv2?|cvc2?|cvn|cid|csc|cav2|security\ code|card\ verification(?:\ (?:code|value|number))?
        |(?:3|three|4|four)[ -]digit(?:s|\ code|\ number)?)
    (?P<mid>\W{0,3}(?:(?:is|was|number|code|no)\b\W{0,3}){0,2})
    (?P<num>[0-9]{3,4})(?![0-9])
    """,
    re.VERBOSE | re.IGNORECASE,
)

# A bank account or routing number after its name: "account number 12345678",
# "acct no. 12-3456-7890123-00", "routing number 021000021". Six digits at least, so
# "account ending 1234" (the last four, which may be shown) stays.
_ACCOUNT = re.compile(
    r"""
    \b(?P<kw>(?:bank\ |checking\ |savings\ )?account(?:\ (?:number|no\.?|num|\#))?|acct\.?(?:\ (?:number|no\.?|\#))?
        |a/c(?:\ (?:number|no\.?))?|routing(?:\ (?:number|no\.?))?|aba(?:\ (?:number|no\.?))?|bsb)
    (?P<mid>\ ?(?:is|was|[:=\#])?\ ?(?:is\ )?)
    (?P<num>[0-9](?:[0-9]|[ -](?=[0-9])){5,33})(?![0-9])
    """,
    re.VERBOSE | re.IGNORECASE,
)

# A secret typed in words: "my password is hunter2", "password: hunter2", "pin = 1234",
# "the verification code is 483920". Only the next word is replaced, and common words after
# "is" are not secrets ("my password is not working").
_SECRET = re.compile(
    r"""
    \b(?P<kw>pass(?:word|wd|phrase|code)s?|pwd|pw|pin(?:\ ?(?:code|number|no\.?))?|otp|one[ -]time\ (?:pass)?code
        |(?:verification|security|confirmation|2fa|mfa|sms|login|auth(?:entication)?)\ code|security\ answer|secret)
    (?P<mid>\ ?[:=]\ ?|\ (?:is|was)(?:\ ?:)?\ |\ (?:is|was)\ (?:now|still)\ )
    (?P<secret>[^\s]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_NOT_SECRETS = frozenset(
    """not wrong incorrect invalid correct right too the a an my your his her our their it this that same still now
    also expired locked blocked reset being working required needed missing empty forgotten lost changed different weak
    strong short long case accepted rejected valid ok okay fine there here what which one something nothing sent set
    saved stored on in at for of to and or but no yes please never always very really just already broken asking shown
    visible hidden supposed probably definitely received coming going gone fixed""".split()
)

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

# A kept value (an email or phone number when contacts stay readable) is parked as one
# private-use character while the later rules run, so they neither read its digits nor
# take it for something else; it is put back at the end.
_PARKED = re.compile("[\U000f0000-\U000ffffd]")


class _Pass:
    """What one redaction replaces (`found`) and what it keeps readable (`parked`)."""

    def __init__(self, keep: frozenset[str]) -> None:
        self.keep = keep
        self.found: Counter[str] = Counter()
        self.parked: list[str] = []

    def swap(self, kind: str, original: str) -> str:
        if kind in self.keep:
            if kind == "EMAIL":
                original = _redact_cards(original, self)  # "4111111111111111@x.io" keeps no card
            self.parked.append(original)
            return chr(0xF0000 + len(self.parked) - 1)
        self.found[kind] += 1
        return f"[{kind}]"

    def unpark(self, text: str) -> str:
        if not self.parked:
            return text
        # A parked value may hold another one (a phone parked inside an email's text).
        while _PARKED.search(text):
            text = _PARKED.sub(lambda m: self.parked[ord(m.group(0)) - 0xF0000], text)
        return text


_Rule = Callable[[str, _Pass], str]


def luhn_valid(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn checksum."""
    return digits.isascii() and digits.isdigit() and stdnum_luhn.is_valid(digits)


def iban_valid(iban: str) -> bool:
    """True when a compact upper-case IBAN has its country's length, format and mod-97 check."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isascii() or not iban.isalnum():
        return False
    try:
        # No country-specific bank checks: a real IBAN a bank registry does not know yet
        # must still be caught; the country's length, BBAN format and mod-97 are checked.
        stdnum_iban.validate(iban, check_country=False)
    except ValidationError:
        return False
    return True


def _sub(pattern: re.Pattern[str], kind: str, accept: Callable[[re.Match[str]], bool]) -> _Rule:
    """A rule that replaces each match that `accept` approves with `[kind]`."""

    def rule(text: str, run: _Pass) -> str:
        def replace(m: re.Match[str]) -> str:
            return run.swap(kind, m.group(0)) if accept(m) else m.group(0)

        return pattern.sub(replace, text)

    return rule


def _after_keyword(pattern: re.Pattern[str], kind: str, accept: Callable[[str], bool]) -> _Rule:
    """A rule that replaces only the `num` group of each match: the keyword before it stays."""

    def rule(text: str, run: _Pass) -> str:
        def replace(m: re.Match[str]) -> str:
            value = m.group("num")
            if not accept(value):
                return m.group(0)
            start, end = m.start("num") - m.start(), m.end("num") - m.start()
            whole = m.group(0)
            return whole[:start] + run.swap(kind, value) + whole[end:]

        return pattern.sub(replace, text)

    return rule


def _redact_emails(text: str, run: _Pass) -> str:
    if "@" not in text:
        return text
    return _sub(_EMAIL, "EMAIL", lambda m: True)(text, run)


# Between an IBAN's characters: up to two spaces, or a dash or a dot.
_IBAN_GAP = re.compile(r" {1,2}|[.-]")


def _iban_end(text: str, m: re.Match[str]) -> int | None:
    """End offset of a valid IBAN starting at `m`, or None."""
    length = IBAN_LENGTHS.get(m.group(1).upper())
    if length is None:
        return None
    chars = [m.group(1).upper(), m.group(2)]
    pos, need, n = m.end(), length - 4, len(text)
    while need:
        if gap := _IBAN_GAP.match(text, pos):
            pos = gap.end()
        if pos >= n or not (text[pos].isascii() and text[pos].isalnum()):
            return None
        chars.append(text[pos].upper())
        pos += 1
        need -= 1
    if pos < n and text[pos].isalnum():
        return None  # the code runs on, so it is something longer than this IBAN
    return pos if iban_valid("".join(chars)) else None


def _redact_ibans(text: str, run: _Pass) -> str:
    out: list[str] = []
    kept_from = search_from = 0
    while m := _IBAN_START.search(text, search_from):
        end = _iban_end(text, m)
        if end is None:
            search_from = m.start() + 1
            continue
        out += (text[kept_from : m.start()], run.swap("IBAN", text[m.start() : end]))
        kept_from = search_from = end
    out.append(text[kept_from:])
    return "".join(out)


_GROUP_SPLIT = re.compile(r"[0-9]+|\([0-9]+\)")


def _redact_intl_phones(text: str, run: _Pass) -> str:
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
        end = len(m.group("prefix")) + groups[-1].end()
        return run.swap("PHONE", m.group(0)[:end]) + body[groups[-1].end() :]

    return _INTL_PHONE.sub(replace, text)


def _card_groups(groups: list[str]) -> int | None:
    """How many groups of a digit run, from its start, are a card number (with its CVV), or None.

    Steps:
    1. One group alone: a Luhn-valid run of 13-19 digits.
    2. Grouped forms start with 4 digits (every network prints them so) and are the whole run,
       or the whole run but a last group of 1-4 digits: a CVV ("... 1111 123", which goes
       with the card) or the month of an expiry date ("... 1111 12/27", which stays).
    """
    sizes = [len(g) for g in groups]
    if len(groups) == 1:
        return 1 if 13 <= sizes[0] <= 19 and luhn_valid(groups[0]) else None
    if sizes[0] != 4:
        return None
    for count in (len(groups), len(groups) - 1):
        digits = "".join(groups[:count])
        if count >= 2 and 13 <= len(digits) <= 19 and luhn_valid(digits):
            return len(groups) if count < len(groups) and sizes[-1] >= 3 else count
    return None


def _redact_cards(text: str, run: _Pass) -> str:
    def replace(m: re.Match[str]) -> str:
        whole = m.group(0)
        groups = list(_GROUP.finditer(whole))
        if len(groups) > 1 and (count := _card_groups([g.group(0) for g in groups])):
            end = groups[count - 1].end()
            return run.swap("CARD", whole[:end]) + whole[end:]
        # A contiguous run is a card wherever it sits, also inside a longer grouped number.
        return _GROUP.sub(lambda g: run.swap("CARD", g.group(0)) if _card_groups([g.group(0)]) else g.group(0), whole)

    return _DIGIT_RUN.sub(replace, text)


def _ssn_accept(m: re.Match[str]) -> bool:
    return stdnum_ssn.is_valid(m.group(0).replace(" ", "").replace("-", ""))


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


_TRAILING_PUNCTUATION = ".,;:!?)\"'”’"


def _redact_secrets(text: str, run: _Pass) -> str:
    def replace(m: re.Match[str]) -> str:
        word = m.group("secret")
        core = word.rstrip(_TRAILING_PUNCTUATION)
        plain = core.strip("\"'“”‘’(").lower()
        if not plain or plain.startswith("[") or _PARKED.match(plain) or plain in _NOT_SECRETS:
            return m.group(0)
        if m.group("kw").lower().startswith("pin") and not any(ch.isdigit() for ch in core):
            return m.group(0)  # "pin is bent": a PIN is digits
        return m.group("kw") + m.group("mid") + run.swap("SECRET", core) + word[len(core) :]

    return _SECRET.sub(replace, text)


def _redact_keyword_phones(text: str, run: _Pass) -> str:
    def replace(m: re.Match[str]) -> str:
        return m.group("kw") + run.swap("PHONE", m.group("num"))

    return _KEYWORD_PHONE.sub(replace, text)


def _six_digits_or_more(value: str) -> bool:
    return sum(ch.isdigit() for ch in value) >= 6


# Order matters: emails first (their local part may hold digits), IBANs before anything that
# reads digit runs, "+"/"00" numbers before cards (a prefixed number is a phone, and the
# rule refuses more than 15 digits, so it never swallows a card), cards before the keyword
# rules (a card after "account number" is a card) and before the national phone shapes,
# SSN and IP before phones that could read their digits.
_RULES: tuple[_Rule, ...] = (
    _redact_emails,
    _redact_ibans,
    _redact_intl_phones,
    _redact_cards,
    _after_keyword(_CVV, "CVV", lambda value: True),
    _after_keyword(_ACCOUNT, "ACCOUNT", _six_digits_or_more),
    _sub(_SSN, "SSN", _ssn_accept),
    _after_keyword(_SSN_KEYWORD, "SSN", stdnum_ssn.is_valid),
    _redact_secrets,
    _sub(_IP, "IP", _ip_accept),
    _sub(_NANP_PHONE, "PHONE", lambda m: True),
    _sub(_TRUNK_PHONE, "PHONE", _trunk_accept),
    _redact_keyword_phones,
)


def redact_counted(text: str, *, contacts: bool = True) -> tuple[str, dict[str, int]]:
    """Redact `text` and count the placeholders inserted, by kind.

    Steps:
    1. Read digits, spaces and dashes in their plain form (full-width digits, no-break spaces).
    2. Return the text unchanged when it holds no digit, no "@" and no secret keyword.
    3. Apply every rule in order (see `_RULES`); with `contacts=False` emails, phone numbers
       and IP addresses are parked instead of replaced, and put back at the end.
    4. Repeat while a pass changed the text. A replacement can free its neighbour from a
       look-behind ("555-123-4567 020 7946 0958"), and repeating makes `redact` idempotent.
       Each changing pass removes digits, "@" or a secret word, so the loop ends.
    5. Text in which nothing was replaced comes back exactly as it was typed.
    """
    plain = text if text.isascii() else text.translate(_PLAIN)
    if not _MAY_HOLD_PII.search(plain):
        return text, {}
    # Text that already holds the private-use markers cannot park anything: redact it all.
    keep = CONTACT_KINDS if not contacts and not _PARKED.search(plain) else frozenset()
    run = _Pass(keep)
    out = plain
    while True:
        before = out
        for rule in _RULES:
            out = rule(out, run)
        if out == before:
            break
    if not run.found:
        return text, {}
    return run.unpark(out), dict(run.found)


def redact(text: str, *, contacts: bool = True) -> str:
    """`text` with cards, CVVs, IBANs, account numbers, SSNs and typed secrets replaced by
    `[KIND]`, and emails, phone numbers and IPv4 addresses too unless `contacts` is False."""
    return redact_counted(text, contacts=contacts)[0]


# "+" stands for a space in a query string: "4111+1111+1111+1111" is a card number.
_PLUS_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])\+(?=[0-9])")


def redact_log_line(text: str) -> str:
    """`redact` for log text, which may quote URLs: percent-escapes are decoded first."""
    if "%" in text or "+" in text:
        text = _PLUS_BETWEEN_DIGITS.sub(" ", unquote(text))
    return redact(text)


class RedactingFilter(logging.Filter):
    """Redacts personal data from every log record (message and arguments) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact_log_line(record.msg)
        if record.exc_info and not record.exc_text:
            # A traceback can quote a customer's text (an exception's message): format it here,
            # redacted; formatters print exc_text instead of formatting exc_info again.
            record.exc_text = redact_log_line(logging.Formatter().formatException(record.exc_info))
        return True
