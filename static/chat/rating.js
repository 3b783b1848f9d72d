// The end-of-chat rating card (1-5 and an optional comment), and the follow-up a thumbs down
// gets: talk to a person, or say what was missing (sent as a message, which the bot answers
// again and the review queue reads).

import { el } from "./dom.js";
import { format, gettext } from "./i18n.js";

const SCORES = [[1, gettext("Very poor")], [2, gettext("Poor")], [3, gettext("OK")], [4, gettext("Good")], [5, gettext("Excellent")]];

export class RatingCard {
  // send({score, comment}) -> bool (the frame went out); done() after a rating or "Not now".
  constructor({ id, send, done = () => {} }) {
    this.id = id;
    this.send = send;
    this.done = done;
    this.score = 0;
    this.node = el("form", { class: "chat-rating", novalidate: true, "aria-labelledby": `${id}-title` });
    this.node.hidden = true;
    this.node.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  get hidden() { return this.node.hidden; }

  hide() { this.node.hidden = true; }

  show() {
    this.score = 0;
    const stars = el("div", { class: "chat-rating-scores", role: "radiogroup", "aria-label": "Your rating from 1 to 5" },
      SCORES.map(([score, label]) => el("button", {
        type: "button", class: "chat-rating-score", role: "radio", "aria-checked": "false",
        "aria-label": format(gettext("%(score)s of 5: %(label)s"), { score, label }), title: label, "data-score": String(score),
        onclick: () => this.choose(score),
      }, "★")));
    this.node.replaceChildren(
      el("p", { id: `${this.id}-title`, class: "chat-rating-title" }, gettext("How was this chat?")),
      stars,
      el("label", { for: `${this.id}-comment`, class: "chat-rating-label" }, "Anything to add? (optional)"),
      el("textarea", { id: `${this.id}-comment`, class: "chat-rating-comment", rows: "2", maxlength: "1000" }),
      el("div", { class: "chat-rating-row" },
        el("button", { type: "submit", class: "chat-rating-submit" }, gettext("Send rating")),
        el("button", { type: "button", class: "chat-rating-skip", onclick: () => this.skip() }, gettext("Not now"))),
      el("p", { class: "chat-rating-error", role: "alert" }));
    this.node.hidden = false;
  }

  choose(score) {
    this.score = score;
    for (const button of this.node.querySelectorAll(".chat-rating-score")) {
      button.setAttribute("aria-checked", Number(button.dataset.score) <= score ? "true" : "false");
    }
  }

  submit() {
    const error = this.node.querySelector(".chat-rating-error");
    if (!this.score) { error.textContent = gettext("Pick from 1 to 5 stars."); return; }
    const comment = this.node.querySelector("textarea").value.trim();
    if (!this.send({ score: this.score, comment })) error.textContent = gettext("Not connected: try again in a moment.");
  }

  skip() {
    this.hide();
    this.done();
  }

  saved() {
    this.node.replaceChildren(el("p", { class: "chat-rating-done", role: "status" }, gettext("Thanks for your rating!")));
    this.node.hidden = false;
    this.done();
  }
}

// Under a bot answer that got a thumbs down.
export function notHelpfulCard({ askForPerson, tellUs }) {
  const field = el("input", { class: "chat-nothelpful-input", "aria-label": gettext("What were you looking for?"),
    placeholder: gettext("What were you looking for?"), maxlength: "500" });
  const form = el("form", { class: "chat-nothelpful-form" }, field,
    el("button", { type: "submit", class: "chat-nothelpful-send" }, gettext("Send")));
  form.hidden = true;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (field.value.trim() && tellUs(field.value.trim())) card.replaceChildren(
      el("p", { class: "chat-nothelpful-done", role: "status" }, gettext("Thanks: we'll use this to improve.")));
  });
  const card = el("div", { class: "chat-nothelpful", role: "group", "aria-label": gettext("Sorry that did not help") },
    el("p", { class: "chat-nothelpful-title" }, gettext("Sorry that didn't help.")),
    el("div", { class: "chat-nothelpful-row" },
      el("button", { type: "button", class: "chat-nothelpful-button", onclick: () => { askForPerson(); card.remove(); } },
        gettext("Talk to a person")),
      el("button", { type: "button", class: "chat-nothelpful-button", onclick: () => {
        form.hidden = false;
        field.focus();
      } }, gettext("Tell us what was missing"))),
    form);
  return card;
}
