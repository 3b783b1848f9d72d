// Where the customer chat keeps its state between page loads: one site's keys in localStorage.

export const STORAGE_VERSION = 1; // the protocol version, part of every key (see widget.js's KEY_PREFIX)

export function browserStorage() {
  // localStorage, or null where the browser denies it (a third-party frame with cookies blocked).
  try {
    const storage = globalThis.localStorage;
    storage.setItem("chat.probe", "1");
    storage.removeItem("chat.probe");
    return storage;
  } catch (_) {
    return null;
  }
}

export class Store {
  // One site's saved state; storage errors (private mode, quota) degrade to memory.
  constructor(site, storage) {
    this.prefix = `chat.v${STORAGE_VERSION}.${site}.`;
    this.storage = storage;
    this.memory = new Map();
  }

  get(name) {
    try {
      const value = this.storage.getItem(this.prefix + name);
      if (value !== null) return value;
    } catch (_) { /* storage blocked: fall through to memory */ }
    return this.memory.has(name) ? this.memory.get(name) : null;
  }

  set(name, value) {
    this.memory.set(name, value);
    try { this.storage.setItem(this.prefix + name, value); } catch (_) { /* memory only */ }
  }

  remove(name) {
    this.memory.delete(name);
    try { this.storage.removeItem(this.prefix + name); } catch (_) { /* memory only */ }
  }

  getJSON(name, fallback) {
    try { return JSON.parse(this.get(name)) ?? fallback; } catch (_) { return fallback; }
  }

  setJSON(name, value) { this.set(name, JSON.stringify(value)); }
}
