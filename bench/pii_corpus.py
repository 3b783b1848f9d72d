"""Generate tests/data/pii_corpus.jsonl: PII embedded in chat sentences, plus negatives.

Usage: .venv/bin/python bench/pii_corpus.py [--seed 7] [--out tests/data/pii_corpus.jsonl]

Each line is {"text", "kind", "value", "format", "keep"}: `kind` is the placeholder kind the
redactor should insert (null for a negative sentence), `value` the PII substring that must
disappear, `format` a label for per-format recall, `keep` substrings (order numbers, amounts,
dates) that must survive redaction. Cards are Luhn-valid and IBANs pass mod-97 by
construction; the numbers use reserved/fictional ranges where they exist (555-01xx, Ofcom
drama numbers) but the redactor is not told so.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_corpus.jsonl"

FIRST = ["john", "maria", "li", "ahmed", "sofia", "jean-luc", "o.brien", "anna", "kenji", "fatima",
         "lukas", "chloe", "raj", "elena", "tom", "zoe", "mohammed", "ines", "pieter", "ola"]  # fmt: skip
LAST = ["smith", "garcia", "wang", "khan", "rossi", "dupont", "mueller", "tanaka", "silva", "nguyen",
        "de-vries", "kowalski", "obrien", "jensen", "murphy", "haddad"]  # fmt: skip
DOMAINS = ["gmail.com", "example.com", "outlook.fr", "t-online.de", "mail.example.co.uk", "proton.me",
           "yahoo.co.jp", "company.io", "sub.dept.university.edu", "web.de", "icloud.com", "acme-corp.net",
           "free.fr", "libero.it", "example.museum", "bank.example.org"]  # fmt: skip


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to `partial`."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return partial + str((10 - total % 10) % 10)


# network -> (prefixes, lengths)
NETWORKS: dict[str, tuple[list[str], list[int]]] = {
    "visa": (["4"], [16, 16, 16, 13, 19]),
    "mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16]),
    "amex": (["34", "37"], [15]),
    "discover": (["6011", "65", "644", "649"], [16]),
    "jcb": (["3528", "3540", "3589"], [16]),
    "diners": (["300", "305", "36", "38"], [14]),
    "unionpay": (["62"], [16, 17, 18, 19]),
    "maestro": (["5018", "5020", "6304"], [16, 19]),
}


def card_number(rng: random.Random, network: str) -> str:
    prefixes, lengths = NETWORKS[network]
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def format_card(rng: random.Random, digits: str) -> tuple[str, str]:
    n = len(digits)
    style = rng.choice(["compact", "space", "space", "dash"])
    if style == "compact":
        return digits, "compact"
    sep = " " if style == "space" else "-"
    if n == 15:
        sizes = [4, 6, 5]
    elif n == 14:
        sizes = [4, 6, 4]
    else:
        sizes = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i : i + size])
        i += size
    return sep.join(parts), f"{style}-{n}"


# country -> BBAN layout: n digits, a upper letters, c alphanumerics
IBAN_LAYOUTS: dict[str, list[tuple[str, int]]] = {
    "DE": [("n", 18)], "GB": [("a", 4), ("n", 14)], "FR": [("n", 10), ("c", 11), ("n", 2)],
    "ES": [("n", 20)], "IT": [("a", 1), ("n", 10), ("c", 12)], "NL": [("a", 4), ("n", 10)],
    "BE": [("n", 12)], "CH": [("n", 5), ("c", 12)], "AT": [("n", 16)], "PL": [("n", 24)],
    "SE": [("n", 20)], "IE": [("a", 4), ("n", 14)], "PT": [("n", 21)], "DK": [("n", 14)],
    "NO": [("n", 11)], "FI": [("n", 14)], "LU": [("n", 3), ("c", 13)], "CZ": [("n", 20)],
    "RO": [("a", 4), ("c", 16)], "GR": [("n", 7), ("c", 16)], "MT": [("a", 4), ("n", 5), ("c", 18)],
    "SA": [("n", 2), ("c", 18)], "AE": [("n", 19)], "HU": [("n", 24)],
}  # fmt: skip


def iban(rng: random.Random, country: str) -> str:
    alphabet = {"n": string.digits, "a": string.ascii_uppercase,
                "c": string.digits + string.ascii_uppercase}  # fmt: skip
    bban = "".join(rng.choice(alphabet[kind]) for kind, count in IBAN_LAYOUTS[country] for _ in range(count))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def format_iban(rng: random.Random, code: str) -> tuple[str, str]:
    style = rng.choices(["grouped", "compact", "lower"], weights=[6, 3, 1])[0]
    if style == "compact":
        return code, "compact"
    text = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return (text.lower(), "lower-grouped") if style == "lower" else (text, "grouped")


def d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def phone(rng: random.Random) -> tuple[str, str]:
    """A phone number in one of many national and international formats, and its label."""
    npa, nxx, line = f"{rng.randint(2, 9)}{d(rng, 2)}", f"{rng.randint(2, 9)}{d(rng, 2)}", d(rng, 4)
    uk_mob, fr = f"7700 900{d(rng, 3)}", [f"{rng.choice('1234567')}"] + [d(rng, 2) for _ in range(4)]
    de_area = rng.choice(["30", "40", "89", "221", "69", "711"])
    de_sub = d(rng, 10 - len(de_area) - 1 + rng.randint(0, 1))
    formats: dict[str, Callable[[], str]] = {
        "us-paren": lambda: f"({npa}) {nxx}-{line}",
        "us-dash": lambda: f"{npa}-{nxx}-{line}",
        "us-dot": lambda: f"{npa}.{nxx}.{line}",
        "us-space": lambda: f"{npa} {nxx} {line}",
        "us-1-dash": lambda: f"1-{npa}-{nxx}-{line}",
        "us-intl": lambda: rng.choice([f"+1 {npa} {nxx} {line}", f"+1 ({npa}) {nxx}-{line}",
                                       f"+1-{npa}-{nxx}-{line}", f"+1{npa}{nxx}{line}"]),  # fmt: skip
        "uk-london": lambda: f"020 7946 0{d(rng, 3)}",
        "uk-mobile": lambda: f"0{uk_mob}",
        "uk-mobile-bare": lambda: f"0{uk_mob.replace(' ', '')}",
        "uk-geo": lambda: rng.choice([f"0161 496 0{d(rng, 3)}", f"01632 960{d(rng, 3)}", f"0113 496 0{d(rng, 3)}"]),
        "uk-intl": lambda: rng.choice([f"+44 20 7946 0{d(rng, 3)}", f"+44 (0)20 7946 0{d(rng, 3)}",
                                       f"+44 {uk_mob}", f"0044 {uk_mob}", f"+44{uk_mob.replace(' ', '')}"]),
        "fr": lambda: rng.choice(["0{} {} {} {} {}", "0{}.{}.{}.{}.{}", "0{}-{}-{}-{}-{}"]).format(*fr),
        "fr-bare": lambda: "06" + d(rng, 8),
        "fr-intl": lambda: rng.choice(["+33 {} {} {} {} {}", "+33 (0){} {} {} {} {}", "+33{}{}{}{}{}"]).format(*fr),
        "de": lambda: rng.choice([f"0{de_area} {de_sub}", f"0{de_area}/{de_sub}", f"(0{de_area}) {de_sub}",
                                  f"0{de_area}-{de_sub}", f"0{de_area} / {de_sub}"]),  # fmt: skip
        "de-mobile": lambda: rng.choice([f"0151 {d(rng, 8)}", f"0171 {d(rng, 7)}", f"0160 {d(rng, 7)}"]),
        "de-intl": lambda: rng.choice([f"+49 {de_area} {de_sub}", f"+49 (0){de_area} {de_sub}",
                                       f"+49 151 {d(rng, 8)}", f"+49-{de_area}-{de_sub}"]),  # fmt: skip
        "nl": lambda: rng.choice([f"06-{d(rng, 8)}", f"06 {d(rng, 8)}", f"020-{d(rng, 7)}", f"020 {d(rng, 3)} {d(rng, 4)}"]),
        "nl-intl": lambda: rng.choice([f"+31 6 {d(rng, 8)}", f"+31 20 {d(rng, 3)} {d(rng, 4)}"]),
        "it": lambda: rng.choice([f"06 {d(rng, 4)} {d(rng, 4)}", f"02 {d(rng, 8)}", f"3{d(rng, 2)} {d(rng, 3)} {d(rng, 4)}"]),
        "it-intl": lambda: rng.choice([f"+39 06 {d(rng, 4)} {d(rng, 4)}", f"+39 3{d(rng, 2)} {d(rng, 3)} {d(rng, 4)}"]),
        "es-intl": lambda: rng.choice([f"+34 6{d(rng, 2)} {d(rng, 3)} {d(rng, 3)}", f"+34 91 {d(rng, 3)} {d(rng, 2)} {d(rng, 2)}"]),
        "intl-other": lambda: rng.choice([
            f"+61 2 {d(rng, 4)} {d(rng, 4)}", f"+61 4{d(rng, 2)} {d(rng, 3)} {d(rng, 3)}",
            f"+81 3-{d(rng, 4)}-{d(rng, 4)}", f"+91 9{d(rng, 4)} {d(rng, 5)}",
            f"+55 11 9{d(rng, 4)}-{d(rng, 4)}", f"+353 1 {d(rng, 3)} {d(rng, 4)}",
            f"+46 8 {d(rng, 3)} {d(rng, 3)} {d(rng, 2)}", f"+7 495 {d(rng, 3)}-{d(rng, 2)}-{d(rng, 2)}",
            f"+27 21 {d(rng, 3)} {d(rng, 4)}", f"+52 55 {d(rng, 4)} {d(rng, 4)}",
            f"+86 138 {d(rng, 4)} {d(rng, 4)}", f"+65 6{d(rng, 3)} {d(rng, 4)}",
            f"+971 4 {d(rng, 3)} {d(rng, 4)}", f"+41 44 {d(rng, 3)} {d(rng, 2)} {d(rng, 2)}",
            f"+48 {d(rng, 3)} {d(rng, 3)} {d(rng, 3)}", f"+32 2 {d(rng, 3)} {d(rng, 2)} {d(rng, 2)}",
            f"+90 212 {d(rng, 3)} {d(rng, 2)} {d(rng, 2)}", f"+ 44 20 7946 0{d(rng, 3)}",
            f"+1.{npa}.{nxx}.{line}", f"00 33 6 {d(rng, 2)} {d(rng, 2)} {d(rng, 2)} {d(rng, 2)}",
        ]),  # fmt: skip
    }
    label = rng.choice(list(formats))
    return formats[label](), label


KEYWORD_PHONES = ["call me at {}", "my phone is {}", "phone: {}", "mobile {}", "text me on {}",
                  "tel:{}", "my number is {}", "whatsapp {}"]  # fmt: skip


def email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}_{last}", f"{first}{last}{rng.randint(1, 99)}", first,
                        f"{first[0]}{last}", f"{first}.{last}+{rng.choice(['orders', 'spam', 'shop'])}",
                        f"{first}-{last}", f"{last}.{first}{rng.randint(1970, 2005)}"])  # fmt: skip
    address = f"{local}@{rng.choice(DOMAINS)}"
    style = rng.choices(["plain", "upper", "title"], weights=[8, 1, 1])[0]
    if style == "upper":
        address = address.upper()
    elif style == "title":
        address = address[0].upper() + address[1:]
    return address, style


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def ipv4(rng: random.Random) -> str:
    return rng.choice([f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                       f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                       ".".join(str(rng.randint(1, 223)) for _ in range(4))])  # fmt: skip


def distractor(rng: random.Random) -> str:
    """Non-PII that must survive: order numbers, amounts, dates, times, tracking codes."""
    return rng.choice([
        f"order #A{d(rng, 6)}", f"order {rng.randint(10_000_000, 99_999_999)}", f"${rng.randint(1, 9)},{d(rng, 3)}.{d(rng, 2)}",
        f"{rng.randint(10, 9999)} EUR", f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2024", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        f"1Z{d(rng, 3)}AA1{d(rng, 8)}", f"ticket #{rng.randint(1000, 99999)}", f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
    ])  # fmt: skip


TEMPLATES = {
    "EMAIL": ["my email is {}", "please reply to {}.", "Contact: {} (work)", "send the invoice to <{}>",
              "is {} still on file?", "mailto:{}", "I changed my address to {}, thanks", "{}"],
    "PHONE": ["call me at {}", "my number is {}.", "phone: {}", "you can reach me on {} after 6pm",
              "Tel. {}", "(mobile: {})", "whatsapp me {}", "{}", "my husband's phone is {}, call him"],
    "CARD": ["my card number is {}", "charged to {} yesterday", "card: {} exp 12/27", "Visa {}.",
             "use {} please", "the card ending ... actually full number {}", "{}"],
    "IBAN": ["my IBAN is {}", "IBAN: {}", "refund to {} please", "Bank account {}, BIC DEUTDEFF",
             "send it to {}.", "{}"],
    "SSN": ["my SSN is {}", "social security number {}", "SSN: {}."],
    "IP": ["my IP address is {}", "the login came from {}.", "server {} is down"],
}  # fmt: skip


def positives(rng: random.Random, counts: dict[str, int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, count in counts.items():
        for _ in range(count):
            if kind == "EMAIL":
                value, fmt = email(rng)
            elif kind == "PHONE":
                value, fmt = phone(rng)
            elif kind == "CARD":
                network = rng.choice(list(NETWORKS))
                value, fmt = format_card(rng, card_number(rng, network))
                fmt = f"{network}-{fmt}"
            elif kind == "IBAN":
                country = rng.choice(list(IBAN_LAYOUTS))
                value, fmt = format_iban(rng, iban(rng, country))
                fmt = f"{country}-{fmt}"
            elif kind == "SSN":
                value, fmt = ssn(rng), "us"
            else:
                value, fmt = ipv4(rng), "ipv4"
            template = rng.choice(TEMPLATES[kind])
            text, keep = template.format(value), []
            if rng.random() < 0.4:
                extra = distractor(rng)
                text = rng.choice([f"About {extra}: {text}", f"{text} (re {extra})", f"{text} — {extra}"])
                keep.append(extra)
            rows.append({"text": text, "kind": kind, "value": value, "format": fmt, "keep": keep})
    for _ in range(counts["PHONE"] // 8):
        value = rng.choice([f"{rng.randint(2, 9)}{d(rng, 9)}", f"0{rng.randint(1, 9)}{d(rng, 8)}"])
        text = rng.choice(KEYWORD_PHONES).format(value)
        rows.append({"text": text, "kind": "PHONE", "value": value, "format": "keyword-bare", "keep": []})
    return rows


def luhn_invalid(rng: random.Random, n: int) -> str:
    digits = card_number(rng, "visa")[:-1] if n == 16 else str(rng.randint(1, 9)) + d(rng, n - 2)
    check = luhn_complete(digits)[-1]
    return digits + str((int(check) + rng.randint(1, 9)) % 10)


def grouped(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


NEGATIVES: dict[str, Callable[[random.Random], str]] = {
    "order": lambda r: r.choice([f"Where is my order #A{d(r, 6)}?", f"order {r.randint(10_000_000, 99_999_999)} never arrived",
                                 f"Order number: {r.randint(1000, 9_999_999_999)}", f"my order ORD-2024-{d(r, 6)} is late",
                                 f"amazon order {d(r, 3)}-{d(r, 7)}-{d(r, 7)}", f"case {d(r, 8)} still open",
                                 f"invoice INV-{r.randint(2019, 2025)}-{d(r, 5)}"]),
    "amount": lambda r: r.choice([f"I was charged ${r.randint(1, 9)},{d(r, 3)}.{d(r, 2)}", f"refund of {r.randint(1, 9999)} EUR",
                                  f"€{r.randint(1, 9)}.{d(r, 3)},{d(r, 2)} total", f"£{r.randint(1, 999)}.{d(r, 2)} twice",
                                  f"USD 1,{d(r, 3)},{d(r, 3)}.{d(r, 2)}", f"{r.randint(1, 99)} {d(r, 3)},{d(r, 2)} € TTC",
                                  f"price went from {r.randint(10, 99)}.99 to {r.randint(100, 999)}.49"]),
    "date": lambda r: r.choice([f"delivered on 2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                                f"since {r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2015, 2025)}",
                                f"on {r.randint(1, 12):02d}/{r.randint(1, 28):02d}/{r.randint(2015, 2025)} at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                                f"am {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2015, 2025)} um {r.randint(0, 23):02d}:{d(r, 1)}0",
                                f"timestamp 2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{d(r, 1)}0:00Z",
                                f"between {r.randint(1, 28):02d}-{r.randint(1, 12):02d}-2024 and {r.randint(1, 28):02d}-{r.randint(1, 12):02d}-2024"]),
    "time": lambda r: r.choice([f"open {r.randint(7, 10)}:00-{r.randint(16, 22)}:30", f"at {r.randint(1, 12)}:{d(r, 1)}5 pm",
                                f"call back at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"]),
    "year": lambda r: f"customer since {r.randint(1980, 2025)}, bought it in {r.randint(1980, 2025)}",
    "short": lambda r: r.choice([f"I need {r.randint(2, 99)} items", f"room {r.randint(100, 999)}, floor {r.randint(1, 40)}",
                                 f"page {r.randint(1, 9)} of {r.randint(10, 99)}", f"{r.randint(1, 100)}% off",
                                 f"qty {r.randint(1, 500)} x {r.randint(1, 20)}"]),
    "tracking": lambda r: r.choice([f"tracking 1Z{d(r, 3)}{r.choice(['AA', 'X4', 'E2'])}{d(r, 10)}", f"USPS {9400}{d(r, 18)}",
                                    f"USPS 9400 {d(r, 4)} {d(r, 4)} {d(r, 4)} {d(r, 4)} {d(r, 2)}",
                                    f"FedEx {d(r, 12)}", f"DHL waybill {d(r, 10)}", f"Royal Mail AB{d(r, 9)}GB",
                                    f"parcel JD{d(r, 18)}"]),
    "version": lambda r: r.choice([f"app v{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
                                   f"version {r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
                                   f"iOS {r.randint(12, 18)}.{r.randint(0, 6)}.{r.randint(0, 3)}",
                                   f"firmware v{r.randint(1, 5)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}",
                                   f"Windows 10.0.{r.randint(17000, 22631)}.{r.randint(1000, 4000)}",
                                   f"version {r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}",
                                   f"build {d(r, 4)}.{d(r, 2)}"]),
    "postcode": lambda r: r.choice([f"ZIP {d(r, 5)}", f"ZIP {d(r, 5)}-{d(r, 4)}", f"{d(r, 5)} Berlin",
                                    f"PLZ 0{d(r, 4)} Dresden", "SW1A 1AA London"]),
    "code": lambda r: r.choice([f"error 0x{d(r, 8)}", f"SKU {d(r, 3)}-{d(r, 3)}-{d(r, 3)}", f"part no. {d(r, 4)}-{d(r, 4)}",
                                f"model XJ-{r.randint(100, 9999)}", f"coupon SAVE{r.randint(10, 50)}",
                                f"sort code {d(r, 2)}-{d(r, 2)}-{d(r, 2)}, account ending {d(r, 4)}",
                                f"ISBN 978-{d(r, 1)}-{d(r, 3)}-{d(r, 5)}-{d(r, 1)}", f"flight LH{r.randint(100, 9999)}"]),
    "luhn-invalid": lambda r: r.choice([f"reference {luhn_invalid(r, n)}" for n in (13, 14, 15, 16, 17, 18, 19)]
                                       + [f"voucher {grouped(luhn_invalid(r, 16))}"]),
    "digits": lambda r: r.choice([f"{d(r, 3)} {d(r, 3)}", f"{r.randint(1, 9)} {d(r, 3)} {d(r, 3)}",
                                  f"score {r.randint(0, 9)}-{r.randint(0, 9)}", f"{r.randint(1, 99)}.{d(r, 2)}",
                                  f"between {r.randint(1, 9)} and {r.randint(10, 99)}", f"+{r.randint(1, 40)}% this year",
                                  f"temperature +{r.randint(1, 40)} °C"]),
}  # fmt: skip


def negatives(rng: random.Random, per_kind: int) -> list[dict[str, Any]]:
    return [{"text": make(rng), "kind": None, "value": None, "format": label, "keep": []}
            for label, make in NEGATIVES.items() for _ in range(per_kind)]  # fmt: skip


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def card_variant(rng: random.Random) -> tuple[str, str]:
    """A card number typed the ways issue 14 found missed: dots, no-break or double spaces,
    mixed separators, full-width digits."""
    digits = card_number(rng, rng.choice(["visa", "mastercard", "discover", "jcb", "maestro"]))
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    style = rng.choice(["dots", "nbsp", "double-space", "mixed", "full-width", "full-width-grouped", "narrow-nbsp"])
    if style == "dots":
        value = ".".join(groups)
    elif style in ("nbsp", "narrow-nbsp"):
        value = ("\u00a0" if style == "nbsp" else "\u202f").join(groups)
    elif style == "double-space":
        value = "  ".join(groups)
    elif style == "mixed":
        value = groups[0] + "".join(rng.choice([" ", "-", "."]) + g for g in groups[1:])
    elif style == "full-width":
        value = digits.translate(FULL_WIDTH)
    else:
        value = " ".join(groups).translate(FULL_WIDTH)
    return value, style


def hardened(rng: random.Random, per_kind: int) -> list[dict[str, Any]]:
    """The forms issue 14 found the redactor missing, and sentences near them that must stay."""
    rows: list[dict[str, Any]] = []

    def add(kind: str | None, text: str, value: str | None, fmt: str) -> None:
        rows.append({"text": text, "kind": kind, "value": value, "format": fmt, "keep": []})

    for _ in range(per_kind):
        value, style = card_variant(rng)
        add("CARD", rng.choice(TEMPLATES["CARD"]).format(value), value, f"card-{style}")
        cvv = d(rng, rng.choice([3, 3, 4]))
        template = rng.choice(["cvv {}", "CVV: {}", "the cvc is {}", "security code {}", "CVV2 {}.",
                               "card verification code: {}", "3 digit code is {}"])  # fmt: skip
        add("CVV", f"card ending {rng.randint(1000, 9999)} exp 0{rng.randint(1, 9)}/2{rng.randint(6, 9)} "
            + template.format(cvv), cvv, "cvv")  # fmt: skip
        code = iban(rng, rng.choice(list(IBAN_LAYOUTS)))
        style = rng.choice(["dashes", "double-space", "dots"])
        sep = {"dashes": "-", "double-space": "  ", "dots": "."}[style]
        value = sep.join(code[i : i + 4] for i in range(0, len(code), 4))
        add("IBAN", rng.choice(TEMPLATES["IBAN"]).format(value), value, f"iban-{style}")
        value = rng.choice([d(rng, 8), f"{d(rng, 2)}-{d(rng, 4)}-{d(rng, 7)}-{d(rng, 2)}", d(rng, 10), "0" + d(rng, 8)])
        template = rng.choice(["my account number is {}", "bank account number: {}", "acct no. {}",
                               "routing number {}", "Account # {}", "a/c {} please"])  # fmt: skip
        add("ACCOUNT", template.format(value), value, "account-keyword")
        area = rng.choice([a for a in range(1, 900) if a != 666])
        value = f"{area:03d} {rng.randint(1, 99):02d} {rng.randint(1, 9999):04d}"
        add("SSN", rng.choice(TEMPLATES["SSN"]).format(value), value, "us-spaced")
        secret = rng.choice(["hunter", "dragon", "Summer", "letmein", "qwerty", "Passw0rd", "monkey"]) + d(rng, rng.randint(0, 4))
        template = rng.choice(["my password is {}", "password: {}", "pwd={}", "My new password is {}, can you check it?",
                               "the verification code is {}", "pin is " + d(rng, 4) + " and passcode: {}"])  # fmt: skip
        add("SECRET", template.format(secret), secret, "secret-words")
    words = ["my password is not working", "I forgot my password again", "password reset link is broken",
             "my pin is bent", "the discount code is SAVE10", "which account is this for?",
             "account ending 4242 was charged", "is the cvv the 3 digits on the back?",
             "my password is wrong apparently", "order 12345678, account ending 1234"]  # fmt: skip
    for i in range(per_kind):
        add(None, words[i % len(words)], None, "secret-words")
    return rows


def build(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    counts = {"EMAIL": 500, "PHONE": 800, "CARD": 500, "IBAN": 400, "SSN": 100, "IP": 100}
    rows = positives(rng, counts) + negatives(rng, per_kind=100)
    rng.shuffle(rows)
    # Appended with their own generator, so the rows above stay as they were measured.
    extra = hardened(random.Random(seed + 1), per_kind=60)
    random.Random(seed + 2).shuffle(extra)
    return rows + extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps({"out": str(args.out), "rows": len(rows),
                      "positives": sum(r["kind"] is not None for r in rows),
                      "negatives": sum(r["kind"] is None for r in rows)}))  # fmt: skip


if __name__ == "__main__":
    main()
