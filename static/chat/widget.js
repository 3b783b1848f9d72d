/* The chat widget loader, served at /widget.js by the chat server itself.
 *
 *   <script src="https://CHAT_SERVER/widget.js" data-site="PUBLIC_KEY" async></script>
 *
 * It adds a launcher button (in a shadow root, so the host page's CSS cannot restyle it) and
 * an iframe on the chat server's /widget/frame/ holding the chat itself: the host page's CSS
 * and scripts cannot reach into it, and the resume token lives in the chat server's storage.
 * The two talk only through postMessage, each side checking the other's origin.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var site = script.getAttribute("data-site");
  if (!site) {
    console.error('Chat widget: add data-site="YOUR_PUBLIC_KEY" to the script tag.');
    return;
  }
  var widgets = (window.__chatWidgets = window.__chatWidgets || {});
  if (widgets[site]) return; // the snippet was pasted twice

  var server = new URL(script.src, location.href).origin;
  // The page the customer chats from, for the agents: origin and path only (a query string may
  // carry personal data).
  var frameUrl = server + "/widget/frame/?" + new URLSearchParams({
    site: site, origin: location.origin, page: location.origin + location.pathname,
  });
  // A signed-in customer (docs/widget.md): data-user-id, data-user-hash (the shop server's HMAC),
  // data-user-name, data-user-email, or identify() later. It travels in the frame URL's fragment,
  // which the browser never sends to a server; the chat server checks the hash.
  var identity = {};
  ["id", "hash", "name", "email"].forEach(function (key) {
    var value = script.getAttribute("data-user-" + key);
    if (value) identity["user_" + key] = value;
  });
  var loads = 0;
  function frameSrc() {
    var fragment = identity.user_id ? "#" + new URLSearchParams(identity) : "";
    return frameUrl + (loads ? "&n=" + loads : "") + fragment;
  }
  var listeners = { open: [], close: [], message: [] };
  function fire(name, detail) {
    listeners[name].forEach(function (listener) {
      try { listener(detail); } catch (error) { console.error(error); }
    });
  }
  var SMALL = "(max-width: 480px)";

  var CSS = [
    ":host { all: initial; }",
    ".launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 60px; height: 60px;",
    "  display: flex; align-items: center; justify-content: center; padding: 0; margin: 0; border: 0;",
    "  border-radius: 50%; cursor: pointer; background: var(--cw-accent, #2563eb); color: var(--cw-on-accent, #fff);",
    "  box-shadow: 0 6px 20px rgba(15, 23, 42, .25); transition: transform .18s ease, box-shadow .18s ease; }",
    ".launcher:hover { transform: translateY(-2px); box-shadow: 0 10px 28px rgba(15, 23, 42, .3); }",
    ".launcher:focus-visible { outline: 3px solid var(--cw-ink, #1d4ed8); outline-offset: 3px; }",
    ".launcher[hidden], .panel[hidden], .badge[hidden] { display: none; }",
    ".launcher svg { width: 28px; height: 28px; }",
    ".launcher .when-open { display: none; }",
    ".is-open .launcher .when-open { display: block; } .is-open .launcher .when-closed { display: none; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px; box-sizing: border-box;",
    "  border-radius: 11px; background: #dc2626; color: #fff; border: 2px solid #fff;",
    "  font: 700 12px/18px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; text-align: center; }",
    ".panel { position: fixed; bottom: 96px; right: 20px; z-index: 2147483000; width: 392px;",
    "  height: 680px; max-height: calc(100vh - 120px); max-height: calc(100dvh - 120px); border-radius: 18px; overflow: hidden;",
    "  background: #fff; box-shadow: 0 16px 56px rgba(15, 23, 42, .24), 0 2px 8px rgba(15, 23, 42, .08);",
    "  transform-origin: bottom right; animation: cw-in .2s ease-out; }",
    ".left .launcher { right: auto; left: 20px; } .left .panel { right: auto; left: 20px; transform-origin: bottom left; }",
    "iframe { display: block; width: 100%; height: 100%; border: 0; color-scheme: light; }",
    "@keyframes cw-in { from { opacity: 0; transform: translateY(12px) scale(.98); } to { opacity: 1; transform: none; } }",
    "@media " + SMALL + " {",
    "  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; box-shadow: none; }",
    "  .is-open .launcher { display: none; }",
    "}",
    "@media (prefers-reduced-motion: reduce) { .launcher, .panel { transition: none; animation: none; } }",
  ].join("\n");

  var CHAT_ICON = "M12 3C6.48 3 2 6.92 2 11.75c0 2.44 1.15 4.65 3 6.24V22l3.94-2.27c.97.24 1.99.36 3.06.36 5.52 0 10-3.92 10-8.75S17.52 3 12 3zm-4 10a1.25 1.25 0 1 1 0-2.5A1.25 1.25 0 0 1 8 13zm4 0a1.25 1.25 0 1 1 0-2.5 1.25 1.25 0 0 1 0 2.5zm4 0a1.25 1.25 0 1 1 0-2.5 1.25 1.25 0 0 1 0 2.5z";
  var CLOSE_ICON = "M18.3 5.71a1 1 0 0 0-1.41 0L12 10.59 7.11 5.7A1 1 0 0 0 5.7 7.11L10.59 12 5.7 16.89a1 1 0 1 0 1.41 1.41L12 13.41l4.89 4.89a1 1 0 0 0 1.41-1.41L13.41 12l4.89-4.89a1 1 0 0 0 0-1.4z";

  function svg(path, className) {
    var ns = "http://www.w3.org/2000/svg";
    var node = document.createElementNS(ns, "svg");
    node.setAttribute("viewBox", "0 0 24 24");
    node.setAttribute("aria-hidden", "true");
    node.setAttribute("focusable", "false");
    node.setAttribute("class", className);
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "currentColor");
    node.appendChild(p);
    return node;
  }

  var host = document.createElement("chat-widget");
  // Inline !important beats any host stylesheet rule aimed at our element.
  host.setAttribute("style", "all: initial !important; display: block !important;");
  host.setAttribute("data-site", site);
  var shadow = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  var wrapper = document.createElement("div");
  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.hidden = true; // shown once the frame says the site is configured for this page
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "panel");
  launcher.appendChild(svg(CHAT_ICON, "when-closed"));
  launcher.appendChild(svg(CLOSE_ICON, "when-open"));
  var badge = document.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);
  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  var frame = document.createElement("iframe");
  frame.title = "Chat";
  frame.src = frameSrc();
  frame.setAttribute("allow", "clipboard-write");
  panel.appendChild(frame);
  wrapper.appendChild(launcher);
  wrapper.appendChild(panel);
  shadow.appendChild(style);
  shadow.appendChild(wrapper);

  var open = false;
  var unread = 0;

  function tell(type, extra) {
    var message = { chat: "v1", type: type };
    for (var name in extra || {}) message[name] = extra[name];
    if (frame.contentWindow) frame.contentWindow.postMessage(message, server);
  }

  // Fallback storage for a frame whose own storage the browser blocks (third-party cookies off):
  // only this site's chat keys, under our own prefix in the host page's localStorage.
  var KEY_PREFIX = "chat.v1." + site + ".";
  var HOST_PREFIX = "chat-widget:";

  function savedItems() {
    var items = {};
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key && key.indexOf(HOST_PREFIX + KEY_PREFIX) === 0) items[key.slice(HOST_PREFIX.length)] = localStorage.getItem(key);
      }
    } catch (e) { /* storage blocked here too: memory only */ }
    return items;
  }

  function persist(key, value) {
    if (typeof key !== "string" || key.indexOf(KEY_PREFIX) !== 0) return;
    try {
      if (typeof value === "string") localStorage.setItem(HOST_PREFIX + key, value);
      else localStorage.removeItem(HOST_PREFIX + key);
    } catch (e) { /* storage blocked here too: memory only */ }
  }

  // The frame's words for the launcher, in the site's language (English until it says).
  var words = { open: "Open chat", close: "Close chat", unreadOne: "Open chat, %(count)s unread message",
                unreadMany: "Open chat, %(count)s unread messages" };

  function label() {
    var name = open ? words.close : words.open;
    if (!open && unread) name = (unread === 1 ? words.unreadOne : words.unreadMany).replace("%(count)s", String(unread));
    launcher.setAttribute("aria-label", name);
    launcher.setAttribute("aria-expanded", String(open));
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = open || !unread;
  }

  function setOpen(value, restoreFocus) {
    if (value === open) return;
    open = value;
    panel.hidden = !open;
    wrapper.classList.toggle("is-open", open);
    if (open) {
      unread = 0;
      fitViewport();
      frame.focus();
      tell("open");
    } else {
      fitViewport();
      tell("close");
      if (restoreFocus) launcher.focus();
    }
    label();
    fire(open ? "open" : "close");
  }

  var pageOverflow = null;

  function fitViewport() {
    // On phones the panel is the whole screen; follow the visible part when the keyboard opens,
    // and keep the page underneath from scrolling instead of the chat.
    var viewport = window.visualViewport;
    var fullScreen = open && window.matchMedia(SMALL).matches;
    var root = document.documentElement;
    if (fullScreen && pageOverflow === null) {
      pageOverflow = root.style.overflow;
      root.style.overflow = "hidden";
    } else if (!fullScreen && pageOverflow !== null) {
      root.style.overflow = pageOverflow;
      pageOverflow = null;
    }
    if (!fullScreen || !viewport) {
      panel.style.removeProperty("height");
      panel.style.removeProperty("top");
      return;
    }
    panel.style.setProperty("height", viewport.height + "px");
    panel.style.setProperty("top", viewport.offsetTop + "px");
  }

  launcher.addEventListener("click", function () { setOpen(!open, true); });
  shadow.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && open) setOpen(false, true);
  });
  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", fitViewport);
    window.visualViewport.addEventListener("scroll", fitViewport);
  }
  window.addEventListener("resize", fitViewport);

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== server) return;
    var data = event.data || {};
    if (data.chat !== "v1") return;
    if (data.type === "ready") {
      if (data.accent) host.style.setProperty("--cw-accent", data.accent);
      if (data.onAccent) host.style.setProperty("--cw-on-accent", data.onAccent);
      if (data.ink) host.style.setProperty("--cw-ink", data.ink);
      wrapper.classList.toggle("left", data.position === "left");
      var labels = data.labels && typeof data.labels === "object" ? data.labels : {};
      for (var key in words) if (typeof labels[key] === "string" && labels[key]) words[key] = labels[key];
      var title = typeof labels.title === "string" && labels.title ? labels.title : "Chat with " + (data.name || "us");
      panel.setAttribute("aria-label", title);
      frame.title = title;
      label();
      launcher.hidden = false;
      if (open) tell("open"); // a frame reloaded by identify() while the panel was open
    } else if (data.type === "message") {
      fire("message", { seq: data.seq, sender: data.sender, text: data.text });
    } else if (data.type === "close") {
      setOpen(false, true);
    } else if (data.type === "unread") {
      unread = open ? 0 : Math.max(0, Number(data.count) || 0);
      label();
    } else if (data.type === "storage-request") {
      tell("storage", { items: savedItems() });
    } else if (data.type === "persist") {
      persist(data.key, data.value);
    } else if (data.type === "refused") {
      launcher.hidden = true;
      setOpen(false, false);
      console.error("Chat widget: " + (data.detail || "refused by the chat server."));
    }
  });

  widgets[site] = {
    open: function () { setOpen(true, false); },
    close: function () { setOpen(false, false); },
    // identify({id, hash, name?, email?}): the customer signed in (or null: signed out); the
    // chat reconnects as them and shows their conversation.
    identify: function (user) {
      identity = {};
      if (user && user.id && user.hash) {
        identity.user_id = String(user.id);
        identity.user_hash = String(user.hash);
        if (user.name) identity.user_name = String(user.name);
        if (user.email) identity.user_email = String(user.email);
      }
      loads += 1;
      frame.src = frameSrc();
    },
    // on("message" | "open" | "close", listener); "message" gets {seq, sender, text}.
    on: function (name, listener) {
      if (!listeners[name]) throw new Error("Chat widget: no event " + name + "; use message, open or close");
      listeners[name].push(listener);
    },
  };
  window.ChatWidget = window.ChatWidget || widgets[site];

  function mount() { document.body.appendChild(host); }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
