// Customer-facing text in the site's language. The chat pages load Django's JavaScript catalog for
// the site's language (/widget/i18n/<language>.js, a classic script, so it runs before any module);
// without it the English source text stands. `make messages` collects the strings marked here.

const catalog = globalThis.django;

export function gettext(text) {
  return catalog && typeof catalog.gettext === "function" ? catalog.gettext(text) : text;
}

export function format(text, values) {
  // Python-style named placeholders, as the catalog's translators see them: "%(name)s".
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}
