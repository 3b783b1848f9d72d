// The site's accent colour, turned into colours that stay readable (WCAG contrast) on the page.

function luminance(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function darken(hex, amount) {
  const parts = [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) * (1 - amount)));
  return "#" + parts.map((c) => c.toString(16).padStart(2, "0")).join("");
}

export function palette(color) {
  // The site's accent, plus a text colour readable on it and a shade readable on white.
  const accent = /^#[0-9a-f]{6}$/i.test(color || "") ? color : "#2563eb";
  const onAccent = contrast(accent, "#ffffff") >= contrast(accent, "#111827") ? "#ffffff" : "#111827";
  let ink = accent;
  for (let step = 0.1; contrast(ink, "#ffffff") < 4.6 && step <= 1; step += 0.1) ink = darken(accent, step);
  // White text on a light accent fails contrast: darken the bubble instead of the text.
  let bubble = accent;
  if (onAccent !== "#ffffff") bubble = contrast(ink, "#ffffff") >= 4.6 ? ink : accent;
  const onBubble = contrast(bubble, "#ffffff") >= 4.5 ? "#ffffff" : "#111827";
  return { accent, onAccent, ink, bubble, onBubble };
}

export function applyPalette(node, color) {
  const colors = palette(color);
  node.style.setProperty("--chat-accent", colors.accent);
  node.style.setProperty("--chat-on-accent", colors.onAccent);
  node.style.setProperty("--chat-ink", colors.ink);
  node.style.setProperty("--chat-bubble", colors.bubble);
  node.style.setProperty("--chat-on-bubble", colors.onBubble);
  return colors;
}
