// A curated answer's `html`, rebuilt from an allowlist. The server sanitized it already; doing it
// again here means a server bug still cannot inject a script or an event handler.

const ALLOWED_TAGS = new Set(["A", "B", "STRONG", "I", "EM", "BR", "P", "UL", "OL", "LI"]);
const SAFE_HREF = /^(https?:|mailto:|tel:)/i;

export function safeFragment(html) {
  // <template> content is inert: nothing in it loads or runs while we copy what is allowed.
  const template = document.createElement("template");
  template.innerHTML = html;
  const copy = (source) => {
    const out = document.createDocumentFragment();
    for (const node of source.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        out.append(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (ALLOWED_TAGS.has(node.tagName)) {
          const clean = document.createElement(node.tagName.toLowerCase());
          const href = node.tagName === "A" ? node.getAttribute("href") : null;
          if (href && SAFE_HREF.test(href.trim())) {
            clean.setAttribute("href", href.trim());
            clean.setAttribute("target", "_blank");
            clean.setAttribute("rel", "noopener noreferrer nofollow");
          }
          clean.append(copy(node));
          out.append(clean);
        } else if (node.tagName !== "SCRIPT" && node.tagName !== "STYLE") {
          out.append(copy(node));
        }
      }
    }
    return out;
  };
  return copy(template.content);
}
