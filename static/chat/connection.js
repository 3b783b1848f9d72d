// The customer's side of the chat protocol (docs/protocol.md), with no DOM in it.
//
// Continuity lives here: the resume token and an outbox of unacknowledged messages are kept
// in localStorage (keyed by site), so a dropped socket, a server restart or a page reload loses
// nothing. Every message in the outbox is resent with its client_id after each (re)connect; the
// server stores a client_id once and acknowledges it again with the same seq.

export const PROTOCOL_VERSION = 1;
const FATAL_CLOSE_CODES = new Set([4400, 4403, 4404]);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_EVERY_MS = 25000;
const PONG_TIMEOUT_MS = 10000;
const RATE_LIMIT_RETRY_MS = 8000;
const UNANSWERED_CHECK_MS = 1500; // after a reconnect, time for the history replay to arrive

function uuid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  // Older browsers: random enough for an idempotency key.
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
}

export function browserStorage() {
  // localStorage, or null where the browser denies it (a third-party frame with cookies blocked).
  try {
    const storage = globalThis.localStorage;
    storage.setItem("chat.probe", "1");
    storage.removeItem("chat.probe");
    return storage;
  } catch (_) {
    return null;
  }
}

export class Store {
  // One site's saved state; storage errors (private mode, quota) degrade to memory.
  constructor(site, storage) {
    this.prefix = `chat.v${PROTOCOL_VERSION}.${site}.`;
    this.storage = storage;
    this.memory = new Map();
  }

  get(name) {
    try {
      const value = this.storage.getItem(this.prefix + name);
      if (value !== null) return value;
    } catch (_) { /* storage blocked: fall through to memory */ }
    return this.memory.has(name) ? this.memory.get(name) : null;
  }

  set(name, value) {
    this.memory.set(name, value);
    try { this.storage.setItem(this.prefix + name, value); } catch (_) { /* memory only */ }
  }

  remove(name) {
    this.memory.delete(name);
    try { this.storage.removeItem(this.prefix + name); } catch (_) { /* memory only */ }
  }

  getJSON(name, fallback) {
    try { return JSON.parse(this.get(name)) ?? fallback; } catch (_) { return fallback; }
  }

  setJSON(name, value) { this.set(name, JSON.stringify(value)); }
}

export class ChatConnection {
  // emit(event, detail): "state" {state, detail}, "conversation" {frame, reset},
  // "frame" (every other server frame), "ack" {client_id, seq}, "failed" {item, code, detail}.
  constructor({ site, url, storage, emit }) {
    this.site = site;
    this.url = url; // ws(s)://host/ws/chat/
    this.store = new Store(site, storage);
    this.emit = emit;
    this.ws = null;
    this.ready = false; // the conversation frame arrived on the current socket
    this.attempt = 0;
    this.timers = {};
    this.stopped = true;
    this.resetSeen();
    globalThis.addEventListener?.("online", () => this.reconnectNow());
    globalThis.document?.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  resetSeen() {
    this.seen = new Set(); // seqs of messages and acks seen on any socket of this page
    this.contiguous = 0; // every seq up to here was seen: the `after` of the next connect
    this.firstAfterConnect = false;
  }

  get token() { return this.store.get("token"); }
  get outbox() { return this.store.getJSON("outbox", []); }
  set outbox(items) {
    if (items.length) this.store.setJSON("outbox", items);
    else this.store.remove("outbox");
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  connect() {
    clearTimeout(this.timers.retry);
    const params = new URLSearchParams({ v: String(PROTOCOL_VERSION), site: this.site });
    const token = this.token;
    if (token) params.set("token", token);
    if (this.contiguous) params.set("after", String(this.contiguous));
    this.ready = false;
    this.lastError = null;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(`${this.url}?${params}`);
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => { if (ws === this.ws) this.receive(event.data); };
    ws.onclose = (event) => { if (ws === this.ws) this.closed(event); };
  }

  closed(event) {
    this.ws = null;
    this.ready = false;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (this.stopped) return;
    if (FATAL_CLOSE_CODES.has(event.code)) {
      this.stopped = true;
      this.setState("refused", this.lastError || { code: String(event.code), detail: "The chat refused this page." });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    // Exponential backoff with full jitter: a restarted server is not hit by every client at once.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = 250 + Math.random() * ceiling;
    this.attempt += 1;
    this.setState("reconnecting", { delay });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    // The network came back or the tab became visible: do not wait out the backoff.
    if (this.stopped || this.ws) return;
    this.attempt = Math.min(this.attempt, 1);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.setState("idle");
  }

  newConversation() {
    // Forget the token (the server keeps the old conversation) and anything unsent.
    this.stop();
    this.store.remove("token");
    this.store.remove("read");
    this.outbox = [];
    this.resetSeen();
    this.attempt = 0;
    this.start();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit("state", { state, ...detail });
  }

  sendFrame(frame) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
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

  receive(data) {
    let frame;
    try { frame = JSON.parse(data); } catch (_) { return; }
    this.lastFrameAt = Date.now();
    clearTimeout(this.timers.pong);
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
    this.ready = true;
    this.attempt = 0;
    this.firstAfterConnect = true;
    this.setState("open");
    this.emit("conversation", { frame, reset });
    this.flushOutbox();
    // If the server stopped between storing our last message and answering it, the replayed
    // history ends with that message unanswered: resending it (same client_id) gets the answer.
    clearTimeout(this.timers.unanswered);
    this.timers.unanswered = setTimeout(() => {
      const item = this.unanswered;
      if (item && frame.status === "bot") this.sendFrame({ type: "message", client_id: item.client_id, text: item.text });
    }, UNANSWERED_CHECK_MS);
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  ping() {
    if (!this.sendFrame({ type: "ping" })) return;
    clearTimeout(this.timers.pong);
    // A half-open socket (laptop slept, NAT dropped it) never errors: close it ourselves.
    this.timers.pong = setTimeout(() => this.ws && this.ws.close(4000), PONG_TIMEOUT_MS);
  }

  acked(frame) {
    this.markSeen(frame.seq);
    const item = this.outbox.find((i) => i.client_id === frame.client_id);
    if (item && (!this.unanswered || frame.seq >= this.unanswered.seq)) this.unanswered = { ...item, seq: frame.seq };
    this.outbox = this.outbox.filter((i) => i.client_id !== frame.client_id);
    this.emit("ack", frame);
  }

  refusedFrame(frame) {
    if (!this.ready) {
      this.lastError = frame; // a handshake refusal: the close code follows
      return;
    }
    const item = frame.client_id && this.outbox.find((i) => i.client_id === frame.client_id);
    if (item && frame.code === "rate_limited") {
      // Not stored: keep it and try again later (a reconnect also resends it).
      clearTimeout(this.timers.rateLimit);
      this.timers.rateLimit = setTimeout(() => this.flushOutbox(), RATE_LIMIT_RETRY_MS);
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
