// The "leave your email" card, offered while a customer waits and no agent is online.

import { el } from "./dom.js";
import { format, gettext } from "./i18n.js";

export class EmailCard {
  // send(email) -> bool (the frame went out); transcript() asks for the chat by email.
  constructor({ id, send, transcript }) {
    this.id = id;
    this.send = send;
    this.transcript = transcript;
    this.node = el("form", { class: "chat-email", novalidate: true });
    this.node.hidden = true;
    this.node.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  get hidden() { return this.node.hidden; }

  hide() { this.node.hidden = true; }

  show() {
    const errorId = `${this.id}-error`;
    this.node.replaceChildren(
      el("p", { class: "chat-email-title" }, gettext("No one is available right now")),
      el("label", { for: this.id, class: "chat-email-label" }, gettext("Leave your email and we'll reply there.")),
      el("div", { class: "chat-email-row" },
        el("input", { id: this.id, type: "email", name: "email", autocomplete: "email", required: true,
          placeholder: "you@example.com", "aria-describedby": errorId }),
        el("button", { type: "submit", class: "chat-email-submit" }, gettext("Save email"))),
      el("p", { id: errorId, class: "chat-email-error", role: "alert" }));
    this.node.hidden = false;
  }

  submit() {
    const field = this.node.querySelector("input");
    const email = field.value.trim();
    if (!email) return this.error(gettext("Enter your email address."));
    if (!this.send(email)) return this.error(gettext("Not connected: try again in a moment."));
    return undefined;
  }

  error(detail) {
    const field = this.node.querySelector("input");
    if (!field) return;
    field.setAttribute("aria-invalid", "true");
    this.node.querySelector(".chat-email-error").textContent = detail;
    field.focus();
  }

  saved() {
    const address = this.node.querySelector("input")?.value.trim();
    const copy = el("button", { type: "button", class: "chat-email-transcript" }, gettext("Email me a copy of this chat"));
    copy.addEventListener("click", () => this.transcript());
    this.node.replaceChildren(el("p", { class: "chat-email-done", role: "status" },
      address ? format(gettext("Thanks! We'll reply to %(address)s."), { address }) : gettext("Thanks! We'll reply by email.")), copy);
    this.node.hidden = false;
  }

  transcriptQueued() {
    const copy = this.node.querySelector(".chat-email-transcript");
    if (copy) copy.replaceWith(el("p", { class: "chat-email-done", role: "status" }, gettext("A copy of this chat is on its way.")));
  }
}
