"""The shop's figures: roll a day up into DailyStat rows, and sum the rows of a date range.

A day is rolled up with two aggregate queries over that day's conversations (indexed by site
and creation time): one row per conversation, and bot replies grouped by model version, intent,
source and thumbs. The dashboard and `manage.py insights` read roll-ups for past days (rolling
up any day not done yet, once) and work today out live, so they never scan the whole history.

Definitions (docs/insights.md):
  conversations       opened that day with at least one customer message
  containment rate    conversations the bot answered (a curated answer or a past ticket) and that
                      never went to a person (no handoff, no agent message), over conversations
  handoff rate        conversations handed to a person (asked for, or joined by an agent)
  fallback, clarify   bot replies of that kind over all bot replies
  first response      first customer message → first bot or agent message
  agent response      handoff (the first system notice) → the agent's first message
A conversation's figures go to the model version of its first bot reply.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chat.models import Conversation, Message, Rating, Site
from insights.models import DailyStat

MAX_DAYS = 366  # the longest range the dashboard and the command accept

COUNTS = [
    "conversations", "customer_messages", "contained", "handed_off", "bot_replies", "answers", "tickets",
    "clarify", "fallback", "thumbs_up", "thumbs_down", "csat_count", "csat_sum",
]
SOURCE_FIELD = {
    Message.Source.ANSWER: "answers", Message.Source.TICKET: "tickets",
    Message.Source.CLARIFY: "clarify", Message.Source.FALLBACK: "fallback",
}


@dataclass
class Figures:
    """Additive figures of some conversations (a day, a range, a model version)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    csat_scores: list[int] = field(default_factory=lambda: [0] * 5)
    # Response times as histograms: milliseconds rounded by `bucket` → how many conversations.
    first_response_ms: dict[int, int] = field(default_factory=dict)
    agent_response_ms: dict[int, int] = field(default_factory=dict)
    intents: dict[str, list[int]] = field(default_factory=dict)  # intent → [replies, up, down]

    def add(self, other: Figures) -> None:
        for key, value in other.counts.items():
            self.counts[key] += value
        self.csat_scores = [a + b for a, b in zip(self.csat_scores, other.csat_scores)]
        for histogram, theirs in ((self.first_response_ms, other.first_response_ms),
                                  (self.agent_response_ms, other.agent_response_ms)):
            for value, n in theirs.items():
                histogram[value] = histogram.get(value, 0) + n
        for name, values in other.intents.items():
            totals = self.intents.setdefault(name, [0, 0, 0])
            for i, value in enumerate(values):
                totals[i] += value

    @classmethod
    def from_row(cls, row: DailyStat) -> Figures:
        return cls(
            counts={key: getattr(row, key) for key in COUNTS},
            csat_scores=list(row.csat_scores) or [0] * 5,
            first_response_ms=_histogram(row.first_response_ms),
            agent_response_ms=_histogram(row.agent_response_ms),
            intents={name: list(values) for name, values in row.intents.items()},
        )

    def rates(self) -> dict[str, Any]:
        """The ratios and medians the dashboard shows (None where there is nothing to divide)."""
        c = self.counts
        return {
            "conversations": c["conversations"],
            "customer_messages": c["customer_messages"],
            "bot_replies": c["bot_replies"],
            "containment_rate": _ratio(c["contained"], c["conversations"]),
            "handoff_rate": _ratio(c["handed_off"], c["conversations"]),
            "fallback_rate": _ratio(c["fallback"], c["bot_replies"]),
            "clarify_rate": _ratio(c["clarify"], c["bot_replies"]),
            "csat_average": round(c["csat_sum"] / c["csat_count"], 2) if c["csat_count"] else None,
            "csat_count": c["csat_count"],
            "thumbs_up": c["thumbs_up"],
            "thumbs_down": c["thumbs_down"],
            "median_first_response_s": _median_s(self.first_response_ms),
            "median_agent_response_s": _median_s(self.agent_response_ms),
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def bucket(ms: int) -> int:
    """Milliseconds kept to 10 ms below a second, else to two significant digits (within 5 %)."""
    if ms < 1000:
        return round(ms, -1)
    return round(ms, 2 - len(str(ms)))


def _histogram(stored: Any) -> dict[int, int]:
    """A stored histogram ({"490": 3}); a list of values as rows rolled up before were written."""
    if isinstance(stored, list):
        counts: dict[int, int] = {}
        for value in stored:
            counts[bucket(value)] = counts.get(bucket(value), 0) + 1
        return counts
    return {int(value): n for value, n in stored.items()}


def _median_s(histogram: dict[int, int]) -> float | None:
    """The median of a histogram, in seconds (the mean of the two middle values for an even count)."""
    total = sum(histogram.values())
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]
    found, seen = [], 0
    for value in sorted(histogram):
        seen += histogram[value]
        while middle and middle[0] < seen:
            found.append(value)
            middle.pop(0)
    return round(statistics.mean(found) / 1000, 2)


def _ms(later: dt.datetime | None, earlier: dt.datetime | None) -> int | None:
    if later is None or earlier is None or later < earlier:
        return None
    return int((later - earlier).total_seconds() * 1000)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def compute_day(site_id: int, day: dt.date) -> dict[str, Figures]:
    """One site's figures for one day (UTC), by model version; two aggregate queries."""
    start, end = day_bounds(day)
    conversations = Conversation.objects.filter(site_id=site_id, created__gte=start, created__lt=end)
    by_version: dict[str, Figures] = defaultdict(Figures)
    versions = _conversation_figures(conversations, by_version)
    _reply_figures(conversations, versions, by_version)
    return dict(by_version)


def _conversation_figures(conversations: QuerySet[Conversation], by_version: dict[str, Figures]) -> dict[int, str]:
    """Conversation-level counts into `by_version`; returns each conversation's version."""
    customer, bot, agent, system = (Message.Sender.CUSTOMER, Message.Sender.BOT, Message.Sender.AGENT,
                                    Message.Sender.SYSTEM)
    first_bot = Message.objects.filter(conversation=OuterRef("pk"), sender=bot).order_by("seq")
    rows = conversations.annotate(
        n_customer=Count("messages", filter=Q(messages__sender=customer)),
        n_solved=Count("messages", filter=Q(messages__sender=bot, messages__source__in=[
            Message.Source.ANSWER, Message.Source.TICKET])),
        first_customer=Min("messages__created", filter=Q(messages__sender=customer)),
        first_reply=Min("messages__created", filter=Q(messages__sender__in=[bot, agent])),
        first_agent=Min("messages__created", filter=Q(messages__sender=agent)),
        first_notice=Min("messages__created", filter=Q(messages__sender=system)),
        version=Subquery(first_bot.values("model_version")[:1]),
    ).values_list("pk", "n_customer", "n_solved", "first_customer", "first_reply", "first_agent", "first_notice",
                  "version", "handoff_reason", "rating__score")
    versions = {}
    for pk, n_customer, n_solved, first_customer, first_reply, first_agent, first_notice, version, reason, score in rows:
        version = version or ""
        versions[pk] = version
        if not n_customer:
            continue  # a widget opened and left without a word
        figures = by_version[version]
        c = figures.counts
        c["conversations"] += 1
        c["customer_messages"] += n_customer
        handed_off = bool(reason) or first_agent is not None
        c["handed_off"] += handed_off
        c["contained"] += n_solved > 0 and not handed_off
        if score:
            c["csat_count"] += 1
            c["csat_sum"] += score
            figures.csat_scores[score - 1] += 1
        for histogram, ms in ((figures.first_response_ms, _ms(first_reply, first_customer)),
                              (figures.agent_response_ms, _ms(first_agent, first_notice))):
            if ms is not None:
                histogram[bucket(ms)] = histogram.get(bucket(ms), 0) + 1
    return versions


def _reply_figures(conversations: QuerySet[Conversation], versions: dict[int, str],
                   by_version: dict[str, Figures]) -> None:
    """Bot replies by kind, intent and thumbs, into the version of the conversation they belong to."""
    rows = (
        Message.objects.filter(conversation__in=conversations, sender=Message.Sender.BOT)
        .values_list("conversation_id", "intent", "source", "feedback")
        .annotate(n=Count("id"))
        .order_by()
    )
    for conversation_id, intent, source, feedback, n in rows:
        figures = by_version[versions.get(conversation_id, "")]
        c = figures.counts
        c["bot_replies"] += n
        if source in SOURCE_FIELD:
            c[SOURCE_FIELD[source]] += n
        up = n if feedback == Message.Feedback.UP else 0
        down = n if feedback == Message.Feedback.DOWN else 0
        c["thumbs_up"] += up
        c["thumbs_down"] += down
        if intent:
            totals = figures.intents.setdefault(intent, [0, 0, 0])
            totals[0] += n
            totals[1] += up
            totals[2] += down


# Today's figures are worked out live; a page and its charts (ten requests) reuse them while
# no message or rating was added, for at most LIVE_SECONDS (thumbs given meanwhile wait that long).
LIVE_SECONDS = 60.0
_live: dict[tuple[int, dt.date], tuple[tuple[Any, ...], float, dict[str, Figures]]] = {}
_live_lock = threading.Lock()


def live_day(site_id: int, day: dt.date) -> dict[str, Figures]:
    """`compute_day` for a day still changing, reused while nothing new was stored."""
    marker = (Message.objects.aggregate(m=Max("id"))["m"], Rating.objects.aggregate(m=Max("id"))["m"])
    key = (site_id, day)
    with _live_lock:
        found = _live.get(key)
    if found is not None and found[0] == marker and found[1] > time.monotonic():
        return found[2]
    figures = compute_day(site_id, day)
    with _live_lock:
        _live[key] = (marker, time.monotonic() + LIVE_SECONDS, figures)
    return figures


def rollup(site_id: int, day: dt.date) -> list[DailyStat]:
    """Compute and store one site's day (replacing what was stored)."""
    figures = compute_day(site_id, day)
    figures.setdefault("", Figures())  # the marker row: this day is rolled up
    now = timezone.now()
    rows = [
        DailyStat(site_id=site_id, day=day, model_version=version, computed=now,
                  csat_scores=f.csat_scores, first_response_ms=f.first_response_ms,
                  agent_response_ms=f.agent_response_ms, intents=f.intents, **f.counts)
        for version, f in figures.items()
    ]
    with transaction.atomic():
        DailyStat.objects.filter(site_id=site_id, day=day).delete()
        DailyStat.objects.bulk_create(rows)
    return rows


def rollup_recent(days: int = 2) -> int:
    """Roll up the last `days` finished days of every site (late ratings and thumbs land there)."""
    today = timezone.now().date()
    done = 0
    for site_id in Site.objects.values_list("pk", flat=True):
        for back in range(1, days + 1):
            rollup(site_id, today - dt.timedelta(days=back))
            done += 1
    return done


@dataclass
class Summary:
    """A site's figures over a date range: totals, per day, per model version."""

    site: Site
    start: dt.date
    end: dt.date  # inclusive
    total: Figures
    days: dict[dt.date, Figures]
    versions: dict[str, Figures]

    def as_json(self) -> dict[str, Any]:
        """The shape `manage.py insights --json` prints."""
        return {
            "site": self.site.public_key,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            **self.total.rates(),
            "by_model_version": [
                {"version": version, **figures.rates()} for version, figures in self.version_items()
            ],
        }

    def version_items(self) -> list[tuple[str, Figures]]:
        """Model versions with conversations, newest name first (versions are timestamps)."""
        return sorted(((v, f) for v, f in self.versions.items() if f.counts["conversations"]), reverse=True)

    def intents(self) -> list[tuple[str, int, int, int]]:
        """(intent, bot replies, thumbs up, thumbs down), busiest first."""
        return sorted(((name, *values) for name, values in self.total.intents.items()),  # type: ignore[misc]  # mypy cannot type a star-unpacked tuple display
                      key=lambda row: (-row[1], row[0]))


def summarize(site: Site, start: dt.date, end: dt.date) -> Summary:
    """Sum a site's roll-ups from `start` to `end` (inclusive); days not rolled up are rolled up now,
    today (still changing) is computed live and not stored."""
    today = timezone.now().date()
    last_stored = min(end, today - dt.timedelta(days=1))
    rows = list(DailyStat.objects.filter(site=site, day__gte=start, day__lte=last_stored))
    have = {row.day for row in rows}
    missing = [day for day in _days(start, last_stored) if day not in have]
    for day in missing:
        rows += rollup(site.pk, day)
    per_day: dict[dt.date, dict[str, Figures]] = defaultdict(dict)
    for row in rows:
        per_day[row.day][row.model_version] = Figures.from_row(row)
    if start <= today <= end:
        per_day[today] = live_day(site.pk, today)
    total = Figures()
    versions: dict[str, Figures] = defaultdict(Figures)
    days: dict[dt.date, Figures] = {}
    for day in _days(start, end):
        day_total = Figures()
        for version, figures in per_day.get(day, {}).items():
            day_total.add(figures)
            versions[version].add(figures)
        days[day] = day_total
        total.add(day_total)
    return Summary(site, start, end, total, days, dict(versions))


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def last_days(days: int) -> tuple[dt.date, dt.date]:
    """The range of the last `days` days, today included."""
    today = timezone.now().date()
    return today - dt.timedelta(days=max(1, days) - 1), today
