"""Answers from the shop's own systems: a curated answer whose intent has a Lookup.

The reply policy (chat/replies.py) decides *that* an intent answers; this module does the rest:
  1. take the values the lookup needs (order number, email, postcode) from the message, and the
     ones given earlier in the conversation (kept in Conversation.pending_lookup);
  2. a value missing → ask for it ("What is your order number?") and remember what was asked;
  3. all there → POST them, signed like a webhook, to the shop's endpoint with the lookup's
     timeout (chat/outbound.py); the JSON reply fills the answer's template;
  4. no answer in time, an error, or a reply that does not fill the template → an honest answer
     that offers a person.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chat import outbound
from chat.models import Conversation
from knowledge.models import Lookup

PATTERNS = {
    # "order 10482", "#10482", "order number: A-10482"; a bare number of 4-12 digits also counts.
    "order_number": re.compile(r"(?:#|\border(?:\s*(?:number|no\.?|nr\.?|#))?\s*:?\s*)([A-Z]{0,3}-?\d{4,12})\b"
                               r"|\b(\d{4,12})\b", re.IGNORECASE),
    "email": re.compile(r"\b([^@\s]+@[^@\s]+\.[A-Za-z]{2,})\b"),
    "postcode": re.compile(r"\b(\d{5}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\b", re.IGNORECASE),
}
QUESTIONS = {
    "order_number": "What is your order number? You'll find it in your order confirmation email.",
    "email": "Which email address did you order with?",
    "postcode": "What is the postcode of the delivery address?",
}
FAILED_TEXT = (
    "Sorry, I can't reach our order system right now, so I can't look that up. "
    "Please try again in a few minutes, or I can connect you with a person."
)
NOT_FOUND_TEXT = "Sorry, I couldn't find anything for {values}. Could you check it, or shall I connect you with a person?"


def extract(slot: str, text: str) -> str | None:
    match = PATTERNS[slot].search(text)
    if match is None:
        return None
    return next(group for group in match.groups() if group).strip()


def active(names: Iterable[str]) -> dict[str, Lookup]:
    """The active lookups of these intents, by intent name (one query)."""
    return {lookup.intent.name: lookup for lookup in
            Lookup.objects.filter(intent__name__in=set(names), is_active=True).select_related("intent")}


def customers(conversation_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The verified customers of these conversations (chat/identity.py): {"id", "email"} by conversation."""
    rows = Conversation.objects.filter(pk__in=set(conversation_ids)).exclude(visitor__external_id="").values_list(
        "pk", "visitor__external_id", "visitor__email")
    return {pk: {"id": external_id, "email": email} for pk, external_id, email in rows}


def remember(conversation_id: int, state: dict[str, Any]) -> None:
    Conversation.objects.filter(pk=conversation_id).update(pending_lookup=state)


@dataclass
class Job:
    """One lookup to answer: the values found so far and, once run, the answer."""

    lookup: Lookup
    values: dict[str, str] = field(default_factory=dict)
    customer: dict[str, str] | None = None  # a verified customer (docs/widget.md), for the shop to check
    text: str = ""
    ok: bool = False

    @property
    def missing(self) -> list[str]:
        return [slot for slot in self.lookup.slots if slot not in self.values]

    def question(self) -> str:
        return QUESTIONS.get(self.missing[0], f"What is your {self.missing[0].replace('_', ' ')}?")


def start(lookup: Lookup, text: str, known: dict[str, str] | None = None) -> Job:
    values = dict(known or {})
    for slot in lookup.slots:
        if slot not in values and (found := extract(slot, text)) is not None:
            values[slot] = found
    return Job(lookup, values)


def run(job: Job) -> Job:
    """Ask the shop's endpoint and fill the template (never raises: a failure is an honest answer)."""
    lookup = job.lookup
    request = {"id": str(uuid.uuid4()), "intent": lookup.intent.name, "values": job.values}
    if job.customer:
        request["customer"] = job.customer
    body = json.dumps(request, separators=(",", ":"), sort_keys=True)
    headers = {"Content-Type": "application/json",
               outbound.SIGNATURE_HEADER: outbound.sign(lookup.secret, int(time.time()), body)}
    result = outbound.post(lookup.url, body.encode(), headers, timeout=lookup.timeout_seconds)
    if result.status == 404:
        job.text = NOT_FOUND_TEXT.format(values=", ".join(job.values.values()))
        return job
    try:
        data = json.loads(result.body) if result.ok else None
        job.text = lookup.template.format_map({**job.values, **data}) if isinstance(data, dict) else FAILED_TEXT
        job.ok = isinstance(data, dict)
    except (ValueError, KeyError, IndexError, TypeError):
        job.text = FAILED_TEXT
    return job


def run_all(jobs: list[Job]) -> list[Job]:
    """Every lookup of a batch at once: the slowest sets the wait, not their sum."""
    if len(jobs) <= 1:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        return list(pool.map(run, jobs))
