// The composer, shared by the customer chat and the agent console: a textarea in a form, Enter
// to send (Shift+Enter for a new line), the server's message limit, and "I am typing" signals.
//
// The limit is enforced without losing text: no `maxlength` (a paste past it would be cut
// silently); a counter appears near the limit, and a message over it stays in the box with a
// spoken explanation instead of being sent and refused.

const TYPING_IDLE_MS = 3000;
const COUNT_FROM = 0.8; // show the counter from this share of the limit

export class Composer {
  // measure(text) -> {clean, chars, max, fits}; send(clean) -> bool (taken: clear the box);
  // typing(on) -> bool (a signal was sent); autosizeMax: grow the textarea up to this many px (0: never).
  constructor({ form, input, counter, measure, send, typing = () => false, autosizeMax = 0 }) {
    this.form = form;
    this.input = input;
    this.measure = measure;
    this.send = send;
    this.typing = typing;
    this.autosizeMax = autosizeMax;
    this.typingSentAt = 0;
    this.typingTimer = null;
    this.over = false;

    // The count is read with the field (aria-describedby); only going over the limit is announced.
    this.counter = counter;
    counter.hidden = true;
    this.count = document.createElement("span");
    this.count.id = `${input.id}-count`; // the input needs an id
    this.count.className = "composer-count";
    this.alert = document.createElement("span");
    this.alert.className = "composer-alert";
    this.alert.setAttribute("role", "alert");
    counter.replaceChildren(this.count, this.alert);
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), this.count.id].filter(Boolean).join(" "));

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      this.update();
      this.signalTyping(Boolean(input.value.trim()));
    });
  }

  get value() { return this.input.value; }

  setValue(text) {
    this.input.value = text;
    this.update();
  }

  submit() {
    const measured = this.measure(this.input.value);
    if (!measured.clean) return;
    if (!measured.fits) {
      this.update();
      this.say(this.tooLong(measured));
      this.input.focus();
      return;
    }
    this.signalTyping(false);
    if (this.send(measured.clean)) this.setValue("");
    this.input.focus();
  }

  update() {
    // Called on every edit and when the server's limits arrive.
    const measured = this.measure(this.input.value);
    const over = !measured.fits;
    this.counter.hidden = !over && measured.chars < measured.max * COUNT_FROM;
    this.counter.classList.toggle("is-over", over);
    this.count.textContent = `${measured.chars} / ${measured.max}`;
    if (over) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
    if (over && !this.over) this.say(this.tooLong(measured));
    if (!over) this.say("");
    this.over = over;
    this.autosize();
  }

  tooLong(measured) {
    if (measured.chars > measured.max) return `Too long to send: messages are limited to ${measured.max} characters.`;
    return "Too long to send: shorten this message.";
  }

  say(text) {
    // The same text again is announced again only if the region was emptied in between.
    if (text && this.alert.textContent === text) {
      this.alert.textContent = "";
      requestAnimationFrame(() => { this.alert.textContent = text; });
      return;
    }
    this.alert.textContent = text;
  }

  autosize() {
    if (!this.autosizeMax) return;
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, this.autosizeMax)}px`;
  }

  signalTyping(on) {
    // At most one "typing" every few seconds while keys are pressed, one "stopped" after a pause.
    clearTimeout(this.typingTimer);
    if (on) {
      if (Date.now() - this.typingSentAt > TYPING_IDLE_MS && this.typing(true)) this.typingSentAt = Date.now();
      this.typingTimer = setTimeout(() => this.signalTyping(false), TYPING_IDLE_MS);
    } else if (this.typingSentAt) {
      this.typingSentAt = 0;
      this.typing(false);
    }
  }
}
