"""The small HTML subset allowed in curated answers, sanitized on the server before it is sent.

Answers are written by staff in the admin, but an answer is still untrusted markup by the time
it reaches a customer's browser (a compromised or careless admin account, a pasted snippet), so
only a fixed set of inline tags survives and every link opens in a new tab without a referrer.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3

ALLOWED_TAGS = {"a", "b", "strong", "i", "em", "br", "p", "ul", "ol", "li"}
LINK_REL = "noopener noreferrer nofollow"


# Curated answers are few and repeat on every message: clean each text once per process.
@lru_cache(maxsize=2048)
def sanitize_answer(markup: str) -> str:
    """The answer with only the allowed tags; links get rel and target=_blank, scripts vanish."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        # Content of these is dropped, not kept as text ("<script>x</script>" must not show "x").
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


@lru_cache(maxsize=2048)
def answer_text(markup: str) -> str:
    """The answer as plain text (tags dropped, entities decoded) for the message's `text`."""
    spaced = markup.replace("<br>", "\n").replace("<br/>", "\n").replace("</p>", "</p>\n").replace("</li>", "</li>\n")
    return html.unescape(nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"})).strip()
