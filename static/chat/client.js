// The customer chat: the same module runs the full-page chat (`/`) and the widget's iframe.
// It lays out the panel and wires the parts, each in its own module:
//   connection.js  the protocol (resume, outbox, acks) over socket.js, the shared reconnecting socket
//   messages.js    the message list        composer.js  the text box and the server's limit
//   notices.js     status line and banner  email.js     the "leave your email" card
//   rating.js      the end-of-chat rating and the thumbs-down follow-up
//   frame.js       the widget frame's side of postMessage   palette.js  the site's colours

import { Composer } from "./composer.js";
import { ChatConnection } from "./connection.js";
import { el, icon, iconButton } from "./dom.js";
import { EmailCard } from "./email.js";
import { Embedding, identityFromFragment, parentStorage, reportRefusal } from "./frame.js";
import { MessageList } from "./messages.js";
import { Notices } from "./notices.js";
import { applyPalette } from "./palette.js";
import { notHelpfulCard, RatingCard } from "./rating.js";
import { browserStorage } from "./storage.js";
import { format, gettext } from "./i18n.js";

const INPUT_MAX_HEIGHT_PX = 140;
const RATE_NOTICE_MS = 6000;

export function mountChat(root, options = {}) {
  const config = { ...root.dataset, ...options };
  const site = config.site;
  const embedded = config.embedded === "true" || config.embedded === true;
  const embedding = new Embedding({ embedded, site, origin: config.embeddingOrigin || "" });
  let open = !embedded;

  const connection = new ChatConnection({
    site,
    storage: config.storage,
    page: config.page || "",
    identity: embedded ? identityFromFragment() : null,
    emit: (event, detail) => handlers[event]?.(detail),
  });
  const readSeq = () => Number(connection.store.get("read") || 0);

  // Layout -----------------------------------------------------------------------------------
  const notices = new Notices();
  const messages = new MessageList({
    lang: config.language || document.documentElement.lang || "en",
    onFeedback: (seq, value) => connection.sendFrame({ type: "feedback", seq, value }),
    onSuggestion: (label) => send(label),
    onAgent: (name) => notices.setAgent(name),
    onArrival: (frame) => {
      if (frame.sender === "bot") botAnswered = true;
      if (frame.sender !== "customer") countUnread();
    },
    onThumbsDown: (node) => {
      if (node.querySelector(".chat-nothelpful")) return;
      node.append(notHelpfulCard({ askForPerson: () => askForPerson(), tellUs: (text) => send(text) }));
      messages.scrollToEnd();
    },
  });
  const email = new EmailCard({
    id: `chat-email-${site}`,
    send: (address) => connection.sendFrame({ type: "email", email: address }),
    transcript: () => connection.sendFrame({ type: "transcript" }),
  });
  // While the chat waits for a person (or for the team's email) the customer may go back to the bot.
  const stopWaiting = el("button", { type: "button", class: "chat-stop-waiting" }, gettext("Stop waiting and chat with the bot"));
  stopWaiting.hidden = true;
  stopWaiting.addEventListener("click", () => connection.sendFrame({ type: "stop_waiting" }));
  messages.scroller.append(email.node, stopWaiting);
  // The conversation ends (an agent closes it, or the customer closes the widget after the bot
  // answered): ask once for a rating.
  let conversationId = "";
  let botAnswered = false;
  let ratingAsked = false;
  let leaving = false;
  const rating = new RatingCard({
    id: `chat-rating-${site}`,
    send: ({ score, comment }) => connection.sendFrame({ type: "rating", score, comment }),
    done: () => { if (leaving) embedding.requestClose(); },
  });
  messages.scroller.append(rating.node);

  const titleId = `chat-title-${site}`;
  const title = el("h1", { id: titleId, class: "chat-title" }, config.name || "Chat");
  const handoffButton = iconButton("person", gettext("Talk to a person"), () => askForPerson());
  const newButton = el("button", { type: "button", class: "chat-new-button", title: gettext("Start a new conversation") },
    icon("restart"), el("span", {}, gettext("New chat")));
  newButton.addEventListener("click", () => confirmStartOver());
  // "New conversation" asks first: the current chat disappears from this window.
  const startOverCard = el("div", { class: "chat-confirm", role: "group", "aria-label": gettext("Start a new conversation?") },
    el("p", {}, gettext("Start a new conversation? This one will be cleared from this window.")),
    el("div", { class: "chat-confirm-actions" },
      el("button", { type: "button", class: "chat-confirm-yes", onclick: () => startOver() }, gettext("Start new conversation")),
      el("button", { type: "button", class: "chat-confirm-no", onclick: () => { startOverCard.hidden = true; } }, gettext("Keep this one"))));
  startOverCard.hidden = true;
  // After a close the composer gives way to a new conversation (writing would silently reopen the old one).
  const closedCard = el("div", { class: "chat-closed" },
    el("p", {}, gettext("This conversation has ended.")),
    el("button", { type: "button", class: "chat-confirm-yes", onclick: () => startOver() }, gettext("Start a new conversation")));
  closedCard.hidden = true;
  // A site may ask for consent: its privacy notice, and "Accept", come before the first message.
  let consentVersion = null; // the notice version awaiting acceptance, or null
  const consentLink = el("a", { target: "_blank", rel: "noopener noreferrer" }, "privacy notice");
  const consentCard = el("div", { class: "chat-consent", role: "group", "aria-label": "Privacy notice" },
    el("p", {}, "Before you chat, please read our ", consentLink, "."),
    el("button", { type: "button", class: "chat-confirm-yes", onclick: () => acceptConsent() }, "Accept and chat"));
  consentCard.hidden = true;
  const header = el("header", { class: "chat-header" },
    el("div", { class: "chat-avatar", "aria-hidden": "true" }, (config.name || "?").trim().charAt(0).toUpperCase()),
    el("div", { class: "chat-heading" }, title, notices.statusLine),
    el("div", { class: "chat-actions" },
      handoffButton,
      newButton,
      embedded ? iconButton("close", gettext("Close chat"), () => closeChat()) : null));
  const input = el("textarea", {
    id: `chat-input-${site}`, class: "chat-input", "aria-label": gettext("Message"), rows: "1",
    placeholder: gettext("Write a message…"), autocomplete: "off", enterkeyhint: "send",
  });
  const form = el("form", { class: "chat-composer" },
    el("div", { class: "chat-composer-row" }, input,
      el("button", { type: "submit", class: "chat-send", "aria-label": gettext("Send"), title: gettext("Send") }, icon("send"))),
    el("p", { class: "chat-limit" }));
  const panel = el("section", { class: "chat", "aria-labelledby": titleId },
    header, notices.banner, startOverCard, messages.scroller, closedCard, consentCard, form);
  root.replaceChildren(panel);
  const colors = applyPalette(document.documentElement, config.color);

  const composer = new Composer({
    form, input, counter: form.querySelector(".chat-limit"),
    measure: (text) => connection.measure(text),
    send: (text) => send(text),
    // Only a person reads this, so only send it while a person could be watching.
    typing: (on) => (notices.status === "human" || notices.status === "waiting")
      && connection.sendFrame({ type: "typing", state: on }),
    autosizeMax: INPUT_MAX_HEIGHT_PX,
  });

  // Connection events ------------------------------------------------------------------------
  const handlers = {
    state({ state, detail, code }) {
      notices.connection(state, () => connection.state === "open");
      if (state === "refused") {
        notices.show(detail || gettext("This chat is not available here."), "error");
        form.classList.add("is-disabled");
        embedding.refused(detail || code);
      }
    },
    conversation({ frame, reset }) {
      if (reset) clearMessages();
      if (frame.id !== conversationId) {
        conversationId = frame.id;
        botAnswered = false;
        ratingAsked = false;
        rating.hide();
      }
      if (frame.site) {
        if (frame.site.color) applyPalette(document.documentElement, frame.site.color);
        if (frame.site.name) title.textContent = frame.site.name;
      }
      if (frame.greeting !== undefined) messages.greeting(frame.greeting);
      askConsent(frame.consent);
      setStatus(frame.status);
      composer.update(); // the limits may have changed
      if (frame.offer_email && email.hidden) showEmailForm();
    },
    ack({ client_id: clientId, seq }) {
      if (!messages.acked(clientId, seq)) return;
      // The bot is "thinking" from the ack until its answer arrives (no frame needed for that).
      // The bot answers in every state but one: a person owns the chat.
      if (notices.status !== "human") messages.theyAreTyping("bot", true);
    },
    failed({ item, detail }) {
      messages.failed(item.client_id, detail);
    },
    frame(frame) {
      frameHandlers[frame.type]?.(frame);
    },
  };

  const frameHandlers = {
    message: (frame) => {
      messages.show(frame);
      embedding.shown(frame);
    },
    typing: (frame) => messages.theyAreTyping(frame.sender, frame.state),
    status: (frame) => {
      setStatus(frame.status);
      if (frame.offer_email) showEmailForm();
      if (frame.status === "closed") offerRating();
    },
    rating: () => ratingStored(),
    consent: () => askConsent(null),
    feedback: (frame) => messages.feedback(frame.seq, frame.value),
    email: () => email.saved(),
    transcript: () => email.transcriptQueued(),
    error: (frame) => {
      if (frame.code === "invalid_email") return email.error(frame.detail);
      if (frame.code === "too_soon" || frame.code === "no_email") return notices.show(frame.detail, "warning", RATE_NOTICE_MS);
      if (frame.code === "already_rated") return ratingStored();
      if (frame.code === "consent_required" || frame.code === "stale_notice") {
        consentCard.hidden = false;
        return notices.show(frame.detail, "warning", RATE_NOTICE_MS);
      }
      if (frame.code === "rate_limited") {
        return notices.show(gettext("You're sending messages quickly: the rest will follow in a moment."), "warning", RATE_NOTICE_MS);
      }
      return undefined;
    },
  };

  // Actions ----------------------------------------------------------------------------------
  function setStatus(status) {
    if (!notices.setStatus(status)) return;
    panel.dataset.status = status;
    handoffButton.hidden = status === "waiting" || status === "human";
    const waiting = status === "waiting" || status === "offline";
    stopWaiting.hidden = !waiting;
    if (!waiting) email.hide();
    closedCard.hidden = status !== "closed";
    form.hidden = status === "closed" || consentVersion !== null;
  }

  function rated() { return Boolean(conversationId) && connection.store.get("rated") === conversationId; }

  function offerRating() {
    if (rated() || ratingAsked) return false;
    ratingAsked = true;
    rating.show();
    messages.scrollToEnd();
    return true;
  }

  function ratingStored() {
    if (conversationId) connection.store.set("rated", conversationId);
    rating.saved();
  }

  function closeChat() {
    // Leaving a chat with the bot after it answered ends it: ask for a rating first ("Not now"
    // closes). A chat that waits for or is with a person goes on while the panel is closed.
    leaving = true;
    if (botAnswered && notices.status === "bot" && offerRating()) return;
    embedding.requestClose();
  }

  function askConsent(consent) {
    // consent: the hello's {required, notice_url, version, given}; null once it was accepted.
    consentVersion = consent && consent.required && !consent.given ? consent.version : null;
    const url = consent && /^https?:\/\//.test(consent.notice_url || "") ? consent.notice_url : null;
    if (url) consentLink.href = url;
    consentCard.hidden = consentVersion === null;
    form.hidden = notices.status === "closed" || consentVersion !== null;
  }

  function acceptConsent() {
    if (consentVersion !== null) connection.sendFrame({ type: "consent", version: consentVersion });
  }

  function showEmailForm() {
    email.show();
    messages.scrollToEnd();
  }

  function send(text) {
    // True when the message was taken (it is in the outbox, sent or waiting for the socket).
    const measured = connection.measure(text);
    if (!measured.clean || !measured.fits) return false;
    messages.pending(connection.sendMessage(measured.clean));
    messages.scrollToEnd();
    markRead();
    return true;
  }

  function askForPerson() {
    if (!connection.sendFrame({ type: "handoff", reason: "customer asked" })) {
      send(gettext("Talk to a person")); // queued: the policy treats this text as a handoff request
    }
  }

  function clearMessages() {
    messages.clear(connection.outbox);
    email.hide();
    countUnread();
  }

  function confirmStartOver() {
    startOverCard.hidden = false;
    startOverCard.querySelector(".chat-confirm-no").focus();
  }

  function startOver() {
    startOverCard.hidden = true;
    connection.newConversation();
    clearMessages();
    setStatus("bot");
    input.focus();
  }

  // Unread messages (the launcher's badge) -------------------------------------------------------
  function countUnread() {
    if (open && document.visibilityState !== "hidden") return markRead();
    return embedding.setUnread(messages.unreadAfter(readSeq()));
  }

  function markRead() {
    const last = messages.lastSeq;
    if (last > readSeq()) connection.store.set("read", String(last));
    embedding.setUnread(0);
  }

  document.addEventListener("visibilitychange", () => countUnread());

  function setOpen(value) {
    open = value;
    if (open) leaving = false;
    if (open) {
      connection.start();
      requestAnimationFrame(() => input.focus());
      messages.scrollToEnd();
      markRead();
    }
  }

  embedding.listen({ open: () => setOpen(true), close: () => setOpen(false) });

  // Start ------------------------------------------------------------------------------------
  messages.greeting(config.greeting || "");
  for (const item of connection.outbox) messages.pending(item);
  if (!embedded) {
    connection.start();
    trackViewport();
  } else if (connection.token || connection.outbox.length) {
    // A returning visitor: connect now so agent replies light the launcher's badge.
    connection.start();
  }
  // The launcher and panel on the host page speak the site's language too (the loader has no catalog).
  const labels = {
    open: gettext("Open chat"), close: gettext("Close chat"),
    title: format(gettext("Chat with %(name)s"), { name: config.name || "" }),
    unreadOne: gettext("Open chat, %(count)s unread message"), unreadMany: gettext("Open chat, %(count)s unread messages"),
  };
  embedding.ready({ name: config.name, position: config.position, labels, ...colors });
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

async function boot() {
  if (reportRefusal()) return;
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
