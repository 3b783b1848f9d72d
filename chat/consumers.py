"""The customer chat socket: parse frames, call one action, send frames back.

A bot reply goes straight back on the customer's own socket. The channel layer carries
only what must cross processes: other tabs of the same conversation and agents watching
it. A consumer learns it has such peers from their hello, so a lone chat never touches
the layer on the hot path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from django.conf import settings
from django.db import DatabaseError

from chat import conversations, frames, handoff, identity, inbox, limits, mail, sites
from chat.conversations import Reply
from chat.frames import (
    CLIENT_ID,
    CLOSE_ORIGIN,
    CLOSE_PROTOCOL,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAVAILABLE,
    CLOSE_UNKNOWN_SITE,
    PROTOCOL_VERSION,
    FrameError,
    Outbound,
    message_frame,
    outbound,
    storable,
)
from chat.inbox import db
from chat.limits import Ticket, budgets
from chat.models import Conversation
from chat.replies import Question
from chat.store import Incoming

log = logging.getLogger(__name__)



CLOSE_IDLE = 4408  # not fatal: nothing came for CHAT_IDLE_SECONDS (the clients' pings count)


conversation_group = handoff.conversation_group


class FrameConsumer(AsyncWebsocketConsumer):
    """JSON frames in and out; each frame goes to the handler named by its type."""

    handlers: dict[str, Any] = {}

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-event `close_old_connections` thread hop.

        That call guards database work done on the consumer's own thread; all of ours runs
        through database_sync_to_async on pool threads, which does the same around each call.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=frames.dumps(frame))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_frame = time.monotonic()
        if not self.ready():
            return
        try:
            frame = frames.parse(text_data, bytes_data)
            kind = frame.get("type")
            handler = self.handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise FrameError("unknown_type", f"unknown frame type {frame.get('type')!r}")
            await handler(self, frame)
        except (FrameError, handoff.HandoffError) as exc:
            await self.send_json({"type": "error", "code": exc.code, "detail": exc.detail, **frames.echo_ids(text_data)})
        except DatabaseError as exc:
            # Not stored, so not acknowledged: the client sends it again (same client_id) later.
            log.warning("frame refused: the database is unavailable (%s)", exc)
            await self.send_json({"type": "error", "code": "unavailable",
                                  "detail": "the service cannot store this right now; send it again shortly",
                                  **frames.echo_ids(text_data)})

    def ready(self) -> bool:
        return True




class ChatConsumer(FrameConsumer):
    conversation: Conversation | None = None
    consent_needed = False  # the site asks for consent and this visitor has not given it yet
    ip: str | None = None
    ticket: Ticket | None = None  # this socket's place in its address's connection budget
    created = False  # whether this socket started its conversation

    async def connect(self) -> None:
        await self.accept()
        try:
            await self.open_chat()
        except Exception as exc:
            # Nothing half-open stays behind: no empty conversation, no counted connection.
            if self.created and self.conversation is not None:
                await self.forget_conversation(self.conversation.pk)
            self.conversation = None
            if isinstance(exc, DatabaseError):
                log.warning("chat refused: the database is unavailable (%s)", exc)
            else:
                log.exception("chat refused: opening it failed")
            await self.refuse(CLOSE_UNAVAILABLE, "unavailable", "the chat is unavailable right now; try again shortly")

    @staticmethod
    async def forget_conversation(pk: int) -> None:
        try:
            await db(conversations.discard_new_conversation)(pk)
        except DatabaseError as exc:
            log.warning("could not remove the conversation %s that failed to open (%s)", pk, exc)

    async def open_chat(self) -> None:
        """Check the handshake, count the connection, then open the conversation."""
        # latin-1 decodes any bytes: a malformed query string is refused below, never a crash.
        query = self.scope.get("query_string", b"").decode("latin-1")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        # Refusals are sent as an error frame then a close code, both of which a browser can read
        # (a rejected HTTP upgrade reaches page scripts only as an anonymous 1006).
        version = params.get("v", str(PROTOCOL_VERSION))
        if version != str(PROTOCOL_VERSION):
            return await self.refuse(
                CLOSE_PROTOCOL, "unsupported_protocol", f"protocol {version!r} unsupported; use {PROTOCOL_VERSION}"
            )
        token = params.get("token")
        if not sites.well_formed_key(params.get("site", "")):
            return await self.refuse(CLOSE_UNKNOWN_SITE, "invalid_site", "the site key is malformed")
        if token is not None and not sites.well_formed_key(token):
            return await self.refuse(CLOSE_PROTOCOL, "invalid_token", "the resume token is malformed")
        site = await db(sites.find_site)(params.get("site", ""))
        if site is None:
            return await self.refuse(CLOSE_UNKNOWN_SITE, "unknown_site", "no active site has this key")
        if not sites.origin_allowed(site, headers.get("origin"), headers.get("host")):
            return await self.refuse(CLOSE_ORIGIN, "origin_not_allowed", "this site key is not allowed on this origin")
        client = self.scope.get("client") or ["unknown"]
        self.ip = str(client[0])
        self.ticket = await budgets.connect(self.ip, settings.CHAT_MAX_CONNECTIONS_PER_IP)
        if self.ticket is None:
            return await self.refuse(
                CLOSE_TOO_MANY_CONNECTIONS, "too_many_connections", "too many open chats from this address"
            )
        try:
            await self.open(site, token, params)
        except BaseException:
            # Whatever failed after the connection was counted, it is counted no longer
            # (Channels does not call disconnect() for a connect() that raised).
            await self.release()
            raise

    async def open(self, site: Any, token: str | None, params: dict[str, str]) -> None:
        """Open or resume the conversation and send its hello and history."""
        inbox.answers().start()
        self.has_peers = False
        claimed = params.get("user_id")
        verified = identity.verify(site, claimed, params.get("user_hash"), params.get("user_name"),
                                   params.get("user_email")) if claimed else None
        self.conversation, self.created = await db(conversations.open_conversation)(
            site, token, params.get("page", ""), params.get("previous"), verified
        )
        self.site = site
        self.consent_needed = await db(lambda: conversations.consent_needed(site, self.conversation.visitor))()
        self.group = conversation_group(self.conversation.public_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(
            {
                "type": "conversation",
                "id": str(self.conversation.public_id),
                "token": self.conversation.token,
                "status": self.conversation.status,
                "offer_email": await db(handoff.customer_connected)(self.conversation),
                "protocol": PROTOCOL_VERSION,
                "greeting": site.greeting,
                "site": {"name": site.name, "color": site.color, "position": site.position, "language": site.language},
                "limits": limits.advertised(),
                # An identity is "verified" or "ignored" (no identity secret set, or a wrong hash).
                **({"identity": "verified" if verified else "ignored"} if claimed else {}),
                "consent": {"required": site.require_consent, "notice_url": site.privacy_notice_url,
                            "version": site.privacy_notice_version, "given": not self.consent_needed},
            }
        )
        try:
            # Only a resumed conversation continues from the client's last seq: an identity may
            # have opened another one than the token's.
            after = max(0, int(params.get("after", "0"))) if token == self.conversation.token else 0
        except ValueError:
            after = 0
        for message in await db(conversations.history)(self.conversation.pk, after):
            await self.send_json(message_frame(message))
        await self.channel_layer.group_send(self.group, {"type": "peer.hello", "channel": self.channel_name})
        self.last_frame = time.monotonic()
        self.idle_watch = asyncio.create_task(self.close_when_idle(settings.CHAT_IDLE_SECONDS))

    async def close_when_idle(self, idle: float) -> None:
        """Close the socket once no frame came for `idle` seconds: a client that died without
        closing, or a connection opened and left, keeps no place in the connection budget."""
        while True:
            left = self.last_frame + idle - time.monotonic()
            if left <= 0:
                await self.close(code=CLOSE_IDLE)
                return
            await asyncio.sleep(left)

    async def refuse(self, code: int, error: str, detail: str) -> None:
        """Explain the refusal in a frame, then close with an application code."""
        await self.send_json({"type": "error", "code": error, "detail": detail})
        await self.close(code=code)

    async def release(self) -> None:
        """Give back this socket's place in its address's connection budget (once)."""
        ticket, self.ticket = self.ticket, None
        if ticket is not None:
            await budgets.disconnect(ticket)

    async def disconnect(self, code: int) -> None:
        await self.release()
        watch = getattr(self, "idle_watch", None)
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        if self.conversation is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            if self.conversation.status == Conversation.Status.WAITING:
                await db(handoff.customer_left)(self.conversation.pk)

    def ready(self) -> bool:
        return self.conversation is not None

    # Frame handlers, chosen by type.

    async def on_message(self, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id")
        text = frame.get("text")
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            raise FrameError("invalid_client_id", "client_id must be 1-64 letters, digits or -_.:")
        if not isinstance(text, str):
            raise FrameError("missing_text", "text must be a string")
        text = text.strip()
        if not text:
            raise FrameError("empty_text", "text is empty")
        if not storable(text):
            raise FrameError("invalid_text", "text contains characters that cannot be stored (NUL or lone surrogates)")
        if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise FrameError("too_long", f"messages are limited to {settings.CHAT_MAX_MESSAGE_CHARS} characters")
        await self.spend()
        conversation_id = self.conversation.pk
        received = await inbox.messages().submit(Incoming(conversation_id, client_id, text))
        # Acknowledged once committed; the answer is worked out after.
        await self.send_json({"type": "ack", "client_id": client_id, "seq": received.message.seq})
        if received.created:
            self.conversation.status = received.status
            if self.broadcasting():
                await self.broadcast(message_frame(received.message))
            if received.status == Conversation.Status.WAITING:
                await handoff.notify_queue(self.channel_layer)
        if received.needs_reply:
            question = Question(conversation_id, received.message.text, received.status, received.message.pk)
            await self.deliver(await inbox.answers().submit(question))

    async def spend(self) -> None:
        """Take one frame that stores something from the chat's and the address's rate budgets
        (and, where the site asks for consent, only once the customer gave it)."""
        if self.consent_needed:
            raise FrameError("consent_required", "please accept the privacy notice before you chat")
        if not await budgets.allow_message(str(self.conversation.public_id), self.ip or ""):
            raise FrameError("rate_limited", "too many messages; wait a moment and send again")

    async def on_handoff(self, frame: dict[str, Any]) -> None:
        reason = frame.get("reason")
        reason = reason if isinstance(reason, str) and storable(reason) else "customer asked"
        await self.spend()
        await self.deliver(await db(handoff.request)(self.conversation.pk, reason[:200]))

    async def on_stop_waiting(self, frame: dict[str, Any]) -> None:
        await self.spend()
        await self.deliver(await db(handoff.stop_waiting)(self.conversation.pk))

    async def on_feedback(self, frame: dict[str, Any]) -> None:
        seq, value = frame.get("seq"), frame.get("value")
        if not isinstance(seq, int) or isinstance(seq, bool) or value not in ("up", "down"):
            raise FrameError("invalid_feedback", 'feedback needs an integer seq and value "up" or "down"')
        await self.spend()
        message = await db(conversations.set_feedback)(self.conversation.pk, seq, value)
        if message is None:
            raise FrameError("unknown_message", f"no bot message with seq {seq}")
        await self.send_json({"type": "feedback", "seq": seq, "value": value})

    async def on_rating(self, frame: dict[str, Any]) -> None:
        score, comment = frame.get("score"), frame.get("comment", "")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise FrameError("invalid_rating", "score must be an integer from 1 to 5")
        if comment is None:
            comment = ""
        if not isinstance(comment, str) or not storable(comment):
            raise FrameError("invalid_rating", "comment must be text")
        if len(comment) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise FrameError("too_long", f"comments are limited to {settings.CHAT_MAX_MESSAGE_CHARS} characters")
        if not await budgets.allow_message(str(self.conversation.public_id), self.ip or ""):
            raise FrameError("rate_limited", "too many messages; wait a moment and send again")
        if await db(conversations.rate)(self.conversation.pk, score, comment.strip()) is None:
            raise FrameError("already_rated", "this conversation was rated already")
        await self.send_json({"type": "rating", "score": score, "saved": True})

    async def on_email(self, frame: dict[str, Any]) -> None:
        email = frame.get("email")
        if not isinstance(email, str) or not handoff.valid_email(email):
            raise FrameError("invalid_email", "that does not look like an email address")
        await self.spend()
        reply = await db(handoff.leave_email)(self.conversation.pk, email)
        if reply is None:
            raise FrameError("invalid_email", "that does not look like an email address")
        await self.send_json({"type": "email", "saved": True})
        await self.deliver(reply)

    async def on_transcript(self, frame: dict[str, Any]) -> None:
        await self.spend()
        outcome = await db(mail.request_transcript)(self.conversation.pk)
        if outcome == "no_email":
            raise FrameError("no_email", "leave your email first: the transcript goes there")
        if outcome == "too_soon":
            raise FrameError("too_soon", "a transcript was sent a moment ago; try again in a few minutes")
        await self.send_json({"type": "transcript", "queued": True})

    async def on_typing(self, frame: dict[str, Any]) -> None:
        if self.has_peers:
            await self.broadcast({"type": "typing", "sender": "customer", "state": bool(frame.get("state"))})

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    async def on_consent(self, frame: dict[str, Any]) -> None:
        """The customer accepted the privacy notice shown to them (its version, as in the hello)."""
        version = self.site.privacy_notice_version
        if self.consent_needed:
            if frame.get("version") != version:
                raise FrameError("stale_notice", "the privacy notice changed; read the current one and accept it")
            await db(conversations.record_consent)(self.conversation.visitor_id, version)
            self.consent_needed = False
        await self.send_json({"type": "consent", "given": True, "version": version})

    async def on_rotate_token(self, frame: dict[str, Any]) -> None:
        """A new resume token for this conversation; the old one (and other devices holding it) opens nothing."""
        await self.spend()
        token = await db(conversations.rotate_token)(self.conversation.pk)
        self.conversation.token = token
        await self.send_json({"type": "token", "token": token})

    handlers = {
        "message": on_message,
        "rotate_token": on_rotate_token,
        "consent": on_consent,
        "handoff": on_handoff,
        "stop_waiting": on_stop_waiting,
        "feedback": on_feedback,
        "rating": on_rating,
        "email": on_email,
        "transcript": on_transcript,
        "typing": on_typing,
        "ping": on_ping,
    }

    # Delivery.

    async def deliver(self, reply: Reply | Outbound) -> None:
        """Send what the policy stored: to this socket directly, to peers through the layer."""
        if isinstance(reply, Reply):
            reply = outbound(reply)
        if not reply.messages:
            await self.send_json({"type": "typing", "sender": "bot", "state": False})
        if reply.status:
            self.conversation.status = reply.status
            status = {"type": "status", "status": reply.status, "offer_email": reply.offer_email}
            await self.send_json(status)
            await self.broadcast(status)
        for text in reply.messages:
            await self.send(text_data=text)
            if self.broadcasting():
                await self.broadcast(json.loads(text))
        if reply.handoff:
            await handoff.notify_queue(self.channel_layer)

    def broadcasting(self) -> bool:
        """Whether anyone else listens: another tab, or agents (a chat that is not the bot's)."""
        return self.has_peers or self.conversation.status != Conversation.Status.BOT

    async def broadcast(self, frame: dict[str, Any]) -> None:
        if self.broadcasting():
            frame = {**frame, "conversation": str(self.conversation.public_id)}
            await self.channel_layer.group_send(
                self.group, {"type": "chat.frame", "frame": frame, "origin": self.channel_name}
            )

    # Channel-layer events.

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event.get("origin") == self.channel_name:
            return
        frame = event["frame"]
        if frame.get("type") == "status":
            self.conversation.status = frame["status"]
        await self.send_json(frame)

    async def peer_hello(self, event: dict[str, Any]) -> None:
        if event["channel"] == self.channel_name:
            return
        self.has_peers = True
        await self.channel_layer.send(event["channel"], {"type": "peer.present"})

    async def peer_present(self, event: dict[str, Any]) -> None:
        self.has_peers = True


class AgentConsumer(FrameConsumer):
    """The agent console socket: staff only, session-authenticated, same-origin only."""

    user: Any = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        origin = headers.get("origin")
        same_origin = not origin or origin.split("://", 1)[-1].lower() == headers.get("host", "").lower()
        if user is None or not user.is_authenticated or not user.is_staff or not same_origin:
            # Refused at the handshake: nothing about the queue may reach a non-agent.
            await self.close(code=CLOSE_ORIGIN)
            return
        self.user = user
        self.joined: dict[str, int] = {}
        await self.accept()
        await db(handoff.agent_connected)(self.channel_name, user)
        await self.channel_layer.group_add(handoff.AGENTS_GROUP, self.channel_name)
        await self.send_queue()

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        await self.channel_layer.group_discard(handoff.AGENTS_GROUP, self.channel_name)
        for public_id in self.joined:
            await self.channel_layer.group_discard(conversation_group(public_id), self.channel_name)
        requeued = await db(handoff.agent_disconnected)(self.channel_name, self.user)
        for conversation, reply in requeued:
            await self.deliver(str(conversation.public_id), reply)
        if requeued:
            await handoff.notify_queue(self.channel_layer)

    async def conversation_id(self, frame: dict[str, Any]) -> tuple[str, int]:
        public_id = frame.get("conversation")
        pk = await db(handoff.find_conversation)(public_id, self.user)
        if pk is None:
            raise FrameError("unknown_conversation", "no conversation with this id")
        return str(public_id), pk

    async def watch(self, public_id: str, pk: int) -> None:
        if public_id in self.joined:
            return
        self.joined[public_id] = pk
        group = conversation_group(public_id)
        await self.channel_layer.group_add(group, self.channel_name)
        # Tell the customer's sockets that someone else listens, so they broadcast from now on.
        await self.channel_layer.group_send(group, {"type": "peer.hello", "channel": self.channel_name})

    async def on_open(self, frame: dict[str, Any]) -> None:
        """Watch a conversation live without taking it over."""
        public_id, pk = await self.conversation_id(frame)
        await self.watch(public_id, pk)
        messages = await db(handoff.history_frames)(pk)
        customer = await db(handoff.customer_card)(pk)
        await self.send_json({"type": "history", "conversation": public_id, "messages": messages, "customer": customer})

    async def on_join(self, frame: dict[str, Any]) -> None:
        public_id, pk = await self.conversation_id(frame)
        await self.on_open(frame)
        await self.deliver(public_id, await db(handoff.join)(pk, self.user))
        await handoff.notify_queue(self.channel_layer)

    async def on_message(self, frame: dict[str, Any]) -> None:
        public_id, pk = await self.conversation_id(frame)
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("empty_text", "text is empty")
        if not storable(text):
            raise FrameError("invalid_text", "text contains characters that cannot be stored (NUL or lone surrogates)")
        if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise FrameError("too_long", f"messages are limited to {settings.CHAT_MAX_MESSAGE_CHARS} characters")
        await self.watch(public_id, pk)
        reply = await db(handoff.agent_message)(pk, self.user, text.strip())
        await self.deliver(public_id, reply)
        if reply.status:
            await handoff.notify_queue(self.channel_layer)

    async def on_release(self, frame: dict[str, Any]) -> None:
        public_id, pk = await self.conversation_id(frame)
        await self.deliver(public_id, await db(handoff.release)(pk, self.user))
        await handoff.notify_queue(self.channel_layer)

    async def on_close(self, frame: dict[str, Any]) -> None:
        public_id, pk = await self.conversation_id(frame)
        resolution = frame.get("resolution")
        if not isinstance(resolution, str) or not storable(resolution):
            resolution = ""
        question = frame.get("question")
        if not isinstance(question, str) or not storable(question):
            question = None
        await self.deliver(public_id, await db(handoff.close)(pk, self.user, resolution, question))
        await handoff.notify_queue(self.channel_layer)

    async def on_typing(self, frame: dict[str, Any]) -> None:
        public_id, _ = await self.conversation_id(frame)
        await self.channel_layer.group_send(
            conversation_group(public_id),
            {"type": "chat.frame", "origin": self.channel_name,
             "frame": {"type": "typing", "sender": "agent", "state": bool(frame.get("state")),
                       "conversation": public_id}},
        )

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await db(handoff.agent_connected)(self.channel_name, self.user)
        await self.send_json({"type": "pong"})

    async def on_queue(self, frame: dict[str, Any]) -> None:
        await self.send_queue()

    handlers = {
        "open": on_open,
        "join": on_join,
        "message": on_message,
        "release": on_release,
        "close": on_close,
        "typing": on_typing,
        "ping": on_ping,
        "queue": on_queue,
    }

    async def deliver(self, public_id: str, reply: Reply) -> None:
        """Send an action's result to the customer's sockets (through the layer) and to this console."""
        group = conversation_group(public_id)
        for frame in handoff.reply_frames(public_id, reply):
            await self.channel_layer.group_send(group, {"type": "chat.frame", "frame": frame, "origin": self.channel_name})
            await self.send_json(frame)

    async def send_queue(self) -> None:
        rows = await db(handoff.queue)(self.user)
        online = await db(handoff.agents_online)()
        await self.send_json(
            {"type": "queue", "conversations": rows, "agents_online": online, "limits": limits.advertised()}
        )

    # Channel-layer events.

    async def agent_queue(self, event: dict[str, Any]) -> None:
        await self.send_queue()

    async def chat_frame(self, event: dict[str, Any]) -> None:
        if event.get("origin") != self.channel_name:
            await self.send_json(event["frame"])

    async def peer_hello(self, event: dict[str, Any]) -> None:
        if event["channel"] != self.channel_name:
            await self.channel_layer.send(event["channel"], {"type": "peer.present"})

    async def peer_present(self, event: dict[str, Any]) -> None:
        pass
