"""A site's business hours: whether people answer now, and when they are back."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _, override

from chat.models import Site


def is_open(site: Site, now: datetime | None = None) -> bool:
    """Whether it is business hours at the site (always, when it has no opening time)."""
    if site.opens_at is None or site.closes_at is None:
        return True
    local = (now or timezone.now()).astimezone(ZoneInfo(site.time_zone))
    if str(local.isoweekday()) not in site.open_days:
        return False
    if site.opens_at <= site.closes_at:
        return site.opens_at <= local.time() < site.closes_at
    # Hours that run past midnight (22:00-06:00): open after the opening or before the closing.
    return local.time() >= site.opens_at or local.time() < site.closes_at


def next_opening(site: Site, now: datetime | None = None) -> datetime | None:
    """The next time business hours start at the site, in its time zone; None if it is open now."""
    now = now or timezone.now()
    if is_open(site, now) or site.opens_at is None or not site.open_days:
        return None
    zone = ZoneInfo(site.time_zone)
    local = now.astimezone(zone)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if str(day.isoweekday()) not in site.open_days:
            continue
        opening = datetime.combine(day, site.opens_at, tzinfo=zone)
        if opening > now:
            return opening
    return None


def describe_opening(site: Site, now: datetime | None = None) -> str:
    """When people are back, in the site's language and time zone: "tomorrow at 09:00" etc."""
    now = now or timezone.now()
    opening = next_opening(site, now)
    if opening is None:
        return ""
    today = now.astimezone(opening.tzinfo).date()
    with override(site.language):
        time = opening.strftime("%H:%M")
        if opening.date() == today:
            when = _("today at %(time)s") % {"time": time}
        elif opening.date() == today + timedelta(days=1):
            when = _("tomorrow at %(time)s") % {"time": time}
        else:
            day = formats.date_format(opening.date(), "l")
            when = _("%(day)s at %(time)s") % {"day": day, "time": time}
        return _("%(when)s (%(zone)s time)") % {"when": when, "zone": site.time_zone}
