// The server's limits, as its welcome frame advertises them (docs/protocol.md, `limits`), and
// how a message measures against them.

// What the client assumes until the server says otherwise (the server's defaults).
export const DEFAULT_LIMITS = Object.freeze({ max_message_chars: 2000, max_frame_bytes: 16384, rate_per_minute: 30 });

export function readLimits(advertised) {
  // Positive integers only: a missing or malformed field keeps the default.
  const limits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS)) {
    const value = advertised?.[name];
    if (Number.isInteger(value) && value > 0) limits[name] = value;
  }
  return Object.freeze(limits);
}

export function measure(text, limits, frameFor) {
  // The message as the server will judge it: trimmed, its characters (code points, as Python
  // counts them) against max_message_chars, and the UTF-8 size of the frame that carries it
  // (frameFor(clean)) against max_frame_bytes.
  const clean = text.trim();
  const chars = [...clean].length;
  const bytes = new TextEncoder().encode(JSON.stringify(frameFor(clean))).length;
  const max = limits.max_message_chars;
  return { clean, chars, max, fits: chars <= max && bytes <= limits.max_frame_bytes };
}
