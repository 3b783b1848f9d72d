// One reconnecting WebSocket, shared by the customer chat (page and widget frame) and the agent
// console. It knows nothing of either protocol beyond three things every socket of ours has:
// JSON frames, a first frame from the server (the welcome) that may carry the server's `limits`,
// and `ping` answered by `pong`.
//
// It reconnects after any close except a refusal (fatal close codes), with exponential backoff and
// full jitter; at once when the network comes back or the tab becomes visible; and it closes a
// socket that stops answering pings (a half-open socket after sleep or a NAT drop never errors).

import { readLimits } from "./limits.js";

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const FIRST_RETRY_MS = 250;
const PING_EVERY_MS = 25000;
const PONG_TIMEOUT_MS = 10000;
const CLOSE_UNRESPONSIVE = 4000;

export function socketUrl(path) {
  const protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return `${protocol}//${location.host}${path}`;
}

export class ReconnectingSocket {
  // url(): the address of the next attempt (it may carry fresh query parameters each time).
  // isWelcome(frame): whether a frame is the server's welcome (default: the first frame).
  // onState({state, ...}): "connecting", "open", "reconnecting" {delay, attempt}, "refused" {code}, "idle".
  // onWelcome(frame, limits) then onFrame(frame) for every frame, welcome included.
  constructor({ url, isWelcome = () => true, fatalCodes = [], onState = () => {}, onWelcome = () => {}, onFrame = () => {} }) {
    this.url = url;
    this.isWelcome = isWelcome;
    this.fatalCodes = new Set(fatalCodes);
    this.onState = onState;
    this.onWelcome = onWelcome;
    this.onFrame = onFrame;
    this.ws = null;
    this.open = false; // the welcome arrived on the current socket
    this.attempt = 0;
    this.stopped = true;
    this.state = "idle";
    this.limits = readLimits(null);
    this.timers = {};
    globalThis.addEventListener?.("online", () => this.reconnectNow());
    globalThis.document?.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws) ws.close(1000);
    this.setState("idle");
  }

  send(frame) {
    // False when there is no open socket: the caller decides whether to queue, retry or tell.
    if (!this.ws || !this.open || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  connect() {
    clearTimeout(this.timers.retry);
    this.open = false;
    this.setState(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (_) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => { if (ws === this.ws) this.receive(event.data); };
    ws.onclose = (event) => { if (ws === this.ws) this.closed(event); };
  }

  receive(data) {
    let frame;
    try { frame = JSON.parse(data); } catch (_) { return; }
    if (!frame || typeof frame !== "object") return;
    clearTimeout(this.timers.pong);
    if (!this.open && this.isWelcome(frame)) this.welcome(frame);
    this.onFrame(frame);
  }

  welcome(frame) {
    this.open = true;
    this.attempt = 0;
    this.limits = readLimits(frame.limits);
    this.setState("open");
    this.onWelcome(frame, this.limits);
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  ping() {
    if (!this.send({ type: "ping" })) return;
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => this.ws?.close(CLOSE_UNRESPONSIVE), PONG_TIMEOUT_MS);
  }

  closed(event) {
    this.ws = null;
    this.open = false;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (this.stopped) return;
    if (this.fatalCodes.has(event.code)) {
      this.stopped = true;
      this.setState("refused", { code: event.code });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    // Full jitter: a restarted server is not hit by every client at the same moment.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = FIRST_RETRY_MS + Math.random() * ceiling;
    this.attempt += 1;
    this.setState("reconnecting", { delay, attempt: this.attempt });
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    // The network came back or the tab became visible: do not wait out the backoff.
    if (this.stopped || this.ws) return;
    this.attempt = Math.min(this.attempt, 1);
    this.connect();
  }

  clearTimers() {
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
  }

  setState(state, detail = {}) {
    this.state = state;
    this.onState({ state, ...detail });
  }
}
