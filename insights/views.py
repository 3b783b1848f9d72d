"""The insights pages (staff only): parse the request, call one function, render."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from chat.models import Site
from insights import charts, gaps
from insights.metrics import MAX_DAYS, Summary, last_days, summarize
from insights.models import GapRun, GapTopic
from knowledge.csvfiles import csv_response
from knowledge.models import Intent

DEFAULT_DAYS = 30
INTENT_NAME = re.compile(r"^[a-z0-9_-]{1,100}$")


class BadRange(ValueError):
    pass


def _sites(request: HttpRequest) -> QuerySet[Site]:
    """The sites this user may see: as in the agent console, those they are assigned to and those
    with nobody assigned (superusers: all)."""
    sites = Site.objects.order_by("name")
    if request.user.is_superuser:
        return sites
    return sites.filter(Q(agents=None) | Q(agents=request.user.pk)).distinct()


def _site(request: HttpRequest) -> Site:
    key = request.GET.get("site") or request.POST.get("site")
    sites = _sites(request)
    site = sites.filter(public_key=key).first() if key else sites.first()
    if site is None:
        raise Http404("no such site")
    return site


def _range(request: HttpRequest) -> tuple[dt.date, dt.date]:
    """`start` and `end` (YYYY-MM-DD, inclusive) or the last DEFAULT_DAYS days."""
    default_start, default_end = last_days(DEFAULT_DAYS)
    try:
        start = dt.date.fromisoformat(request.GET["start"]) if request.GET.get("start") else default_start
        end = dt.date.fromisoformat(request.GET["end"]) if request.GET.get("end") else default_end
    except ValueError as exc:
        raise BadRange("dates must be written YYYY-MM-DD") from exc
    if end < start:
        raise BadRange("the end date is before the start date")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRange(f"a range is at most {MAX_DAYS} days")
    return start, end


def _summary(request: HttpRequest) -> Summary:
    try:
        start, end = _range(request)
    except BadRange as exc:
        raise Http404(str(exc)) from exc
    return summarize(_site(request), start, end)


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    site = _site(request)
    try:
        start, end = _range(request)
    except BadRange as exc:
        messages.error(request, f"{exc}; showing the last {DEFAULT_DAYS} days.")
        start, end = last_days(DEFAULT_DAYS)
    summary = summarize(site, start, end)
    query = urlencode({"site": site.public_key, "start": start.isoformat(), "end": end.isoformat()})
    return render(request, "insights/dashboard.html", {
        "site": site, "sites": _sites(request), "start": start, "end": end, "query": query,
        "figures": summary.total.rates(), "charts": charts.charts(summary),
    })


@staff_member_required
@require_GET
def chart_svg(request: HttpRequest, name: str) -> HttpResponse:
    chart = charts.find(_summary(request), name)
    if chart is None:
        raise Http404("no such chart")
    return HttpResponse(charts.svg(chart), content_type="image/svg+xml")


@staff_member_required
@require_GET
def chart_csv(request: HttpRequest, name: str) -> HttpResponse:
    summary = _summary(request)
    chart = charts.find(summary, name)
    if chart is None:
        raise Http404("no such chart")
    filename = f"{summary.site.public_key}-{name}-{summary.start}-{summary.end}.csv"
    return csv_response(filename, chart.header, chart.rows)


@staff_member_required
@require_GET
def content_gaps(request: HttpRequest) -> HttpResponse:
    site = _site(request)
    run = gaps.latest(site.pk)
    topics = list(run.topics.select_related("intent")) if run else []
    return render(request, "insights/gaps.html", {
        "site": site, "sites": _sites(request), "run": run, "topics": topics,
        "intents": Intent.objects.order_by("name"), "days": run.days if run else DEFAULT_DAYS,
    })


@staff_member_required
@require_POST
def content_gaps_run(request: HttpRequest) -> HttpResponse:
    site = _site(request)
    try:
        days = int(request.POST.get("days", DEFAULT_DAYS))
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        messages.error(request, f"Days must be a whole number from 1 to {MAX_DAYS}.")
    else:
        gaps.enqueue(site.pk, days)
        messages.success(request, "Recomputing the content gaps; this page shows the progress.")
    return redirect(f"{reverse('insights-gaps')}?{urlencode({'site': site.public_key})}")


@staff_member_required
@require_GET
def content_gaps_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(GapRun, pk=run_id, site__in=_sites(request))
    return JsonResponse({"status": run.status, "progress": run.progress, "stage": run.stage})


# Promoting writes training examples (and may create an intent): the same model permissions as
# the review queue and the admin ask for.
@staff_member_required
@require_POST
@permission_required("knowledge.add_trainingexample", raise_exception=True)
def promote_topic(request: HttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(GapTopic.objects.select_related("run__site"), pk=topic_id, run__site__in=_sites(request))
    back = f"{reverse('insights-gaps')}?{urlencode({'site': topic.run.site.public_key})}#topic-{topic.pk}"
    if request.POST.get("intent"):
        intent = get_object_or_404(Intent, pk=request.POST["intent"])
        gaps.promote(topic, intent=intent)
        messages.success(request, f"Added {topic.size} examples to {intent.name}; the next retrain learns them.")
        return redirect(back)
    if not request.user.has_perm("knowledge.add_intent"):
        messages.error(request, "Creating an intent needs the permission to add intents; add the examples to an existing one.")
        return redirect(back)
    name = request.POST.get("name", "").strip().lower().replace(" ", "_")
    answer = request.POST.get("answer", "").strip()
    if not INTENT_NAME.match(name) or not answer:
        messages.error(request, "A new intent needs a name (letters, digits, _ or -) and an answer.")
        return redirect(back)
    if Intent.objects.filter(name=name).exists():
        messages.error(request, f"An intent named {name} exists already: add the examples to it instead.")
        return redirect(back)
    intent = gaps.promote(topic, name=name, answer=answer)
    messages.success(request, f"Created intent {intent.name} with {topic.size} examples; the next retrain learns it.")
    return redirect(back)
