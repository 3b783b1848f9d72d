// The customer chat UI: the same module runs the full-page chat (`/`) and the widget's iframe.
//
// Text from customers, agents and the bot is always inserted as text. The one exception is a
// curated answer's `html`, which the server sanitized; it is rebuilt here from an allowlist too,
// so a server bug still cannot inject a script or an event handler.

import { ChatConnection, browserStorage } from "./connection.js";
import { el } from "./dom.js";

const ALLOWED_TAGS = new Set(["A", "B", "STRONG", "I", "EM", "BR", "P", "UL", "OL", "LI"]);
const SAFE_HREF = /^(https?:|mailto:|tel:)/i;
const FEEDBACK_SOURCES = new Set(["answer", "ticket"]);
const TYPING_IDLE_MS = 3000;
const THEIR_TYPING_TIMEOUT_MS = { bot: 20000, agent: 6000 };
const MESSAGE_MAX = 2000;

const ICONS = {
  send: "M3.4 20.4 20.85 12.92a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z",
  close: "M18.3 5.71a1 1 0 0 0-1.41 0L12 10.59 7.11 5.7A1 1 0 0 0 5.7 7.11L10.59 12 5.7 16.89a1 1 0 1 0 1.41 1.41L12 13.41l4.89 4.89a1 1 0 0 0 1.41-1.41L13.41 12l4.89-4.89a1 1 0 0 0 0-1.4z",
  restart: "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.75 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z",
  person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-2.67 0-8 1.34-8 4v1a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-1c0-2.66-5.33-4-8-4z",
  up: "M2 20h2a1 1 0 0 0 1-1v-8a1 1 0 0 0-1-1H2v10zm19.83-7.12A2 2 0 0 0 22 12v-2a2 2 0 0 0-2-2h-5.5l.92-4.65a1 1 0 0 0-.27-.9L14.17 1.5 7.59 8.09A2 2 0 0 0 7 9.5V18a2 2 0 0 0 2 2h9a2 2 0 0 0 1.84-1.22l2-4.9z",
  down: "M22 4h-2a1 1 0 0 0-1 1v8a1 1 0 0 0 1 1h2V4zM2.17 11.12A2 2 0 0 0 2 12v2a2 2 0 0 0 2 2h5.5l-.92 4.65a1 1 0 0 0 .27.9l.98.95 6.58-6.59A2 2 0 0 0 17 14.5V6a2 2 0 0 0-2-2H6a2 2 0 0 0-1.84 1.22l-2 4.9z",
};

// DOM helpers -----------------------------------------------------------------------------


function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

function iconButton(name, label, onclick, extra = {}) {
  return el("button", { type: "button", class: "chat-icon-button", "aria-label": label, title: label, onclick, ...extra },
    icon(name));
}

export function safeFragment(html) {
  // <template> content is inert: nothing in it loads or runs while we copy what is allowed.
  const template = document.createElement("template");
  template.innerHTML = html;
  const copy = (source) => {
    const out = document.createDocumentFragment();
    for (const node of source.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        out.append(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (ALLOWED_TAGS.has(node.tagName)) {
          const clean = document.createElement(node.tagName.toLowerCase());
          const href = node.tagName === "A" ? node.getAttribute("href") : null;
          if (href && SAFE_HREF.test(href.trim())) {
            clean.setAttribute("href", href.trim());
            clean.setAttribute("target", "_blank");
            clean.setAttribute("rel", "noopener noreferrer nofollow");
          }
          clean.append(copy(node));
          out.append(clean);
        } else if (node.tagName !== "SCRIPT" && node.tagName !== "STYLE") {
          out.append(copy(node));
        }
      }
    }
    return out;
  };
  return copy(template.content);
}

// Colour ------------------------------------------------------------------------------------

function luminance(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function darken(hex, amount) {
  const parts = [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) * (1 - amount)));
  return "#" + parts.map((c) => c.toString(16).padStart(2, "0")).join("");
}

export function palette(color) {
  // The site's accent, plus a text colour readable on it and a shade readable on white.
  const accent = /^#[0-9a-f]{6}$/i.test(color || "") ? color : "#2563eb";
  const onAccent = contrast(accent, "#ffffff") >= contrast(accent, "#111827") ? "#ffffff" : "#111827";
  let ink = accent;
  for (let step = 0.1; contrast(ink, "#ffffff") < 4.6 && step <= 1; step += 0.1) ink = darken(accent, step);
  // White text on a light accent fails contrast: darken the bubble instead of the text.
  let bubble = accent;
  if (onAccent !== "#ffffff") bubble = contrast(ink, "#ffffff") >= 4.6 ? ink : accent;
  const onBubble = contrast(bubble, "#ffffff") >= 4.5 ? "#ffffff" : "#111827";
  return { accent, onAccent, ink, bubble, onBubble };
}

function applyPalette(node, color) {
  const colors = palette(color);
  node.style.setProperty("--chat-accent", colors.accent);
  node.style.setProperty("--chat-on-accent", colors.onAccent);
  node.style.setProperty("--chat-ink", colors.ink);
  node.style.setProperty("--chat-bubble", colors.bubble);
  node.style.setProperty("--chat-on-bubble", colors.onBubble);
  return colors;
}

// The chat ------------------------------------------------------------------------------------

const SENDER_LABEL = { customer: "You", bot: "Assistant", system: "Notice" };
const STATUS_TEXT = {
  bot: "Replies instantly",
  waiting: "Waiting for an agent…",
  human: "You're chatting with a person",
  closed: "This conversation is closed",
};

export function mountChat(root, options = {}) {
  const config = { ...root.dataset, ...options };
  const site = config.site;
  const embedded = config.embedded === "true" || config.embedded === true;
  const embeddingOrigin = config.embeddingOrigin || "";
  const lang = config.language || document.documentElement.lang || "en";
  const timeFormat = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" });
  const dateFormat = new Intl.DateTimeFormat(lang, { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
  const protocol = location.protocol === "https:" ? "wss:" : "ws:";

  const state = {
    open: !embedded,
    status: "bot",
    agentName: "",
    bySeq: new Map(),
    byClient: new Map(),
    typingTimers: {},
    myTypingTimer: null,
    myTypingSentAt: 0,
    unread: 0,
  };

  // Layout ---------------------------------------------------------------------------------
  const titleId = `chat-title-${site}`;
  const statusLine = el("p", { class: "chat-status" }, STATUS_TEXT.bot);
  const handoffButton = iconButton("person", "Talk to a person", () => askForPerson());
  const newButton = iconButton("restart", "New conversation", () => startOver());
  const closeButton = embedded ? iconButton("close", "Close chat", () => requestClose()) : null;
  const avatar = el("div", { class: "chat-avatar", "aria-hidden": "true" }, (config.name || "?").trim().charAt(0).toUpperCase());
  const header = el("header", { class: "chat-header" },
    avatar,
    el("div", { class: "chat-heading" }, el("h1", { id: titleId, class: "chat-title" }, config.name || "Chat"), statusLine),
    el("div", { class: "chat-actions" }, handoffButton, newButton, closeButton));
  const banner = el("div", { class: "chat-banner", role: "status" });
  banner.hidden = true;
  const log = el("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const typing = el("div", { class: "chat-typing", "aria-hidden": "true" },
    el("span", { class: "chat-typing-dots" }, el("span"), el("span"), el("span")),
    el("span", { class: "chat-typing-label" }));
  typing.hidden = true;
  const suggestions = el("div", { class: "chat-suggestions", role: "group", "aria-label": "Suggested replies" });
  suggestions.hidden = true;
  const emailCard = el("form", { class: "chat-email", novalidate: true });
  emailCard.hidden = true;
  const scroller = el("div", { class: "chat-scroll" }, log, typing, suggestions, emailCard);
  const input = el("textarea", {
    class: "chat-input", "aria-label": "Message", rows: "1", maxlength: String(MESSAGE_MAX),
    placeholder: "Write a message…", autocomplete: "off", enterkeyhint: "send",
  });
  const sendButton = el("button", { type: "submit", class: "chat-send", "aria-label": "Send", title: "Send" }, icon("send"));
  const composer = el("form", { class: "chat-composer" }, input, sendButton);
  const panel = el("section", { class: "chat", "aria-labelledby": titleId }, header, banner, scroller, composer);
  root.replaceChildren(panel);
  const colors = applyPalette(document.documentElement, config.color);

  // Connection -----------------------------------------------------------------------------
  const connection = new ChatConnection({
    site,
    storage: config.storage,
    url: `${protocol}//${location.host}/ws/chat/`,
    emit: (event, detail) => handlers[event]?.(detail),
  });
  const readSeq = () => Number(connection.store.get("read") || 0);

  const handlers = {
    state({ state: connectionState, detail, code }) {
      clearTimeout(state.bannerTimer);
      if (connectionState === "open") {
        showBanner(null);
      } else if (connectionState === "refused") {
        showBanner(detail || "This chat is not available here.", "error");
        composer.classList.add("is-disabled");
        post({ type: "refused", detail: detail || code });
      } else if (connectionState === "reconnecting") {
        // Only a lasting outage is worth a banner: a quick reconnect should not flash.
        state.bannerTimer = setTimeout(() => {
          if (connection.state !== "open") showBanner("Connection lost. Reconnecting…", "warning");
        }, 1500);
      }
    },
    conversation({ frame, reset }) {
      if (reset) clearMessages();
      if (frame.site) {
        if (frame.site.color) applyPalette(document.documentElement, frame.site.color);
        if (frame.site.name) header.querySelector(".chat-title").textContent = frame.site.name;
      }
      if (frame.greeting !== undefined) greeting(frame.greeting);
      setStatus(frame.status);
      if (frame.status === "waiting" && frame.offer_email && emailCard.hidden) showEmailForm();
    },
    ack({ client_id: clientId, seq }) {
      const node = state.byClient.get(clientId);
      if (!node) return;
      if (state.bySeq.has(seq) && state.bySeq.get(seq) !== node) {
        node.remove(); // already shown from another socket's history
        return;
      }
      settle(node, seq);
      // The bot is "thinking" from the ack until its answer arrives (no frame needed for that).
      if (state.status === "bot" || state.status === "closed") theyAreTyping("bot", true);
    },
    failed({ item, detail }) {
      const node = state.byClient.get(item.client_id);
      if (node) markFailed(node, detail);
    },
    frame(frame) {
      const handle = frameHandlers[frame.type];
      if (handle) handle(frame);
    },
  };

  const frameHandlers = {
    message: (frame) => showMessage(frame),
    typing: (frame) => theyAreTyping(frame.sender, frame.state),
    status: (frame) => {
      setStatus(frame.status);
      if (frame.offer_email) showEmailForm();
    },
    feedback: (frame) => {
      const node = state.bySeq.get(frame.seq);
      if (node) setFeedback(node, frame.value);
    },
    email: () => emailSaved(),
    error: (frame) => {
      if (frame.code === "invalid_email") return emailError(frame.detail);
      if (frame.code === "rate_limited") return showBanner("You're sending messages quickly: the rest will follow in a moment.", "warning", 6000);
      return undefined;
    },
  };

  // Messages -------------------------------------------------------------------------------
  function formatTime(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "";
    const today = new Date().toDateString() === when.toDateString();
    return (today ? timeFormat : dateFormat).format(when);
  }

  function greeting(text) {
    let node = log.querySelector(".chat-message.is-greeting");
    if (!text) {
      node?.remove();
      return;
    }
    if (!node) {
      node = messageNode({ sender: "bot", text, seq: 0 });
      node.classList.add("is-greeting");
      log.prepend(node);
    } else {
      node.querySelector(".chat-bubble").textContent = text;
    }
  }

  function senderName(frame) {
    if (frame.sender === "agent") return frame.agent ? `${frame.agent} (agent)` : "Agent";
    return SENDER_LABEL[frame.sender] || frame.sender;
  }

  function messageNode(frame) {
    const sender = ["customer", "bot", "agent", "system"].includes(frame.sender) ? frame.sender : "system";
    const bubble = el("div", { class: "chat-bubble" });
    if (frame.html && frame.sender === "bot") bubble.append(safeFragment(frame.html));
    else bubble.textContent = frame.text ?? "";
    const meta = el("div", { class: "chat-meta" });
    const node = el("div", { class: `chat-message from-${sender}` },
      el("span", { class: sender === "agent" ? "chat-sender" : "chat-sender visually-hidden" }, senderName(frame)),
      bubble, meta);
    if (typeof frame.seq === "number") node.dataset.seq = String(frame.seq);
    if (frame.created) meta.append(el("time", { datetime: frame.created }, formatTime(frame.created)));
    if (sender === "bot" && FEEDBACK_SOURCES.has(frame.source) && frame.seq) {
      meta.append(feedbackButtons(frame.seq, frame.feedback));
    }
    node.suggestions = Array.isArray(frame.suggestions) ? frame.suggestions.filter((s) => typeof s === "string") : [];
    return node;
  }

  function feedbackButtons(seq, current) {
    const group = el("span", { class: "chat-feedback", role: "group", "aria-label": "Was this answer helpful?" });
    for (const [value, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
      group.append(el("button", {
        type: "button", class: "chat-feedback-button", "data-value": value, "aria-label": label, title: label,
        "aria-pressed": current === value ? "true" : "false",
        onclick: () => {
          if (connection.sendFrame({ type: "feedback", seq, value })) setFeedback(group.closest(".chat-message"), value);
        },
      }, icon(value)));
    }
    return group;
  }

  function setFeedback(node, value) {
    for (const button of node.querySelectorAll(".chat-feedback-button")) {
      button.setAttribute("aria-pressed", button.dataset.value === value ? "true" : "false");
    }
  }

  function place(node, seq) {
    // Ordered by seq; messages still waiting for their ack (no seq) stay at the end.
    let before = null;
    for (const child of log.children) {
      const other = child.dataset.seq === undefined ? Infinity : Number(child.dataset.seq);
      if (other > seq) {
        before = child;
        break;
      }
    }
    if (node.nextSibling !== before || node.parentNode !== log) log.insertBefore(node, before);
  }

  function showMessage(frame) {
    if (typeof frame.seq !== "number") return;
    const known = state.bySeq.get(frame.seq);
    if (known) {
      if (frame.feedback) setFeedback(known, frame.feedback);
      return;
    }
    const pending = frame.client_id && state.byClient.get(frame.client_id);
    if (pending) {
      settle(pending, frame.seq, frame.created);
      return;
    }
    const stickToBottom = nearBottom();
    const node = messageNode(frame);
    state.bySeq.set(frame.seq, node);
    if (frame.client_id) state.byClient.set(frame.client_id, node);
    place(node, frame.seq);
    if (frame.sender === "bot" || frame.sender === "agent") theyAreTyping(frame.sender, false);
    if (frame.sender === "agent" && frame.agent) {
      state.agentName = frame.agent;
      setStatus(state.status);
    }
    refreshSuggestions();
    if (frame.sender !== "customer") countUnread();
    if (stickToBottom) scrollToEnd();
  }

  function pendingNode(item) {
    const node = messageNode({ sender: "customer", text: item.text });
    node.classList.add("is-pending");
    node.querySelector(".chat-meta").append(el("span", { class: "chat-delivery" }, "Sending…"));
    state.byClient.set(item.client_id, node);
    log.append(node);
    return node;
  }

  function settle(node, seq, created) {
    node.dataset.seq = String(seq);
    node.classList.remove("is-pending");
    state.bySeq.set(seq, node);
    const meta = node.querySelector(".chat-meta");
    meta.querySelector(".chat-delivery")?.remove();
    if (!meta.querySelector("time")) {
      const iso = created || new Date().toISOString();
      meta.prepend(el("time", { datetime: iso }, formatTime(iso)));
    }
    place(node, seq);
    refreshSuggestions();
  }

  function markFailed(node, detail) {
    node.classList.remove("is-pending");
    node.classList.add("is-failed");
    const delivery = node.querySelector(".chat-delivery") || el("span", { class: "chat-delivery" });
    delivery.textContent = `Not sent: ${detail}`;
    node.querySelector(".chat-meta").append(delivery);
  }

  function clearMessages() {
    for (const node of [...log.children]) if (!node.classList.contains("is-greeting")) node.remove();
    state.bySeq.clear();
    state.byClient.clear();
    state.agentName = "";
    emailCard.hidden = true;
    refreshSuggestions();
    for (const item of connection.outbox) pendingNode(item);
    countUnread();
  }

  function refreshSuggestions() {
    // Quick replies belong to the latest message only; answering anything else retires them.
    const last = log.lastElementChild;
    const labels = last && last.classList.contains("from-bot") && !last.classList.contains("is-greeting") ? last.suggestions : [];
    suggestions.replaceChildren(...(labels || []).map((label) =>
      el("button", { type: "button", class: "chat-chip", onclick: () => send(label) }, label)));
    suggestions.hidden = !suggestions.childElementCount;
  }

  // Typing ---------------------------------------------------------------------------------
  function theyAreTyping(sender, on) {
    if (sender !== "bot" && sender !== "agent") return;
    clearTimeout(state.typingTimers[sender]);
    if (on) {
      state.typing = sender;
      typing.querySelector(".chat-typing-label").textContent =
        sender === "bot" ? "Assistant is typing" : `${state.agentName || "The agent"} is typing`;
      const stick = nearBottom();
      typing.hidden = false;
      if (stick) scrollToEnd();
      state.typingTimers[sender] = setTimeout(() => theyAreTyping(sender, false), THEIR_TYPING_TIMEOUT_MS[sender]);
    } else if (state.typing === sender) {
      typing.hidden = true;
      state.typing = null;
    }
  }

  function iAmTyping(on) {
    // Only a person reads this, so only send it while a person could be watching.
    if (state.status !== "human" && state.status !== "waiting") return;
    clearTimeout(state.myTypingTimer);
    if (on) {
      if (Date.now() - state.myTypingSentAt > TYPING_IDLE_MS) {
        state.myTypingSentAt = Date.now();
        connection.sendFrame({ type: "typing", state: true });
      }
      state.myTypingTimer = setTimeout(() => iAmTyping(false), TYPING_IDLE_MS);
    } else if (state.myTypingSentAt) {
      state.myTypingSentAt = 0;
      connection.sendFrame({ type: "typing", state: false });
    }
  }

  // Status, banner, email ------------------------------------------------------------------
  function setStatus(status) {
    if (!STATUS_TEXT[status]) return;
    state.status = status;
    panel.dataset.status = status;
    statusLine.textContent = status === "human" && state.agentName
      ? `You're chatting with ${state.agentName}` : STATUS_TEXT[status];
    handoffButton.hidden = status === "waiting" || status === "human";
    if (status !== "waiting") emailCard.hidden = true;
  }

  function showBanner(text, tone = "info", hideAfter = 0) {
    clearTimeout(state.bannerHide);
    banner.hidden = !text;
    banner.textContent = text || "";
    banner.dataset.tone = tone;
    if (text && hideAfter) state.bannerHide = setTimeout(() => showBanner(null), hideAfter);
  }

  function showEmailForm() {
    const emailId = `chat-email-${site}`;
    const errorId = `${emailId}-error`;
    emailCard.replaceChildren(
      el("p", { class: "chat-email-title" }, "No one is available right now"),
      el("label", { for: emailId, class: "chat-email-label" }, "Leave your email and we'll reply there."),
      el("div", { class: "chat-email-row" },
        el("input", { id: emailId, type: "email", name: "email", autocomplete: "email", required: true,
          placeholder: "you@example.com", "aria-describedby": errorId }),
        el("button", { type: "submit", class: "chat-email-submit" }, "Save email")),
      el("p", { id: errorId, class: "chat-email-error", role: "alert" }));
    emailCard.hidden = false;
    scrollToEnd();
  }

  emailCard.addEventListener("submit", (event) => {
    event.preventDefault();
    const field = emailCard.querySelector("input");
    if (!field.value.trim()) return emailError("Enter your email address.");
    if (!connection.sendFrame({ type: "email", email: field.value.trim() })) return emailError("Not connected: try again in a moment.");
    return undefined;
  });

  function emailError(detail) {
    const field = emailCard.querySelector("input");
    if (!field) return;
    field.setAttribute("aria-invalid", "true");
    emailCard.querySelector(".chat-email-error").textContent = detail;
    field.focus();
  }

  function emailSaved() {
    const address = emailCard.querySelector("input")?.value.trim();
    emailCard.replaceChildren(el("p", { class: "chat-email-done", role: "status" },
      address ? `Thanks! We'll reply to ${address}.` : "Thanks! We'll reply by email."));
  }

  // Actions --------------------------------------------------------------------------------
  function send(text) {
    const clean = text.trim();
    if (!clean) return;
    iAmTyping(false);
    if (state.status === "closed") setStatus("bot"); // writing again reopens it with the bot
    const item = connection.sendMessage(clean.slice(0, MESSAGE_MAX));
    pendingNode(item);
    refreshSuggestions();
    scrollToEnd();
    markRead();
  }

  function askForPerson() {
    if (!connection.sendFrame({ type: "handoff", reason: "customer asked" })) {
      send("Talk to a person"); // queued: the policy treats this text as a handoff request
    }
  }

  function startOver() {
    connection.newConversation();
    clearMessages();
    setStatus("bot");
    input.focus();
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send(input.value);
    input.value = "";
    autosize();
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  input.addEventListener("input", () => {
    autosize();
    iAmTyping(Boolean(input.value.trim()));
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
  }

  // Scrolling, unread --------------------------------------------------------------------------
  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToEnd() {
    requestAnimationFrame(() => { scroller.scrollTop = scroller.scrollHeight; });
  }

  function countUnread() {
    const read = readSeq();
    if (state.open && document.visibilityState !== "hidden") return markRead();
    let count = 0;
    for (const [seq, node] of state.bySeq) if (seq > read && !node.classList.contains("from-customer")) count += 1;
    if (count !== state.unread) {
      state.unread = count;
      post({ type: "unread", count });
    }
    return undefined;
  }

  function markRead() {
    const last = Math.max(0, ...state.bySeq.keys());
    if (last > readSeq()) connection.store.set("read", String(last));
    if (state.unread) {
      state.unread = 0;
      post({ type: "unread", count: 0 });
    }
  }

  document.addEventListener("visibilitychange", () => countUnread());

  // Embedding ------------------------------------------------------------------------------
  function post(message) {
    if (!embedded || window.parent === window || !embeddingOrigin) return;
    window.parent.postMessage({ chat: "v1", site, ...message }, embeddingOrigin);
  }

  function requestClose() {
    post({ type: "close" });
  }

  function setOpen(open) {
    state.open = open;
    if (open) {
      connection.start();
      requestAnimationFrame(() => input.focus());
      scrollToEnd();
      markRead();
    }
  }

  if (embedded) {
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent || event.origin !== embeddingOrigin) return;
      const data = event.data || {};
      if (data.chat !== "v1") return;
      if (data.type === "open") setOpen(true);
      if (data.type === "close") setOpen(false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") requestClose();
    });
  }

  // Start ----------------------------------------------------------------------------------
  greeting(config.greeting || "");
  for (const item of connection.outbox) pendingNode(item);
  if (!embedded) {
    connection.start();
    trackViewport();
  } else if (connection.token || connection.outbox.length) {
    // A returning visitor: connect now so agent replies light the launcher's badge.
    connection.start();
  }
  post({ type: "ready", name: config.name, position: config.position, ...colors });
  return { connection, send, setOpen };
}

function trackViewport() {
  // Mobile keyboards shrink the visual viewport, not always the layout one: follow the visible part.
  const viewport = window.visualViewport;
  if (!viewport) return;
  const update = () => document.documentElement.style.setProperty("--chat-viewport-height", `${viewport.height}px`);
  viewport.addEventListener("resize", update);
  update();
}

function parentStorage(embeddingOrigin) {
  // This frame may not use its own storage (a third-party frame with third-party cookies
  // blocked, e.g. in private windows): keep the state in the host page's storage through the
  // loader instead, which only accepts this site's keys. See docs/widget.md for the trade-off.
  const tell = (message) => window.parent.postMessage({ chat: "v1", ...message }, embeddingOrigin);
  const items = new Map();
  const backend = {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => { items.set(key, String(value)); tell({ type: "persist", key, value: String(value) }); },
    removeItem: (key) => { items.delete(key); tell({ type: "persist", key, value: null }); },
  };
  return new Promise((resolve) => {
    const done = () => {
      window.removeEventListener("message", onMessage);
      clearTimeout(timer);
      resolve(backend);
    };
    const onMessage = (event) => {
      if (event.source !== window.parent || event.origin !== embeddingOrigin) return;
      if (!event.data || event.data.chat !== "v1" || event.data.type !== "storage") return;
      for (const [key, value] of Object.entries(event.data.items || {})) {
        if (typeof value === "string") items.set(key, value);
      }
      done();
    };
    const timer = setTimeout(done, 1500); // an old loader that does not answer: memory only
    window.addEventListener("message", onMessage);
    tell({ type: "storage-request" });
  });
}

async function boot() {
  const refused = document.querySelector("[data-chat-refused]");
  if (refused) {
    // The frame view refused this embedding: tell the loader why (nothing secret in it).
    if (window.parent !== window) {
      window.parent.postMessage({ chat: "v1", type: "refused", detail: refused.dataset.chatRefused }, "*");
    }
    return;
  }
  for (const root of document.querySelectorAll("[data-chat-root]")) {
    let storage = browserStorage();
    const origin = root.dataset.embeddingOrigin;
    if (!storage && root.dataset.embedded === "true" && origin && window.parent !== window) {
      storage = await parentStorage(origin);
    }
    mountChat(root, { storage });
  }
}

boot();
