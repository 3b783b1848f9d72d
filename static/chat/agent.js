// The agent console: the queue, one conversation at a time, live, over /ws/agent/.
//
// Customer text is always inserted as text. The server is the source of truth: the queue is
// redrawn from each `queue` frame, and a conversation's log from its `history` frame.
// The socket (reconnects, backoff, heartbeat, the server's limits) is socket.js's, the same one
// the customer chat uses; the reply box is composer.js's, the same as the customer's.

import { Composer } from "./composer.js";
import { el, nearBottom as atBottom, scrollToEnd as scrollDown } from "./dom.js";
import { measure } from "./limits.js";
import { ReconnectingSocket, socketUrl } from "./socket.js";

const $ = (id) => document.getElementById(id);
const GIVE_UP_HINT_AFTER = 4; // failed attempts before suggesting the session may have ended
const STATUS_LABEL = { waiting: "Waiting", human: "With an agent", bot: "With the bot", offline: "Offline message", closed: "Closed" };
const SENDER_LABEL = { customer: "Customer", bot: "Bot", system: "System" };

const me = document.body.dataset.agent;
const canned = JSON.parse($("canned-answers").textContent || "[]");
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });

const state = {
  rows: [],
  receivedAt: 0,
  selected: null, // public id of the conversation on screen
  seqs: new Set(),
  unread: new Set(),
  customer: null, // who the selected conversation's customer is (the history frame's `customer`)
  typingTimer: null,
};


// Socket ---------------------------------------------------------------------------------------

const socket = new ReconnectingSocket({
  url: () => socketUrl("/ws/agent/"),
  onState({ state: connection, attempt }) {
    if (connection === "open") setConnection("Online", "online");
    else if (connection === "connecting") setConnection("Connecting…", "connecting");
    // A refused handshake (the session ended) looks like any other failure to a page.
    else if (connection === "reconnecting") {
      setConnection(attempt > GIVE_UP_HINT_AFTER ? "Offline: reload the page (your session may have ended)" : "Reconnecting…", "offline");
    }
  },
  onWelcome() {
    if (state.selected) send({ type: "open", conversation: state.selected });
    composer.update(); // the limits may have changed
  },
  onFrame: (frame) => handlers[frame.type]?.(frame),
});

function send(frame) {
  if (socket.send(frame)) return true;
  toast("Not connected: try again in a moment.");
  return false;
}

function setConnection(text, tone) {
  $("connection").textContent = text;
  document.body.dataset.connection = tone;
}

// Frames -----------------------------------------------------------------------------------------

const handlers = {
  queue(frame) {
    state.rows = Array.isArray(frame.conversations) ? frame.conversations : [];
    state.receivedAt = Date.now();
    const online = Number(frame.agents_online) || 0;
    $("online").textContent = `${online} ${online === 1 ? "agent" : "agents"} online`;
    renderQueue();
    renderFacts();
  },
  history(frame) {
    if (frame.conversation !== state.selected) return;
    $("log").replaceChildren();
    state.seqs.clear();
    for (const message of frame.messages || []) showMessage(message);
    state.customer = frame.customer || null;
    renderCustomer();
    renderFacts();
    scrollToEnd();
  },
  message(frame) {
    if (frame.conversation !== state.selected) {
      if (frame.sender === "customer") {
        state.unread.add(frame.conversation);
        renderQueue();
      }
      return;
    }
    const stick = nearBottom();
    showMessage(frame);
    if (frame.sender === "customer") setTyping(false);
    if (stick || frame.sender === "agent") scrollToEnd();
  },
  typing(frame) {
    if (frame.conversation === state.selected && frame.sender === "customer") setTyping(Boolean(frame.state));
  },
  status(frame) {
    const row = state.rows.find((r) => r.id === frame.conversation);
    if (row) row.status = frame.status;
    renderFacts();
  },
  error(frame) {
    toast(frame.detail || frame.code);
  },
  pong() {},
};

// Queue ------------------------------------------------------------------------------------------

function waited(row) {
  if (row.wait_seconds === null || row.wait_seconds === undefined) return "";
  const seconds = row.wait_seconds + Math.floor((Date.now() - state.receivedAt) / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function statusText(row) {
  if (row.status === "human") return row.agent === me ? "With you" : `With ${row.agent || "an agent"}`;
  return STATUS_LABEL[row.status] || row.status;
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren(...state.rows.map((row) => {
    const wait = waited(row);
    const details = [];
    if (row.reason) details.push(el("span", { class: "queue-reason" }, row.reason));
    if (row.confidence !== null && row.confidence !== undefined) {
      details.push(el("span", { class: "queue-confidence", title: "Lowest bot confidence in this chat" },
        `confidence ${Math.round(row.confidence * 100)}%`));
    }
    const button = el("button", {
      type: "button",
      class: "queue-item",
      "data-conversation": row.id,
      "data-status": row.status,
      "aria-current": row.id === state.selected ? "true" : null,
      onclick: () => select(row.id),
    },
    el("span", { class: "queue-line" },
      el("span", { class: `pill pill-${row.status}` }, statusText(row)),
      wait ? el("span", { class: "queue-wait", title: "Waiting for" }, `waiting ${wait}`) : null,
      state.unread.has(row.id) ? el("span", { class: "queue-unread" }, "new") : null),
    row.name || row.email ? el("span", { class: "queue-who" }, [row.name, row.email].filter(Boolean).join(" · ")) : null,
    el("span", { class: "queue-text" }, row.last_text || "(no messages yet)"),
    row.intents && row.intents.length
      ? el("span", { class: "queue-intents" }, row.intents.map((name) => el("span", { class: "chip" }, name)))
      : null,
    details.length ? el("span", { class: "queue-details" }, details) : null,
    el("span", { class: "queue-site" }, row.site || ""));
    return el("li", {}, button);
  }));
  $("queue-empty").hidden = state.rows.length > 0;
}

setInterval(() => { if (state.rows.some((r) => r.wait_seconds !== null)) renderQueue(); }, 15000);

// Conversation ------------------------------------------------------------------------------------

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  state.unread.delete(id);
  $("conversation-empty").hidden = true;
  $("conversation-view").hidden = false;
  $("log").replaceChildren();
  state.seqs.clear();
  state.customer = null;
  renderCustomer();
  setTyping(false);
  send({ type: "open", conversation: id });
  renderQueue();
  renderFacts();
  $("reply").focus();
}

function renderFacts() {
  if (!state.selected) return;
  const row = state.rows.find((r) => r.id === state.selected);
  const who = state.customer?.name || state.customer?.email || row?.name || row?.email;
  $("conversation-title").textContent = `${who || "Visitor"} · ${row?.site || state.selected.slice(0, 8)}`;
  const facts = [];
  if (row) {
    facts.push(statusText(row));
    if (row.reason) facts.push(`reason: ${row.reason}`);
    if (row.intents?.length) facts.push(`intents: ${row.intents.join(", ")}`);
    if (row.confidence !== null && row.confidence !== undefined) facts.push(`lowest confidence ${Math.round(row.confidence * 100)}%`);
    const wait = waited(row);
    if (wait) facts.push(`waiting ${wait}`);
  }
  $("conversation-facts").textContent = facts.join(" · ");
  const status = row ? row.status : "bot";
  const mine = row && row.status === "human" && row.agent === me;
  $("join").hidden = Boolean(mine);
  $("release").disabled = !(status === "human" || status === "waiting" || status === "offline");
  $("close").disabled = status === "closed";
}

function renderCustomer() {
  // Who the customer is: always as text (they typed their email; the page URL comes from their browser).
  const customer = state.customer || {};
  const facts = [];
  if (customer.name) facts.push(el("dt", {}, "Name"), el("dd", {}, customer.name));
  facts.push(el("dt", {}, "Email"), el("dd", {}, customer.email || "not left"));
  if (customer.page) {
    const safe = /^https?:/i.test(customer.page);
    facts.push(el("dt", {}, "Page"), el("dd", {}, safe
      ? el("a", { href: customer.page, target: "_blank", rel: "noopener noreferrer" }, customer.page) : customer.page));
  }
  const earlier = customer.earlier || [];
  const list = earlier.length
    ? el("ul", { class: "customer-earlier" }, earlier.map((chat) => el("li", {},
      el("button", { type: "button", class: "link-button", onclick: () => select(chat.id) },
        `${dateFormat.format(new Date(chat.created))}: ${chat.text || "(no text)"}`))))
    : el("p", { class: "customer-none" }, "No earlier conversations.");
  $("customer").replaceChildren(el("dl", { class: "customer-facts" }, facts),
    el("h3", { class: "customer-earlier-title" }, "Earlier conversations"), list);
}

function showMessage(frame) {
  if (typeof frame.seq === "number") {
    if (state.seqs.has(frame.seq)) return;
    state.seqs.add(frame.seq);
  }
  const sender = ["customer", "bot", "agent", "system"].includes(frame.sender) ? frame.sender : "system";
  const who = sender === "agent" ? (frame.agent || "Agent") : SENDER_LABEL[sender];
  const meta = [who];
  if (frame.created) meta.push(timeFormat.format(new Date(frame.created)));
  if (sender === "bot" && frame.intent) {
    meta.push(`${frame.intent}${typeof frame.confidence === "number" ? ` ${Math.round(frame.confidence * 100)}%` : ""}`);
  }
  if (frame.feedback) meta.push(frame.feedback === "up" ? "rated helpful" : "rated not helpful");
  const node = el("div", { class: `entry from-${sender}`, "data-seq": frame.seq ?? "" },
    el("div", { class: "entry-meta" }, meta.join(" · ")),
    el("div", { class: "entry-text" }, frame.text ?? ""));
  // Ordered by seq even when a relayed frame overtakes the history.
  const log = $("log");
  const after = [...log.children].find((child) => Number(child.dataset.seq) > frame.seq);
  log.insertBefore(node, after || null);
}

function setTyping(on) {
  clearTimeout(state.typingTimer);
  $("typing").hidden = !on;
  if (on) state.typingTimer = setTimeout(() => setTyping(false), 6000);
}

const nearBottom = () => atBottom($("scroll"));
const scrollToEnd = () => scrollDown($("scroll"));

function toast(text) {
  const node = el("p", { class: "toast" }, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

// Actions -------------------------------------------------------------------------------------------

$("join").addEventListener("click", () => send({ type: "join", conversation: state.selected }));
$("release").addEventListener("click", () => send({ type: "release", conversation: state.selected }));
$("close").addEventListener("click", () => {
  $("resolution").value = "";
  $("ticket-question").value = state.customer?.question || "";
  $("close-dialog").showModal();
});
$("close-dialog").addEventListener("close", () => {
  if ($("close-dialog").returnValue !== "close" || !state.selected) return;
  send({ type: "close", conversation: state.selected, resolution: $("resolution").value.trim(),
    question: $("ticket-question").value.trim() });
});

const composer = new Composer({
  form: $("composer"),
  input: $("reply"),
  counter: $("reply-limit"),
  measure: (text) => measure(text, socket.limits, (clean) => ({ type: "message", conversation: state.selected || "", text: clean })),
  send: (text) => Boolean(state.selected) && send({ type: "message", conversation: state.selected, text }),
  typing: (on) => Boolean(state.selected) && socket.send({ type: "typing", conversation: state.selected, state: on }),
});

$("canned").addEventListener("change", () => {
  const answer = canned[Number($("canned").value)];
  $("canned").value = "";
  if (!answer) return;
  composer.setValue(composer.value ? `${composer.value.trimEnd()}\n${answer.text}` : answer.text);
  $("reply").focus();
  composer.signalTyping(true);
});

socket.start();
