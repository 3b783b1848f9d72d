"""Insights benchmark: realistic chat history on PostgreSQL, then roll-up and dashboard times.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatbot .venv/bin/python bench/insights.py \
        [--messages 1000000] [--days 90] [--repeat 5]

Steps:
  1. Create a throwaway database on the server of DATABASE_URL (tests/stack.Database), migrate.
  2. Write `--messages` messages over the last `--days` days with COPY: a shop site (90 % of the
     traffic) and a second site; conversations of 1-6 customer messages, each answered by the bot
     (curated answer 62 %, past ticket 8 %, "did you mean" 10 %, fallback 20 %) over 28 intents,
     thumbs on ~7 % of answers, 12 % handed to an agent who answers 20 s-10 min later, 15 % rated
     1-5; three model versions, one per month. Busier on weekdays and in the afternoon.
  3. Roll every past day up (insights.metrics.rollup): total and per-day time.
  4. The dashboard page for the shop over all the days (Django's test client, a staff user), its
     eight SVG charts and a CSV; first request and the median of `--repeat`; today computed live.
  5. The shop's content gaps over the last 30 days (no trained model: the TF-IDF half).
With --screenshots DIR, Daphne then serves that database and Chromium saves the dashboard and the
content gaps there (docs/screenshots/insights-*.png were made with `--messages 200000 --screenshots
docs/screenshots`). The database is dropped at the end (unless --keep). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import Database  # noqa: E402

INTENTS = [
    "order_status", "shipping_time", "return_item", "refund_status", "payment_methods", "damaged_item",
    "cancel_order", "change_address", "track_package", "invoice", "discount_code", "product_availability",
    "size_guide", "warranty", "opening_hours", "store_location", "gift_wrap", "exchange_item", "late_delivery",
    "wrong_item", "account_login", "password_reset", "newsletter", "delivery_countries", "customs_fees",
    "payment_failed", "price_match", "contact_human",
]
QUESTIONS = [
    "Where is my order?", "How long does shipping take to Germany?", "I want to return the blue mug",
    "When will I get my refund?", "Can I pay with PayPal?", "My package arrived damaged", "cancel my order pls",
    "I moved, can I change the delivery address?", "tracking number doesn't work", "I need an invoice for my company",
    "my discount code is not accepted", "is the tall vase back in stock?", "do you sell gift cards?",
    "is the stoneware dishwasher safe", "are you open on sunday", "do you ship to Norway?",
]
SOURCES = [("answer", 0.62), ("ticket", 0.08), ("clarify", 0.10), ("fallback", 0.20)]
BOT_TEXT = {"answer": "Here is how that works: ...", "ticket": "A customer with a similar question was helped with this: ...",
            "clarify": "I'm not completely sure what you mean. Did you mean one of these?",
            "fallback": "Sorry, I'm not sure I can help with that."}


def setup_django(url: str) -> None:
    os.environ.update(DATABASE_URL=url, DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def generate(dsn: str, sites: list[int], messages: int, days: int, seed: int = 7) -> dict[str, int]:
    """Write the history with COPY; returns row counts."""
    import psycopg

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=days)
    versions = [f"2026{m:02d}01-000000" for m in range(9, 13)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(INTENTS))]  # a few intents dominate
    counts = {"visitors": 0, "conversations": 0, "messages": 0, "ratings": 0}
    conversation_id = message_id = 0
    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        visitor_rows, conversation_rows, message_rows, rating_rows = [], [], [], []
        while counts["messages"] < messages:
            # Afternoons and weekdays are busier; later days a little busier (a growing shop).
            day = int(days * rng.random() ** 0.9)
            at = start + dt.timedelta(days=day, hours=rng.triangular(6, 23, 15), seconds=rng.random() * 3600)
            if at >= now:
                continue
            if at.weekday() >= 5 and rng.random() < 0.35:
                continue
            conversation_id += 1
            site = sites[0] if rng.random() < 0.9 else sites[1]
            visitor_rows.append((conversation_id, uuid.uuid4(), "", at, site))
            version = versions[min(len(versions) - 1, int((at - start) / (now - start) * 3))]
            handoff = rng.random() < 0.12
            turns = min(6, 1 + int(rng.expovariate(0.6)))
            seq, t, rows = 0, at, []
            handoff_at = rng.randrange(turns) if handoff else -1
            for turn in range(turns):
                seq += 1
                message_id += 1
                t += dt.timedelta(seconds=rng.uniform(5, 90))
                question_id = message_id
                rows.append((message_id, conversation_id, seq, "customer", rng.choice(QUESTIONS), "", "", None, "",
                             "", t, None))
                seq += 1
                message_id += 1
                source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
                intent = rng.choices(INTENTS, weights)[0] if source != "fallback" else ""
                confidence = rng.uniform(0.55, 0.99) if source in ("answer", "ticket") else rng.uniform(0.05, 0.5)
                feedback = rng.choices(["", "up", "down"], [0.93, 0.04, 0.03])[0]
                t += dt.timedelta(milliseconds=rng.uniform(80, 900))
                rows.append((message_id, conversation_id, seq, "bot", BOT_TEXT[source], source, intent, confidence,
                             version, feedback, t, question_id))
                if turn == handoff_at:
                    seq += 1
                    message_id += 1
                    t += dt.timedelta(milliseconds=50)
                    rows.append((message_id, conversation_id, seq, "system", "Connecting you with a person.", "", "",
                                 None, "", "", t, None))
                    for _ in range(rng.randint(1, 3)):
                        seq += 1
                        message_id += 1
                        t += dt.timedelta(seconds=rng.uniform(20, 600))
                        rows.append((message_id, conversation_id, seq, "agent", "Hi, I'm Alex from the shop.", "", "",
                                     None, "", "", t, None))
                    break
            conversation_rows.append((conversation_id, uuid.uuid4(), uuid.uuid4().hex + uuid.uuid4().hex,
                                      "closed" if handoff else "bot", seq,
                                      "customer asked for a person" if handoff else "", "", False, at, t, site,
                                      conversation_id))
            message_rows += rows
            if rng.random() < 0.15:
                score = rng.choices([1, 2, 3, 4, 5], [0.08, 0.07, 0.15, 0.30, 0.40])[0]
                rating_rows.append((conversation_id, score, "", t + dt.timedelta(seconds=30), conversation_id))
            counts["messages"] += len(rows)
        counts.update(visitors=len(visitor_rows), conversations=len(conversation_rows), ratings=len(rating_rows))
        for table, columns, rows in [
            ("chat_visitor", "id, public_id, email, created, site_id", visitor_rows),
            ("chat_conversation", "id, public_id, token, status, last_seq, handoff_reason, resolution, anonymized, "
                                  "created, updated, site_id, visitor_id", conversation_rows),
            ("chat_message", "id, conversation_id, seq, sender, text, source, intent, confidence, model_version, "
                             "feedback, created, reply_to_id", message_rows),
            ("chat_rating", "id, score, comment, created, conversation_id", rating_rows),
        ]:
            names, fill = _other_required_columns(cur, table, columns)
            with cur.copy(f"COPY {table} ({', '.join([columns, *names])}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + fill)
        for table in ["chat_visitor", "chat_conversation", "chat_message", "chat_rating"]:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        cur.execute("ANALYZE")
        conn.commit()
    return counts


# A blank value for each type, for columns other features add (NOT NULL, no database default).
BLANK = {"text": "", "character varying": "", "boolean": False, "integer": 0, "bigint": 0, "smallint": 0,
         "jsonb": "[]", "double precision": 0.0}


def _other_required_columns(cur, table: str, columns: str) -> tuple[list[str], tuple]:  # type: ignore[no-untyped-def]
    """The table's NOT NULL columns this script does not write, and a blank value for each."""
    given = {c.strip() for c in columns.split(",")}
    cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'", [table])
    missing = [(name, kind) for name, kind in cur.fetchall() if name not in given]
    json_list_columns = {"suggestions"}
    values = tuple("[]" if name in json_list_columns else ("{}" if kind == "jsonb" else BLANK.get(kind, ""))
                   for name, kind in missing)
    return [name for name, _ in missing], values


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--screenshots", type=Path, help="save screenshots of the dashboard and content gaps here")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/insights.py needs DATABASE_URL naming a PostgreSQL server (a throwaway database is made there)")
    database = Database(url, Path(tempfile.mkdtemp(prefix="bench-insights-")))
    database.create()
    try:
        setup_django(database.url)
        report = run(database, args)
        if args.screenshots:
            report["screenshots"] = screenshots(database.url, args.screenshots)
        if args.keep:
            report["database_url"] = database.url
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database.drop()
    print(json.dumps(report, indent=2))


def run(database: Database, args: argparse.Namespace) -> dict:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from chat.models import Site
    from insights.charts import charts
    from insights.metrics import compute_day, rollup, summarize

    call_command("migrate", verbosity=0)
    shop = Site.objects.create(public_key="shop", name="Shop")
    other = Site.objects.create(public_key="other", name="Other shop")
    generate_s, counts = timed(generate, database.dsn, [shop.pk, other.pk], args.messages, args.days)

    today = timezone.now().date()
    first = today - dt.timedelta(days=args.days)
    per_day = []
    rollup_started = time.perf_counter()
    day = first
    while day < today:
        for site in (shop, other):
            seconds, _ = timed(rollup, site.pk, day)
            if site is shop:
                per_day.append(seconds)
        day += dt.timedelta(days=1)
    rollup_s = time.perf_counter() - rollup_started
    live_s, _ = timed(compute_day, shop.pk, today)

    User.objects.create_user("owner", password="bench-password-123", is_staff=True)
    client = Client()
    client.force_login(User.objects.get(username="owner"))
    query = f"site=shop&start={first}&end={today}"

    def get(path: str) -> float:
        seconds, response = timed(client.get, path)
        assert response.status_code == 200, (path, response.status_code)
        return seconds

    page_first = get(f"/insights/?{query}")
    page = [get(f"/insights/?{query}") for _ in range(args.repeat)]
    names = [chart.name for chart in charts(summarize(shop, first, today))]
    svg_first = {name: get(f"/insights/chart/{name}.svg?{query}") for name in names}
    svg = {name: statistics.median(get(f"/insights/chart/{name}.svg?{query}") for _ in range(args.repeat))
           for name in names}
    csv_s = statistics.median(get(f"/insights/chart/rates.csv?{query}") for _ in range(args.repeat))
    command_s, _ = timed(call_command, "insights", "--site", "shop", "--days", str(args.days + 1), "--json",
                         stdout=open(os.devnull, "w"))
    from insights import gaps

    gaps_s, gap_run = timed(lambda: gaps.compute(gaps.start(shop.pk, 30).pk))
    figures = summarize(shop, first, today).as_json()
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "database": "postgresql",
        "rows": counts,
        "days": args.days,
        "generate_s": round(generate_s, 1),
        "rollup_all_days_s": round(rollup_s, 2),
        "rollup_day_ms": {"median": round(statistics.median(per_day) * 1000, 1),
                          "max": round(max(per_day) * 1000, 1)},
        "today_live_ms": round(live_s * 1000, 1),
        "dashboard_page_ms": {"first": round(page_first * 1000, 1), "median": round(statistics.median(page) * 1000, 1)},
        "chart_svg_ms": {"first_sum": round(sum(svg_first.values()) * 1000, 1),
                         "median_each": {k: round(v * 1000, 1) for k, v in svg.items()}},
        "chart_csv_ms": round(csv_s * 1000, 1),
        "command_ms": round(command_s * 1000, 1),
        "content_gaps": {"days": 30, "seconds": round(gaps_s, 1), "messages": gap_run.messages,
                         "topics": gap_run.topics.count(), "encoder": gap_run.encoder, "status": gap_run.status},
        "shop_figures": {k: v for k, v in figures.items() if k != "by_model_version"},
    }


def screenshots(url: str, out: Path) -> list[str]:
    """Serve the benchmark's database with Daphne and save the two insights pages as PNGs."""
    import signal
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    from tests.browser_support import launch_browser
    from tests.stack import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "SECURE_HTTPS": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                              cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(f"{base}/accounts/login/?next=/insights/")
            page.get_by_label("Username").fill("owner")
            page.get_by_label("Password").fill("bench-password-123")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/insights/")
            for name, path in (("insights-dashboard.png", "/insights/?site=shop"),
                               ("insights-content-gaps.png", "/insights/gaps/?site=shop")):
                page.goto(base + path)
                for image in page.locator("img").all():  # lazy charts: bring each in and wait for it
                    image.scroll_into_view_if_needed()
                    while not image.evaluate("i => i.complete && i.naturalWidth > 0"):
                        time.sleep(0.1)
                page.screenshot(path=str(out / name), full_page=True)
                written.append(str(out / name))
            browser.close()
        return written
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
