// What the customer chat says about itself: the status line under the site's name (who answers)
// and the banner (connection trouble, refusals, passing warnings), a polite live region.

import { el } from "./dom.js";
import { format, gettext } from "./i18n.js";

const STATUS_TEXT = {
  bot: gettext("Replies instantly"),
  waiting: gettext("Waiting for an agent…"),
  offline: gettext("The team will reply by email"),
  human: gettext("You're chatting with a person"),
  closed: gettext("This conversation is closed"),
};
const OUTAGE_GRACE_MS = 1500; // a quick reconnect should not flash a banner

export class Notices {
  constructor() {
    this.status = "bot";
    this.agentName = "";
    this.statusLine = el("p", { class: "chat-status" }, STATUS_TEXT.bot);
    this.banner = el("div", { class: "chat-banner", role: "status" });
    this.banner.hidden = true;
    this.timers = {};
  }

  setStatus(status) {
    // False for a status this client does not know (a newer server): nothing changes.
    if (!STATUS_TEXT[status]) return false;
    this.status = status;
    this.statusLine.textContent = status === "human" && this.agentName
      ? format(gettext("You're chatting with %(name)s"), { name: this.agentName }) : STATUS_TEXT[status];
    return true;
  }

  setAgent(name) {
    this.agentName = name;
    this.setStatus(this.status);
  }

  connection(state, isOpen) {
    // The socket's state; isOpen() tells whether it is open again when the grace period ends.
    clearTimeout(this.timers.outage);
    if (state === "open") {
      this.show(null);
    } else if (state === "reconnecting") {
      this.timers.outage = setTimeout(() => {
        if (!isOpen()) this.show(gettext("Connection lost. Reconnecting…"), "warning");
      }, OUTAGE_GRACE_MS);
    }
  }

  show(text, tone = "info", hideAfter = 0) {
    clearTimeout(this.timers.hide);
    this.banner.hidden = !text;
    this.banner.textContent = text || "";
    this.banner.dataset.tone = tone;
    if (text && hideAfter) this.timers.hide = setTimeout(() => this.show(null), hideAfter);
  }
}
