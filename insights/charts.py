"""The dashboard's charts: each is a table of numbers (shown, and downloadable as CSV) drawn as SVG.

Drawn on the server with matplotlib's object API (no pyplot: no global state, safe on threads),
imported only when a chart is drawn.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from insights.metrics import Summary

TOP = 10
# Drawn charts by their numbers: a page's charts are asked for again on every view, and
# matplotlib takes 0.2-1 s per chart on a busy 2-core machine (docs/benchmarks.md).
CACHE_SIZE = 256
_drawn: OrderedDict[str, str] = OrderedDict()
_drawn_lock = threading.Lock()
COLORS = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2"]


@dataclass
class Chart:
    name: str
    title: str
    kind: str  # "line" (x = first column), "bar" (grouped bars), "barh" (one series, horizontal)
    header: list[str]
    rows: list[list[Any]]
    unit: str = ""


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def charts(summary: Summary) -> list[Chart]:
    """Every chart of the dashboard, in page order."""
    days = sorted(summary.days.items())
    rates = [(day, figures.rates()) for day, figures in days]
    intents = summary.intents()
    most_down = sorted((row for row in intents if row[3]), key=lambda row: (-row[3], row[0]))[:TOP]
    versions = [(version or "(none)", figures.rates()) for version, figures in summary.version_items()]
    return [
        Chart("conversations", "Conversations per day", "line", ["day", "conversations", "contained", "handed_off"],
              [[day.isoformat(), f.counts["conversations"], f.counts["contained"], f.counts["handed_off"]]
               for day, f in days]),
        Chart("rates", "Containment, handoff, fallback and clarify rates per day (%)", "line",
              ["day", "containment_rate", "handoff_rate", "fallback_rate", "clarify_rate"],
              [[day.isoformat(), _pct(r["containment_rate"]), _pct(r["handoff_rate"]), _pct(r["fallback_rate"]),
                _pct(r["clarify_rate"])] for day, r in rates], unit="%"),
        Chart("satisfaction", "Satisfaction: ratings by score", "bar", ["score", "ratings"],
              [[score, count] for score, count in enumerate(summary.total.csat_scores, 1)]),
        Chart("thumbs", "Thumbs up and down per day", "line", ["day", "thumbs_up", "thumbs_down"],
              [[day.isoformat(), f.counts["thumbs_up"], f.counts["thumbs_down"]] for day, f in days]),
        Chart("response_times", "Median response times per day (seconds)", "line",
              ["day", "median_first_response_s", "median_agent_response_s"],
              [[day.isoformat(), r["median_first_response_s"], r["median_agent_response_s"]] for day, r in rates],
              unit="s"),
        Chart("intents", "Busiest intents (bot replies)", "barh", ["intent", "replies"],
              [[name, replies] for name, replies, _, _ in intents[:TOP]]),
        Chart("thumbs_down_answers", "Answers with the most thumbs down", "barh", ["intent", "thumbs_down", "replies"],
              [[name, down, replies] for name, replies, _, down in most_down]),
        Chart("model_versions", "By model version (%)", "bar",
              ["version", "containment_rate", "handoff_rate", "fallback_rate", "clarify_rate"],
              [[version, _pct(r["containment_rate"]), _pct(r["handoff_rate"]), _pct(r["fallback_rate"]),
                _pct(r["clarify_rate"])] for version, r in versions], unit="%"),
    ]


def find(summary: Summary, name: str) -> Chart | None:
    return next((chart for chart in charts(summary) if chart.name == name), None)


def svg(chart: Chart) -> str:
    """The chart drawn as an SVG document (from the cache when the same numbers were drawn before)."""
    key = json.dumps([chart.kind, chart.title, chart.unit, chart.header, chart.rows], default=str)
    with _drawn_lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
    drawn = draw(chart)
    with _drawn_lock:
        _drawn[key] = drawn
        while len(_drawn) > CACHE_SIZE:
            _drawn.popitem(last=False)
    return drawn


def draw(chart: Chart) -> str:
    """The chart drawn as an SVG document by matplotlib."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(chart.title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=8)
    if not chart.rows:
        axes.text(0.5, 0.5, "no data in this range", ha="center", va="center", transform=axes.transAxes, color="#5b6475")
        axes.set_xticks([])
        axes.set_yticks([])
    elif chart.kind == "line":
        x = list(range(len(chart.rows)))
        for i, name in enumerate(chart.header[1:], 1):
            values = [row[i] if row[i] is not None else float("nan") for row in chart.rows]
            axes.plot(x, values, label=name.replace("_", " "), color=COLORS[i - 1], linewidth=1.6,
                      marker="o" if len(x) <= 31 else None, markersize=3)
        step = max(1, len(x) // 8)
        axes.set_xticks(x[::step], [str(row[0])[5:] for row in chart.rows][::step])
        axes.legend(fontsize=7, frameon=False)
    elif chart.kind == "bar":
        series = chart.header[1:]
        width = 0.8 / len(series)
        for i, name in enumerate(series, 1):
            values = [row[i] or 0 for row in chart.rows]
            positions = [k + (i - 1) * width - 0.4 + width / 2 for k in range(len(chart.rows))]
            axes.bar(positions, values, width, label=name.replace("_", " "), color=COLORS[i - 1])
        axes.set_xticks(range(len(chart.rows)), [str(row[0]) for row in chart.rows])
        if len(series) > 1:
            axes.legend(fontsize=7, frameon=False)
    else:
        labels = [str(row[0]) for row in chart.rows][::-1]
        axes.barh(labels, [row[1] for row in chart.rows][::-1], color=COLORS[0])
    if chart.unit == "%" and chart.rows:
        axes.set_ylim(0, 100)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
