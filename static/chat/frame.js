// The chat inside the widget's iframe, talking to the loader (widget.js) on the host page.
// Messages go only to the embedding origin the frame view checked, and are accepted only from
// the parent window at that origin; every message is tagged {chat: "v1"}.

const STORAGE_ANSWER_MS = 1500; // an old loader that never answers a storage request

export class Embedding {
  // A page not inside a frame (the full-page chat) gets an Embedding whose post() does nothing.
  constructor({ embedded, site, origin }) {
    this.embedded = embedded && window.parent !== window && Boolean(origin);
    this.site = site;
    this.origin = origin;
    this.unread = 0;
  }

  post(message) {
    if (!this.embedded) return;
    window.parent.postMessage({ chat: "v1", site: this.site, ...message }, this.origin);
  }

  listen({ open, close }) {
    // The loader opens and closes the panel; Escape inside the frame asks it to close.
    if (!this.embedded) return;
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent || event.origin !== this.origin) return;
      const data = event.data || {};
      if (data.chat !== "v1") return;
      if (data.type === "open") open();
      if (data.type === "close") close();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.requestClose();
    });
  }

  requestClose() { this.post({ type: "close" }); }

  ready(details) { this.post({ type: "ready", ...details }); }

  refused(detail) { this.post({ type: "refused", detail }); }

  shown(frame) {
    // The host page's on("message") listeners (docs/widget.md): who said what, nothing else.
    this.post({ type: "message", seq: frame.seq, sender: frame.sender, text: frame.text });
  }

  setUnread(count) {
    // The launcher's badge: told only when the number changes.
    if (count === this.unread) return;
    this.unread = count;
    this.post({ type: "unread", count });
  }
}

export function reportRefusal() {
  // The frame view refused this embedding (frame_refused.html): tell the loader why (nothing
  // secret in it; its origin is unknown here, hence "*"). True when this page is that refusal.
  const refused = document.querySelector("[data-chat-refused]");
  if (!refused) return false;
  if (window.parent !== window) {
    window.parent.postMessage({ chat: "v1", type: "refused", detail: refused.dataset.chatRefused }, "*");
  }
  return true;
}

export function parentStorage(origin) {
  // This frame may not use its own storage (a third-party frame with third-party cookies
  // blocked, e.g. in private windows): keep the state in the host page's storage through the
  // loader instead, which only accepts this site's keys. See docs/widget.md for the trade-off.
  const tell = (message) => window.parent.postMessage({ chat: "v1", ...message }, origin);
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
      if (event.source !== window.parent || event.origin !== origin) return;
      if (!event.data || event.data.chat !== "v1" || event.data.type !== "storage") return;
      for (const [key, value] of Object.entries(event.data.items || {})) {
        if (typeof value === "string") items.set(key, value);
      }
      done();
    };
    const timer = setTimeout(done, STORAGE_ANSWER_MS);
    window.addEventListener("message", onMessage);
    tell({ type: "storage-request" });
  });
}

const IDENTITY_KEYS = ["user_id", "user_hash", "user_name", "user_email"];

export function identityFromFragment() {
  // The loader passes the signed-in customer in the frame URL's fragment, which browsers never
  // send to a server (no access log holds it); the chat server checks the hash on connect.
  const given = new URLSearchParams(window.location.hash.slice(1));
  const identity = {};
  for (const key of IDENTITY_KEYS) if (given.get(key)) identity[key] = given.get(key);
  return identity.user_id ? identity : null;
}
