// The customer chat's message list: bubbles ordered by seq, messages waiting for their ack,
// feedback buttons, the quick-reply chips of the latest bot message and the typing indicator.
//
// Text from customers, agents and the bot is always inserted as text; only a curated answer's
// `html` is rendered, rebuilt from an allowlist (markup.js).

import { el, icon, nearBottom, scrollToEnd } from "./dom.js";
import { safeFragment } from "./markup.js";
import { format, gettext } from "./i18n.js";

const FEEDBACK_SOURCES = new Set(["answer", "ticket"]);
const SENDERS = new Set(["customer", "bot", "agent", "system"]);
const SENDER_LABEL = { customer: gettext("You"), bot: gettext("Assistant"), system: gettext("Notice") };
const THEIR_TYPING_TIMEOUT_MS = { bot: 20000, agent: 6000 };

export class MessageList {
  // onFeedback(seq, value) -> bool (sent), onSuggestion(label), onAgent(name), onArrival(frame),
  // onThumbsDown(node): the customer marked that answer not helpful.
  constructor({ lang, onFeedback, onSuggestion, onAgent = () => {}, onArrival = () => {}, onThumbsDown = () => {} }) {
    this.onFeedback = onFeedback;
    this.onThumbsDown = onThumbsDown;
    this.onSuggestion = onSuggestion;
    this.onAgent = onAgent;
    this.onArrival = onArrival;
    this.timeFormat = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" });
    this.dateFormat = new Intl.DateTimeFormat(lang, { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
    this.bySeq = new Map();
    this.byClient = new Map();
    this.typingTimers = {};
    this.typingSender = null;
    this.agentName = "";

    this.log = el("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": gettext("Conversation") });
    this.typing = el("div", { class: "chat-typing", "aria-hidden": "true" },
      el("span", { class: "chat-typing-dots" }, el("span"), el("span"), el("span")),
      el("span", { class: "chat-typing-label" }));
    this.typing.hidden = true;
    this.suggestions = el("div", { class: "chat-suggestions", role: "group", "aria-label": gettext("Suggested replies") });
    this.suggestions.hidden = true;
    this.scroller = el("div", { class: "chat-scroll" }, this.log, this.typing, this.suggestions);
  }

  nearBottom() { return nearBottom(this.scroller); }

  scrollToEnd() { scrollToEnd(this.scroller); }

  get lastSeq() { return Math.max(0, ...this.bySeq.keys()); }

  unreadAfter(read) {
    let count = 0;
    for (const [seq, node] of this.bySeq) if (seq > read && !node.classList.contains("from-customer")) count += 1;
    return count;
  }

  formatTime(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "";
    const today = new Date().toDateString() === when.toDateString();
    return (today ? this.timeFormat : this.dateFormat).format(when);
  }

  greeting(text) {
    let node = this.log.querySelector(".chat-message.is-greeting");
    if (!text) {
      node?.remove();
      return;
    }
    if (!node) {
      node = this.messageNode({ sender: "bot", text, seq: 0 });
      node.classList.add("is-greeting");
      this.log.prepend(node);
    } else {
      node.querySelector(".chat-bubble").textContent = text;
    }
  }

  senderName(frame) {
    if (frame.sender === "agent") return frame.agent ? format(gettext("%(name)s (agent)"), { name: frame.agent }) : gettext("Agent");
    return SENDER_LABEL[frame.sender] || frame.sender;
  }

  messageNode(frame) {
    const sender = SENDERS.has(frame.sender) ? frame.sender : "system";
    const bubble = el("div", { class: "chat-bubble" });
    if (frame.html && frame.sender === "bot") bubble.append(safeFragment(frame.html));
    else bubble.textContent = frame.text ?? "";
    const meta = el("div", { class: "chat-meta" });
    const node = el("div", { class: `chat-message from-${sender}` },
      el("span", { class: sender === "agent" ? "chat-sender" : "chat-sender visually-hidden" }, this.senderName(frame)),
      bubble, meta);
    if (typeof frame.seq === "number") node.dataset.seq = String(frame.seq);
    if (frame.created) meta.append(el("time", { datetime: frame.created }, this.formatTime(frame.created)));
    if (sender === "bot" && FEEDBACK_SOURCES.has(frame.source) && frame.seq) {
      meta.append(this.feedbackButtons(frame.seq, frame.feedback));
    }
    node.suggestions = Array.isArray(frame.suggestions) ? frame.suggestions.filter((s) => typeof s === "string") : [];
    return node;
  }

  feedbackButtons(seq, current) {
    const group = el("span", { class: "chat-feedback", role: "group", "aria-label": gettext("Was this answer helpful?") });
    for (const [value, label] of [["up", gettext("Helpful")], ["down", gettext("Not helpful")]]) {
      group.append(el("button", {
        type: "button", class: "chat-feedback-button", "data-value": value, "aria-label": label, title: label,
        "aria-pressed": current === value ? "true" : "false",
        onclick: () => {
          if (!this.onFeedback(seq, value)) return;
          this.setFeedback(group.closest(".chat-message"), value);
          if (value === "down") this.onThumbsDown(group.closest(".chat-message"));
        },
      }, icon(value)));
    }
    return group;
  }

  feedback(seq, value) {
    const node = this.bySeq.get(seq);
    if (node) this.setFeedback(node, value);
  }

  setFeedback(node, value) {
    for (const button of node.querySelectorAll(".chat-feedback-button")) {
      button.setAttribute("aria-pressed", button.dataset.value === value ? "true" : "false");
    }
  }

  place(node, seq) {
    // Ordered by seq; messages still waiting for their ack (no seq) stay at the end.
    let before = null;
    for (const child of this.log.children) {
      const other = child.dataset.seq === undefined ? Infinity : Number(child.dataset.seq);
      if (other > seq) {
        before = child;
        break;
      }
    }
    if (node.nextSibling !== before || node.parentNode !== this.log) this.log.insertBefore(node, before);
  }

  show(frame) {
    if (typeof frame.seq !== "number") return;
    const known = this.bySeq.get(frame.seq);
    if (known) {
      if (frame.feedback) this.setFeedback(known, frame.feedback);
      return;
    }
    const pending = frame.client_id && this.byClient.get(frame.client_id);
    if (pending) {
      this.settle(pending, frame.seq, frame.created);
      return;
    }
    const stickToBottom = this.nearBottom();
    const node = this.messageNode(frame);
    this.bySeq.set(frame.seq, node);
    if (frame.client_id) this.byClient.set(frame.client_id, node);
    this.place(node, frame.seq);
    if (frame.sender === "bot" || frame.sender === "agent") this.theyAreTyping(frame.sender, false);
    if (frame.sender === "agent" && frame.agent) {
      this.agentName = frame.agent;
      this.onAgent(frame.agent);
    }
    this.refreshSuggestions();
    this.onArrival(frame);
    if (stickToBottom) this.scrollToEnd();
  }

  pending(item) {
    const node = this.messageNode({ sender: "customer", text: item.text });
    node.classList.add("is-pending");
    node.querySelector(".chat-meta").append(el("span", { class: "chat-delivery" }, "Sending…"));
    this.byClient.set(item.client_id, node);
    this.log.append(node);
    this.refreshSuggestions();
    return node;
  }

  acked(clientId, seq) {
    // False when the ack is for a message this page did not show as pending.
    const node = this.byClient.get(clientId);
    if (!node) return false;
    if (this.bySeq.has(seq) && this.bySeq.get(seq) !== node) {
      node.remove(); // already shown from another socket's history
      return true;
    }
    this.settle(node, seq);
    return true;
  }

  settle(node, seq, created) {
    node.dataset.seq = String(seq);
    node.classList.remove("is-pending");
    this.bySeq.set(seq, node);
    const meta = node.querySelector(".chat-meta");
    meta.querySelector(".chat-delivery")?.remove();
    if (!meta.querySelector("time")) {
      const iso = created || new Date().toISOString();
      meta.prepend(el("time", { datetime: iso }, this.formatTime(iso)));
    }
    this.place(node, seq);
    this.refreshSuggestions();
  }

  failed(clientId, detail) {
    const node = this.byClient.get(clientId);
    if (!node) return;
    node.classList.remove("is-pending");
    node.classList.add("is-failed");
    const delivery = node.querySelector(".chat-delivery") || el("span", { class: "chat-delivery" });
    delivery.textContent = format(gettext("Not sent: %(reason)s"), { reason: detail });
    node.querySelector(".chat-meta").append(delivery);
  }

  clear(outbox) {
    // Everything but the greeting; then what is still waiting to be sent.
    for (const node of [...this.log.children]) if (!node.classList.contains("is-greeting")) node.remove();
    this.bySeq.clear();
    this.byClient.clear();
    this.agentName = "";
    for (const item of outbox) this.pending(item);
    this.refreshSuggestions();
  }

  refreshSuggestions() {
    // Quick replies belong to the latest message only; answering anything else retires them.
    const last = this.log.lastElementChild;
    const labels = last && last.classList.contains("from-bot") && !last.classList.contains("is-greeting") ? last.suggestions : [];
    this.suggestions.replaceChildren(...(labels || []).map((label) =>
      el("button", { type: "button", class: "chat-chip", onclick: () => this.onSuggestion(label) }, label)));
    this.suggestions.hidden = !this.suggestions.childElementCount;
  }

  theyAreTyping(sender, on) {
    if (sender !== "bot" && sender !== "agent") return;
    clearTimeout(this.typingTimers[sender]);
    if (on) {
      this.typingSender = sender;
      this.typing.querySelector(".chat-typing-label").textContent =
        sender === "bot" ? gettext("Assistant is typing")
        : format(gettext("%(name)s is typing"), { name: this.agentName || gettext("The agent") });
      const stick = this.nearBottom();
      this.typing.hidden = false;
      if (stick) this.scrollToEnd();
      this.typingTimers[sender] = setTimeout(() => this.theyAreTyping(sender, false), THEIR_TYPING_TIMEOUT_MS[sender]);
    } else if (this.typingSender === sender) {
      this.typing.hidden = true;
      this.typingSender = null;
    }
  }
}
