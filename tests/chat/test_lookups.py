"""Answers from the shop's systems: a real local HTTP server plays the shop's order endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chat import replies
from chat.conversations import open_conversation
from chat.models import Conversation, Message
from chat.store import receive_customer_message
from knowledge.models import Intent, Lookup
from tests.conftest import chat_communicator, new_client_id, receive_reply, receive_until
from tests.webhook_receiver import documented_verify

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "shop-lookup-secret"
ORDERS = {"10482": {"status": "shipped", "shipped_on": "3 May", "carrier": "DHL", "tracking": "JD014600006281"}}
TEMPLATE = "Order {order_number} {status} on {shipped_on} with {carrier}, tracking {tracking}."
verify = documented_verify()


class Shop:
    """The shop's order endpoint: answers known orders, 404 for others; `stuck` holds every answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.stuck = False
        self.release = threading.Event()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = verify(SECRET, self.headers.get("X-Signature", ""), body)
                request = json.loads(body)
                shop.requests.append({**request, "signed": signed})
                if shop.stuck:
                    shop.release.wait(30)  # a shop that does not answer in time
                order = ORDERS.get(request["values"].get("order_number", "")) if signed else None
                payload = json.dumps(order or {"error": "not found"}).encode()
                try:
                    self.send_response(200 if order else (404 if signed else 401))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the chat gave up waiting and closed the connection

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop():
    server = Shop()
    yield server
    server.close()


@pytest.fixture
def order_status(db, shop, fake_bundle):
    intent = Intent.objects.create(name="order_status", description="Track my order",
                                   answer="Track your order under Account → Orders.")
    Lookup.objects.create(intent=intent, url=shop.url, secret=SECRET, slots=["order_number"], template=TEMPLATE,
                          timeout_seconds=0.5)
    for text in ("where is my order 10482", "where is my order", "where is my order 99999"):
        fake_bundle.intents[text] = ("order_status", 0.95, None)
    return intent


def ask(conversation: Conversation, text: str) -> Message:
    received = receive_customer_message(conversation.pk, new_client_id(), text)
    reply = replies.respond(conversation.pk, text, received.status)
    return reply.messages[-1]


@pytest.fixture
def chat(site):
    return open_conversation(site, None)[0]


def test_an_order_number_in_the_question_is_looked_up_and_answered(order_status, chat, shop):
    answer = ask(chat, "where is my order 10482")
    assert answer.text == "Order 10482 shipped on 3 May with DHL, tracking JD014600006281."
    assert (answer.source, answer.intent) == ("lookup", "order_status")
    assert shop.requests == [{**shop.requests[0], "intent": "order_status", "values": {"order_number": "10482"},
                              "signed": True}]
    assert "customer" not in shop.requests[0]  # an anonymous chat


def test_without_the_number_the_bot_asks_for_it_and_the_next_message_completes_it(order_status, chat, shop):
    question = ask(chat, "where is my order")
    assert question.text.startswith("What is your order number?") and not shop.requests
    answer = ask(chat, "it's 10482")
    assert answer.text.startswith("Order 10482 shipped on 3 May")
    chat.refresh_from_db()
    assert chat.pending_lookup == {}


def test_asked_for_the_number_a_customer_may_change_the_subject(order_status, chat, shop, refund_intent,
                                                                fake_bundle):
    fake_bundle.intents["how do refunds work"] = ("refund", 0.95, None)
    ask(chat, "where is my order")
    assert ask(chat, "how do refunds work").text == refund_intent.answer
    chat.refresh_from_db()
    assert chat.pending_lookup == {} and not shop.requests


def test_a_verified_customer_is_named_to_the_shop(order_status, site, shop):
    from chat.identity import Identity

    chat = open_conversation(site, None, identity=Identity("u-1042", "Ada", "ada@example.com"))[0]
    ask(chat, "where is my order 10482")
    assert shop.requests[0]["customer"] == {"id": "u-1042", "email": "ada@example.com"}


def test_an_unknown_order_is_said_so_and_a_person_offered(order_status, chat):
    answer = ask(chat, "where is my order 99999")
    assert "couldn't find anything for 99999" in answer.text and answer.suggestions == ["Talk to a person"]


def test_a_shop_that_does_not_answer_in_time_gets_an_honest_answer(order_status, chat, shop):
    shop.stuck = True
    answer = ask(chat, "where is my order 10482")
    assert not shop.release.is_set()  # the shop had not answered: the chat stopped waiting
    assert answer.text == "Sorry, I can't reach our order system right now, so I can't look that up. " \
                          "Please try again in a few minutes, or I can connect you with a person."
    assert answer.suggestions == ["Talk to a person"]


async def test_a_lookup_answers_on_the_customers_socket(order_status, site):
    customer = chat_communicator()
    await customer.connect()
    await receive_until(customer, "conversation")
    await customer.send_json_to({"type": "message", "client_id": new_client_id(), "text": "where is my order"})
    assert (await receive_reply(customer))["text"].startswith("What is your order number?")
    await customer.send_json_to({"type": "message", "client_id": new_client_id(), "text": "10482"})
    frame = await receive_reply(customer)
    assert frame["source"] == "lookup" and frame["text"].startswith("Order 10482 shipped")
    await customer.disconnect()


def test_the_lookup_is_configured_beside_its_intent_in_the_admin(order_status, admin_client):
    page = admin_client.get(f"/admin/knowledge/intent/{order_status.pk}/change/").content.decode()
    assert "lookup" in page.lower() and TEMPLATE.replace("{", "").split()[0] in page
