// The customer's side of the chat protocol (docs/protocol.md), with no DOM in it.
//
// Continuity lives here: the resume token and an outbox of unacknowledged messages are kept
// in the Store (keyed by site), so a dropped socket, a server restart or a page reload loses
// nothing. Every message in the outbox is resent with its client_id after each (re)connect; the
// server stores a client_id once and acknowledges it again with the same seq.
// The socket itself (reconnects, backoff, heartbeat) is socket.js's, shared with the agent console.

import { measure } from "./limits.js";
import { ReconnectingSocket, socketUrl } from "./socket.js";
import { Store, STORAGE_VERSION } from "./storage.js";

export const PROTOCOL_VERSION = STORAGE_VERSION;
const FATAL_CLOSE_CODES = [4400, 4403, 4404];
const UNANSWERED_CHECK_MS = 1500; // after a reconnect, time for the history replay to arrive
const SAMPLE_CLIENT_ID = "00000000-0000-0000-0000-000000000000"; // as long as a real one

function uuid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  // Older browsers: random enough for an idempotency key.
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
}

export class ChatConnection {
  // emit(event, detail): "state" {state, detail, code}, "conversation" {frame, reset, limits},
  // "frame" (every other server frame), "ack" {client_id, seq}, "failed" {item, code, detail}.
  constructor({ site, storage, emit, page = "", identity = null }) {
    this.site = site;
    this.identity = identity; // a signed-in customer: {user_id, user_hash, user_name?, user_email?}
    this.page = page; // the host page the customer chats from (origin and path), for the agents
    this.store = new Store(site, storage);
    this.emit = emit;
    this.timers = {};
    this.lastError = null;
    this.resetSeen();
    this.socket = new ReconnectingSocket({
      url: () => this.url(),
      isWelcome: (frame) => frame.type === "conversation",
      fatalCodes: FATAL_CLOSE_CODES,
      onState: (detail) => this.changed(detail),
      onFrame: (frame) => this.receive(frame),
    });
  }

  resetSeen() {
    this.seen = new Set(); // seqs of messages and acks seen on any socket of this page
    this.contiguous = 0; // every seq up to here was seen: the `after` of the next connect
    this.firstAfterConnect = false;
  }

  get state() { return this.socket.state; }
  get limits() { return this.socket.limits; }
  get stopped() { return this.socket.stopped; }
  get token() { return this.store.get("token"); }
  get outbox() { return this.store.getJSON("outbox", []); }
  set outbox(items) {
    if (items.length) this.store.setJSON("outbox", items);
    else this.store.remove("outbox");
  }

  url() {
    const params = new URLSearchParams({ v: String(PROTOCOL_VERSION), site: this.site });
    const token = this.token;
    if (token) params.set("token", token);
    else if (this.store.get("previous")) params.set("previous", this.store.get("previous"));
    if (this.page) params.set("page", this.page);
    for (const [key, value] of Object.entries(this.identity || {})) params.set(key, value);
    if (this.contiguous) params.set("after", String(this.contiguous));
    this.lastError = null;
    return `${socketUrl("/ws/chat/")}?${params}`;
  }

  start() { this.socket.start(); }

  stop() { this.socket.stop(); }

  changed(detail) {
    if (detail.state === "refused") {
      const why = this.lastError || { code: String(detail.code), detail: "The chat refused this page." };
      if (why.code === "invalid_token" && this.token) {
        // A saved token the server cannot read (edited storage): start a new conversation and
        // keep the outbox, rather than being refused on every visit.
        this.store.remove("token");
        this.resetSeen();
        this.socket.attempt = 0;
        this.start();
        return;
      }
      this.emit("state", { state: "refused", code: why.code, detail: why.detail });
      return;
    }
    this.emit("state", detail);
  }

  newConversation() {
    // Forget the token (the server keeps the old conversation) and anything unsent; nothing of the
    // old chat may be resent into the new one. The old token goes along once as `previous`, so the
    // agents see both chats as the same customer's.
    this.stop();
    clearTimeout(this.timers.unanswered);
    this.unanswered = null;
    if (this.token) this.store.set("previous", this.token);
    this.store.remove("token");
    this.store.remove("read");
    this.outbox = [];
    this.resetSeen();
    this.socket.attempt = 0;
    this.start();
  }

  sendFrame(frame) {
    return this.socket.send(frame);
  }

  measure(text) {
    return measure(text, this.limits, (clean) => ({ type: "message", client_id: SAMPLE_CLIENT_ID, text: clean }));
  }

  sendMessage(text) {
    // Stored before it is sent, so a reload or a dead socket cannot lose it.
    const item = { client_id: uuid(), text, created: new Date().toISOString() };
    this.outbox = [...this.outbox, item];
    this.sendFrame({ type: "message", client_id: item.client_id, text });
    if (this.stopped) this.start();
    return item;
  }

  flushOutbox() {
    for (const item of this.outbox) {
      this.sendFrame({ type: "message", client_id: item.client_id, text: item.text });
    }
  }

  markSeen(seq) {
    if (this.firstAfterConnect) {
      // The server replays at most the last 500 messages: an older gap will never fill.
      this.firstAfterConnect = false;
      if (seq > this.contiguous + 1) this.contiguous = seq - 1;
    }
    const fresh = !this.seen.has(seq);
    this.seen.add(seq);
    while (this.seen.has(this.contiguous + 1)) this.contiguous += 1;
    return fresh;
  }

  receive(frame) {
    switch (frame.type) {
      case "conversation": return this.opened(frame);
      case "ack": return this.acked(frame);
      case "error": return this.refusedFrame(frame);
      case "pong": return undefined;
      case "message":
        if (this.unanswered && frame.sender !== "customer" && frame.seq > this.unanswered.seq) this.unanswered = null;
        if (typeof frame.seq === "number" && !this.markSeen(frame.seq) && !frame.client_id) return undefined;
        return this.emit("frame", frame);
      default:
        return this.emit("frame", frame);
    }
  }

  opened(frame) {
    const previous = this.token;
    const reset = Boolean(previous && previous !== frame.token);
    if (reset) this.resetSeen(); // the old conversation is gone (e.g. expired): start clean
    this.store.set("token", frame.token);
    this.store.remove("previous");
    this.firstAfterConnect = true;
    this.emit("conversation", { frame, reset, limits: this.limits });
    this.flushOutbox();
    // If the server stopped between storing our last message and answering it, the replayed
    // history ends with that message unanswered: resending it (same client_id) gets the answer.
    clearTimeout(this.timers.unanswered);
    this.timers.unanswered = setTimeout(() => {
      const item = this.unanswered;
      if (item && frame.status === "bot") this.sendFrame({ type: "message", client_id: item.client_id, text: item.text });
    }, UNANSWERED_CHECK_MS);
  }

  acked(frame) {
    this.markSeen(frame.seq);
    const item = this.outbox.find((i) => i.client_id === frame.client_id);
    if (item && (!this.unanswered || frame.seq >= this.unanswered.seq)) this.unanswered = { ...item, seq: frame.seq };
    this.outbox = this.outbox.filter((i) => i.client_id !== frame.client_id);
    this.emit("ack", frame);
  }

  refusedFrame(frame) {
    if (!this.socket.open) {
      this.lastError = frame; // a handshake refusal: the close code follows
      return;
    }
    const item = frame.client_id && this.outbox.find((i) => i.client_id === frame.client_id);
    if (item && (frame.code === "rate_limited" || frame.code === "unavailable")) {
      // Not stored (too fast, or the database is away): keep it and send it again when the
      // server's window has room for one more
      // (about every 60 / rate_per_minute seconds; refused again, it waits again; a reconnect
      // also resends it).
      clearTimeout(this.timers.rateLimit);
      const wait = Math.ceil(60000 / this.limits.rate_per_minute) + 250;
      this.timers.rateLimit = setTimeout(() => this.flushOutbox(), wait);
      this.emit("frame", frame);
      return;
    }
    if (item) {
      // Refused for good (too long, empty...): resending would be refused again.
      this.outbox = this.outbox.filter((i) => i.client_id !== item.client_id);
      this.emit("failed", { item, code: frame.code, detail: frame.detail });
      return;
    }
    this.emit("frame", frame);
  }
}
