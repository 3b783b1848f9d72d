"""Insights figures: daily roll-ups, their sums over a range, the command and the dashboard."""

import csv
import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from insights.charts import charts
from insights.metrics import rollup, summarize
from insights.models import DailyStat
from tests.insights_data import answered, conversation, fallback

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_live_figures_from_other_tests():
    from insights import metrics

    metrics._live.clear()

YESTERDAY = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)


@pytest.fixture
def history(site):
    """Yesterday: four conversations under two model versions, one handed off, two rated."""
    conversation(site, YESTERDAY, answered("I want a refund") + answered("thanks", intent="thanks"), rating=5)
    conversation(site, YESTERDAY, fallback("do you sell gift cards?", feedback="down"), rating=2)
    conversation(site, YESTERDAY, [
        *answered("where is my parcel", intent="tracking", version="v2"),
        ("system", "Connecting you with a person.", {}),
        ("agent", "Hi, I'm Alex.", {}),
    ], handoff_reason="customer asked for a person")
    conversation(site, YESTERDAY, answered("refund please", version="v2", feedback="up"))
    conversation(site, YESTERDAY, [])  # opened and left without a word: not counted
    return site


def test_a_day_rolls_up_into_rows_per_model_version(history):
    rows = {row.model_version: row for row in rollup(history.pk, YESTERDAY.date())}
    assert set(rows) == {"", "v1", "v2"}
    assert (rows["v1"].conversations, rows["v1"].contained, rows["v1"].handed_off) == (2, 1, 0)
    assert (rows["v2"].conversations, rows["v2"].contained, rows["v2"].handed_off) == (2, 1, 1)
    assert (rows["v1"].fallback, rows["v1"].bot_replies, rows["v1"].thumbs_down) == (1, 3, 1)
    assert rows["v1"].csat_scores == [0, 1, 0, 0, 1]
    assert rows["v2"].agent_response_ms == {1000: 1}
    assert rows["v1"].intents == {"refund": [1, 0, 0], "thanks": [1, 0, 0]}


def test_rolling_a_day_up_again_replaces_its_rows(history):
    rollup(history.pk, YESTERDAY.date())
    rollup(history.pk, YESTERDAY.date())
    assert DailyStat.objects.filter(site=history, day=YESTERDAY.date()).count() == 3


def test_a_range_sums_the_roll_ups_and_rolls_up_missing_days_once(history, django_assert_max_num_queries):
    day = YESTERDAY.date()
    summary = summarize(history, day - dt.timedelta(days=6), day + dt.timedelta(days=1))
    figures = summary.total.rates()
    assert figures["conversations"] == 4
    assert figures["containment_rate"] == 0.5
    assert figures["handoff_rate"] == 0.25
    assert figures["fallback_rate"] == 0.2
    assert (figures["csat_average"], figures["csat_count"]) == (3.5, 2)
    assert (figures["thumbs_up"], figures["thumbs_down"]) == (1, 1)
    assert DailyStat.objects.filter(site=history, model_version="").count() == 7  # every past day, once
    with django_assert_max_num_queries(4):  # stored days read in one query; today computed live
        summarize(history, day - dt.timedelta(days=6), day + dt.timedelta(days=1))


def test_today_is_computed_live_and_not_stored(site):
    conversation(site, timezone.now() - dt.timedelta(minutes=2), answered("refund"), rating=4)
    today = timezone.now().date()
    assert summarize(site, today, today).total.rates()["csat_average"] == 4.0
    assert not DailyStat.objects.exists()
    # A new rating shows at once (the live figures are reused only while nothing was added).
    conversation(site, timezone.now() - dt.timedelta(minutes=1), answered("refund"), rating=2)
    assert summarize(site, today, today).total.rates()["csat_average"] == 3.0


def test_the_command_prints_the_figures_and_each_model_version_as_json(history):
    out = io.StringIO()
    call_command("insights", "--site", history.public_key, "--days", "7", "--json", stdout=out)
    figures = json.loads(out.getvalue())
    for key in ["conversations", "customer_messages", "containment_rate", "handoff_rate", "fallback_rate",
                "clarify_rate", "csat_average", "csat_count", "thumbs_up", "thumbs_down"]:
        assert key in figures
    assert figures["customer_messages"] == 5
    assert [v["version"] for v in figures["by_model_version"]] == ["v2", "v1"]
    assert figures["by_model_version"][0]["handoff_rate"] == 0.5


def test_the_command_refuses_an_unknown_site(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no site"):
        call_command("insights", "--site", "nope", "--json")


def test_the_dashboard_is_for_staff_only(client, site):
    assert client.get("/insights/").status_code == 302
    client.force_login(User.objects.create_user("shopper", password="pw-123-456-789"))
    assert client.get("/insights/").status_code == 302


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_user("owner", password="pw-123-456-789", is_staff=True))
    return client


def test_the_dashboard_shows_the_sites_figures(staff_client, history):
    day = YESTERDAY.date().isoformat()
    page = staff_client.get(f"/insights/?site={history.public_key}&start={day}&end={day}").content.decode()
    assert "3.5 / 5" in page and "2 ratings" in page
    assert 'href="/insights/chart/satisfaction.csv?' in page


def test_a_bad_date_range_says_so_and_shows_the_default(staff_client, history):
    response = staff_client.get(f"/insights/?site={history.public_key}&start=yesterday")
    assert response.status_code == 200
    assert "dates must be written YYYY-MM-DD" in response.content.decode()


def test_a_charts_csv_holds_its_numbers(staff_client, history):
    day = YESTERDAY.date()
    response = staff_client.get(f"/insights/chart/rates.csv?site={history.public_key}&start={day}&end={day}")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    chart = next(c for c in charts(summarize(history, day, day)) if c.name == "rates")
    assert rows[0] == chart.header
    assert rows[1] == [str(cell) for cell in chart.rows[0]]
    assert rows[1][1:3] == ["50.0", "25.0"]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(staff_client, site):
    at = YESTERDAY
    conversation(site, at, answered("x", intent="=HYPERLINK(\"http://evil\")"))
    conversation(site, at, answered("y", intent="-2+3"))
    day = at.date()
    text = staff_client.get(f"/insights/chart/intents.csv?site={site.public_key}&start={day}&end={day}").content.decode()
    cells = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert sorted(cells) == ["'-2+3", "'=HYPERLINK(\"http://evil\")"]


def test_every_chart_draws_as_svg(staff_client, history):
    day = YESTERDAY.date()
    for chart in charts(summarize(history, day, day)):
        response = staff_client.get(f"/insights/chart/{chart.name}.svg?site={history.public_key}&start={day}&end={day}")
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
        assert response.content.lstrip().startswith(b"<?xml")


def test_the_admin_home_and_the_agent_console_link_to_the_dashboard(staff_client, site):
    assert 'href="/insights/"' in staff_client.get("/admin/").content.decode()
    assert 'href="/insights/"' in staff_client.get("/agent/").content.decode()


def test_response_times_are_kept_as_histograms_whose_median_is_within_five_percent():
    from insights.metrics import _median_s, bucket

    assert [bucket(ms) for ms in [4, 494, 1234, 305_490]] == [0, 490, 1200, 310_000]
    assert _median_s({100: 2, 300: 1}) == 0.1
    assert _median_s({100: 1, 300: 1}) == 0.2
    assert _median_s({}) is None


def test_an_agent_assigned_to_other_sites_does_not_see_this_ones_figures(client, history):
    from chat.models import Site

    other = Site.objects.create(public_key="other-shop", name="Other shop")
    agent = User.objects.create_user("agent", password="pw-123-456-789", is_staff=True)
    other.agents.add(agent)
    history.agents.add(User.objects.create_user("colleague", password="pw-123-456-789", is_staff=True))
    client.force_login(agent)
    assert client.get(f"/insights/?site={history.public_key}").status_code == 404
    assert client.get(f"/insights/chart/rates.csv?site={history.public_key}").status_code == 404
    assert client.get("/insights/?site=other-shop").status_code == 200
