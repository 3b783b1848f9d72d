"""CPU cost per message of storing a batch (chat.store), against the ORM's bulk_create; prints one JSON object.

    .venv/bin/python bench/store_cost.py [--batch 64] [--messages 6400] [--repeats 3]
    DATABASE_URL=postgres://... .venv/bin/python bench/store_cost.py   # the same on PostgreSQL

Creates a scratch database (a temporary SQLite file, or a `_store_cost` database beside
DATABASE_URL's on PostgreSQL), opens --batch conversations and stores customer messages in
batches of --batch, one per conversation, as the web process's inbox does
(`store.receive_customer_messages`), and the bot's answers to them as the answer helper does
(`store.append_many`). The baseline, in the same run: the same rows, with the same seqs, written
by `Message.objects.bulk_create` (what the SQLite path ran before issue 20's fourth pass).
CPU time of this process (time.process_time), median of --repeats passes; the database server's
own CPU is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--messages", type=int, default=6400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-cost-") as tmp:
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/chatbot_store_cost"
            _recreate_postgres(os.environ["DATABASE_URL"])
        else:
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/store.sqlite3"
        print(json.dumps(run(args), indent=2))


def _recreate_postgres(url: str) -> None:
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def run(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from chat.models import Conversation, Message, Site, Visitor
    from chat.store import Incoming, Outgoing, append_many, receive_customer_messages
    from django.utils import timezone

    site = Site.objects.create(name="Bench")
    chats = [Conversation.objects.create(site=site, visitor=Visitor.objects.create(site=site))
             for _ in range(args.batch)]

    def customer_batch() -> list[Incoming]:
        return [Incoming(c.pk, str(uuid.uuid4()), f"where is my order {uuid.uuid4().int % 99999}") for c in chats]

    def store_customers() -> None:
        receive_customer_messages(customer_batch())

    def store_answers() -> None:
        append_many([Outgoing(c.pk, Message.Sender.BOT, "Your order ships in two days.",
                              {"intent": "order_status", "confidence": 0.93, "source": "intent",
                               "suggestions": ["Track my order"], "model_version": "bench"})
                     for c in chats], durable=False)

    def orm_bulk_create() -> None:
        # The same rows as store_customers, seqs handed out the same way, written by the ORM.
        from chat.store import _assign_seqs, redact_for_storage
        from django.db import transaction

        batch = customer_batch()
        texts = [redact_for_storage(item.text) for item in batch]
        with transaction.atomic():
            seqs = _assign_seqs([item.conversation_id for item in batch]).seqs
            now = timezone.now()
            Message.objects.bulk_create([
                Message(conversation_id=item.conversation_id, seq=seq, text=text, client_id=item.client_id,
                        sender=Message.Sender.CUSTOMER, created=now)
                for item, seq, text in zip(batch, seqs, texts, strict=True)])

    batches = max(1, args.messages // args.batch)
    result: dict[str, Any] = {"database": connection.vendor, "batch": args.batch, "messages": batches * args.batch,
                              "load_average": round(os.getloadavg()[0], 2), "cpu_ms_per_message": {}}
    for name, step in (("receive_customer_messages", store_customers), ("append_many", store_answers),
                       ("orm_bulk_create", orm_bulk_create)):
        step()  # warm-up: first statements, prepared plans
        passes = []
        for _ in range(args.repeats):
            t0 = time.process_time()
            for _ in range(batches):
                step()
            passes.append(1000 * (time.process_time() - t0) / (batches * args.batch))
        result["cpu_ms_per_message"][name] = round(statistics.median(passes), 4)
    costs = result["cpu_ms_per_message"]
    result["receive_vs_orm"] = round(costs["receive_customer_messages"] / costs["orm_bulk_create"], 3)
    return result


if __name__ == "__main__":
    main()
