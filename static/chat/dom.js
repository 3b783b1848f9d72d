// DOM helpers shared by the customer chat and the agent console.

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  send: "M3.4 20.4 20.85 12.92a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z",
  close: "M18.3 5.71a1 1 0 0 0-1.41 0L12 10.59 7.11 5.7A1 1 0 0 0 5.7 7.11L10.59 12 5.7 16.89a1 1 0 1 0 1.41 1.41L12 13.41l4.89 4.89a1 1 0 0 0 1.41-1.41L13.41 12l4.89-4.89a1 1 0 0 0 0-1.4z",
  restart: "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.75 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z",
  person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-2.67 0-8 1.34-8 4v1a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-1c0-2.66-5.33-4-8-4z",
  up: "M2 20h2a1 1 0 0 0 1-1v-8a1 1 0 0 0-1-1H2v10zm19.83-7.12A2 2 0 0 0 22 12v-2a2 2 0 0 0-2-2h-5.5l.92-4.65a1 1 0 0 0-.27-.9L14.17 1.5 7.59 8.09A2 2 0 0 0 7 9.5V18a2 2 0 0 0 2 2h9a2 2 0 0 0 1.84-1.22l2-4.9z",
  down: "M22 4h-2a1 1 0 0 0-1 1v8a1 1 0 0 0 1 1h2V4zM2.17 11.12A2 2 0 0 0 2 12v2a2 2 0 0 0 2 2h5.5l-.92 4.65a1 1 0 0 0 .27.9l.98.95 6.58-6.59A2 2 0 0 0 17 14.5V6a2 2 0 0 0-2-2H6a2 2 0 0 0-1.84 1.22l-2 4.9z",
};

// el("div", {class: "x", onclick: f}, child, "text"): strings always become text nodes, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

export function iconButton(name, label, onclick, extra = {}) {
  return el("button", { type: "button", class: "chat-icon-button", "aria-label": label, title: label, onclick, ...extra },
    icon(name));
}

export function nearBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

export function scrollToEnd(scroller) {
  requestAnimationFrame(() => { scroller.scrollTop = scroller.scrollHeight; });
}
