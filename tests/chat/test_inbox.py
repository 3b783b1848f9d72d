"""Messages from many sockets are stored and answered in batches, with the guarantees of one at a time."""

import json
import asyncio
import multiprocessing
import os
import threading

import pytest

from chat import conversations, replies
from chat.frames import message_frame
from chat.inbox import Batcher
from chat.store import Incoming, Outgoing
from chat.models import Conversation, Message
from knowledge.tickets import approve_ticket, propose_ticket
from tests.conftest import until
from chat import inbox, store

pytestmark = [pytest.mark.django_db(transaction=True)]


def open_chats(site, n):
    return [conversations.open_conversation(site, None)[0].pk for _ in range(n)]


def test_a_batch_is_stored_with_dense_ordered_seqs_per_conversation(site):
    a, b = open_chats(site, 2)
    batch = [Incoming(a, "a1", "first"), Incoming(b, "b1", "hello"), Incoming(a, "a2", "second"),
             Incoming(a, "a3", "third")]
    received = store.receive_customer_messages(batch)
    assert [(r.message.client_id, r.message.seq, r.created, r.needs_reply) for r in received] == [
        ("a1", 1, True, True), ("b1", 1, True, True), ("a2", 2, True, True), ("a3", 3, True, True)]
    stored = list(Message.objects.filter(conversation_id=a).order_by("seq").values_list("pk", "text"))
    assert [text for _, text in stored] == ["first", "second", "third"]
    assert [r.message.pk for r in received if r.message.conversation_id == a] == [pk for pk, _ in stored]
    assert Conversation.objects.get(pk=a).last_seq == 3


def test_a_resend_in_a_batch_is_stored_once_and_the_others_are_stored_too(site):
    a, b = open_chats(site, 2)
    store.receive_customer_messages([Incoming(a, "a1", "first"), Incoming(b, "b1", "hi")])
    received = store.receive_customer_messages(
        [Incoming(a, "a1", "first"), Incoming(b, "b2", "again"), Incoming(a, "a1", "first")])
    assert [(r.message.seq, r.created) for r in received] == [(1, False), (2, True), (1, False)]
    assert Message.objects.filter(conversation_id=a).count() == 1
    assert list(Message.objects.filter(conversation_id=b).order_by("seq").values_list("seq", flat=True)) == [1, 2]


def test_a_message_to_a_deleted_conversation_fails_alone(site):
    a, gone = open_chats(site, 2)
    Conversation.objects.filter(pk=gone).delete()
    received = store.receive_customer_messages([Incoming(a, "a1", "kept"), Incoming(gone, "g1", "lost")])
    assert received[0].created and received[0].message.seq == 1
    assert isinstance(received[1], Conversation.DoesNotExist)


def test_a_message_to_a_closed_conversation_reopens_it_for_the_bot(site):
    a, b = open_chats(site, 2)
    Conversation.objects.filter(pk=a).update(status=Conversation.Status.CLOSED)
    received = store.receive_customer_messages([Incoming(a, "a1", "back again"), Incoming(b, "b1", "hi")])
    assert received[0].status == Conversation.Status.BOT and received[0].needs_reply
    assert Conversation.objects.get(pk=a).status == Conversation.Status.BOT


def test_every_field_of_a_batch_inserted_message_is_stored(site):
    (a,) = open_chats(site, 1)
    ticket = approve_ticket(propose_ticket(None, "parcel crushed", "We sent a new one.", "damaged"))
    fields = {"source": Message.Source.TICKET, "intent": "damaged", "confidence": 0.87, "ticket": ticket,
              "suggestions": ["Talk to a person", "ünïcode"], "model_version": "v-7"}
    (stored,) = store.append_many([Outgoing(a, Message.Sender.BOT, "A new one is on its way", fields)])
    again = Message.objects.get(pk=stored.pk)
    for name, value in {**fields, "text": "A new one is on its way", "seq": 1, "sender": "bot"}.items():
        assert getattr(again, name) == value, name
    assert again.created == stored.created and again.feedback == "" and not again.reviewed


def test_a_batch_longer_than_one_statement_holds_is_stored_whole_with_each_row_its_own_id(site):
    # SQLite binds at most 999 parameters a statement: 40 chats x 30 answers, six columns varying,
    # take several statements (PostgreSQL's arrays take one).
    chats = open_chats(site, 40)
    outgoing = [Outgoing(chat, Message.Sender.BOT, f"answer {n} to {chat}", {"confidence": n / 100, "intent": f"i{n}"})
                for n in range(30) for chat in chats]
    stored = store.append_many(outgoing)
    assert len({m.pk for m in stored}) == len(outgoing) == Message.objects.count()
    for message, item in zip(stored, outgoing, strict=True):
        again = Message.objects.get(pk=message.pk)
        assert (again.conversation_id, again.text, again.confidence, again.seq) == (
            item.conversation_id, item.text, item.fields["confidence"], message.seq)
    assert sorted(m.seq for m in stored if m.conversation_id == chats[0]) == list(range(1, 31))


def test_messages_stored_together_share_no_default_value_and_keep_the_agent_given(site, django_user_model):
    a, b = open_chats(site, 2)
    agent = django_user_model.objects.create_user("sam", is_staff=True)
    first, second = store.append_many([Outgoing(a, Message.Sender.AGENT, "On it", {"agent": agent}),
                                       Outgoing(b, Message.Sender.AGENT, "Me too", {"agent": agent})])
    first.suggestions.append("changed")
    assert second.suggestions == [] and first.agent is agent
    assert Message.objects.get(pk=second.pk).agent_id == agent.pk


def test_answers_to_a_batch_are_the_answers_one_at_a_time(site, fake_bundle, refund_intent):
    fake_bundle.intents["where is my refund"] = ("refund", 0.95, None)
    texts = ["where is my refund", "asdf qwerty", "can I talk to a human", "where is my refund"]
    chats = open_chats(site, len(texts))
    together = replies.respond_many([replies.Question(c, t, "bot") for c, t in zip(chats, texts)])
    alone = [replies.respond(c, t, "bot") for c, t in zip(open_chats(site, len(texts)), texts)]

    def summary(reply):
        return ([(m.sender, m.source, m.text, m.intent) for m in reply.messages], reply.status, reply.handoff)

    assert [summary(r) for r in together] == [summary(r) for r in alone]
    assert together[0].messages[0].source == Message.Source.ANSWER
    assert together[2].status == Conversation.Status.WAITING


def test_a_chat_a_person_owns_gets_no_bot_answer_in_a_batch_and_a_waiting_one_does(site, fake_bundle):
    a, b, c = open_chats(site, 3)
    Conversation.objects.filter(pk=a).update(status=Conversation.Status.HUMAN)
    Conversation.objects.filter(pk=b).update(status=Conversation.Status.WAITING)
    got = replies.respond_many([replies.Question(pk, "hello?", None) for pk in (a, b, c)])
    assert got[0].messages == [] and len(got[1].messages) == 1 and len(got[2].messages) == 1


async def test_calls_arriving_while_a_batch_runs_go_together_into_the_next():
    seen, running, release = [], threading.Event(), threading.Event()

    def record(items):
        seen.append(list(items))
        running.set()
        release.wait(10)
        return [item * 10 for item in items]

    batcher = Batcher(record, workers=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.to_thread(running.wait, 10)  # the batch [0] is running on its thread
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 5)]
    waiting = batcher._queues[asyncio.get_running_loop()].pending
    await until(lambda: len(waiting) == 4, "the four calls wait behind the running batch")
    release.set()
    assert await asyncio.gather(first, *rest) == [0, 10, 20, 30, 40]
    assert seen == [[0], [1, 2, 3, 4]]


async def test_a_batch_is_never_bigger_than_its_limit():
    seen = []
    batcher = Batcher(lambda items: seen.append(len(items)) or list(items), max_size=3, workers=1)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(8))) == list(range(8))
    assert max(seen) == 3 and sum(seen) == 8


async def test_an_error_for_one_item_reaches_only_its_caller():
    batcher = Batcher(lambda items: [ValueError(i) if i == 2 else i for i in items])
    results = await asyncio.gather(*(batcher.submit(i) for i in range(4)), return_exceptions=True)
    assert results[:2] == [0, 1] and results[3] == 3
    assert isinstance(results[2], ValueError)


async def test_when_the_batch_fails_every_caller_gets_the_error():
    def broken(items):
        raise RuntimeError("database is down")

    batcher = Batcher(broken)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await Batcher(lambda items: list(items)).submit("still works") == "still works"


def pids_of(items):
    """Runs in a helper process: which process did the work."""
    return [os.getpid() for _ in items]


def die_on_poison(items):
    if "poison" in items and multiprocessing.parent_process() is not None:
        os._exit(1)  # a helper killed mid-batch (out of memory, a crash in native code)
    return [os.getpid() for _ in items]


async def test_a_batch_can_run_in_a_helper_process():
    batcher = Batcher(pids_of, processes=lambda: 1)
    try:
        assert set(await asyncio.gather(*(batcher.submit(i) for i in range(3)))) != {os.getpid()}
    finally:
        batcher._pool.shutdown()


async def test_when_a_helper_dies_its_batch_is_done_here_and_a_new_helper_takes_the_next():
    batcher = Batcher(die_on_poison, processes=lambda: 1, retry=lambda items: [("again", os.getpid()) for _ in items])
    try:
        assert await batcher.submit("poison") == ("again", os.getpid())  # its retry, on a thread of this process
        assert await batcher.submit("fine") != os.getpid()  # a fresh helper
    finally:
        batcher._pool.shutdown()


def test_a_batch_answered_again_hands_back_its_stored_answers_instead_of_new_ones(site, fake_bundle):
    chats = open_chats(site, 3)
    received = store.receive_customer_messages(
        [Incoming(c, f"m{i}", "where is my parcel") for i, c in enumerate(chats)])
    questions = [replies.Question(r.message.conversation_id, r.message.text, r.status, r.message.pk)
                 for r in received]
    first = replies.respond_many(questions)
    again = inbox.answer_again(questions)  # as after a helper died before handing the answers back
    assert [json.loads(r.messages[0]) for r in again] == [message_frame(r.messages[0]) for r in first]
    assert [r.messages[0].reply_to_id for r in first] == [r.message.pk for r in received]
    assert Message.objects.filter(sender=Message.Sender.BOT).count() == 3


ADMIN_MODULES = ("api.admin", "chat.admin", "knowledge.admin", "training.admin")


def admin_modules_loaded(items):
    """Runs in a helper process: which of the admin's modules its Django setup imported."""
    import sys

    return [sorted(set(ADMIN_MODULES) & set(sys.modules)) for _ in items]


async def test_a_helper_sets_django_up_without_importing_the_apps_admin_modules():
    from django.apps import apps

    batcher = Batcher(admin_modules_loaded, processes=lambda: 1)
    try:
        assert await batcher.submit("x") == []
    finally:
        batcher._pool.shutdown()
    assert apps.is_installed("django.contrib.admin")  # this process keeps the admin it serves


def own_pid(items):
    """Runs where the batches run (`Batcher.ask`): that process's pid."""
    return os.getpid()


def test_a_helper_started_by_a_thread_that_ends_keeps_answering():
    """The readiness probe asks the helper from a request's thread, which ends after the request."""
    batcher = Batcher(pids_of, processes=lambda: 1)
    try:
        asked = []
        probe = threading.Thread(target=lambda: asked.append(batcher.ask(own_pid, 60)))
        probe.start()
        probe.join()
        helper = asked[0]
        assert helper != os.getpid()
        assert batcher.ask(own_pid, 60) == helper  # the same helper, alive after that thread ended
    finally:
        batcher._pool.shutdown()


HELPER_OF_A_WEB_PROCESS = """
import os, sys, time
import django
django.setup()
from chat.inbox import Batcher
from tests.chat.test_inbox import own_pid, pids_of
batcher = Batcher(pids_of, processes=lambda: 1)
print(batcher.ask(own_pid, 60), flush=True)
time.sleep(600)
"""


def test_a_helper_exits_soon_after_its_web_process_is_killed():
    import signal
    import subprocess
    import sys
    import time

    web = subprocess.Popen([sys.executable, "-c", HELPER_OF_A_WEB_PROCESS], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"})
    try:
        helper = int(web.stdout.readline())
        os.kill(web.pid, signal.SIGKILL)
        web.wait()

        def helper_gone() -> bool:
            try:
                os.kill(helper, 0)
            except ProcessLookupError:
                return True
            # A zombie until its new parent reaps it: exited all the same.
            with open(f"/proc/{helper}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] == "Z"

        deadline = time.monotonic() + 30
        while not helper_gone():
            assert time.monotonic() < deadline, "the helper outlived its killed web process"
            time.sleep(0.05)
    finally:
        web.kill()
