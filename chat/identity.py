"""Verified identity: the shop's page tells the chat which logged-in customer it is.

The shop's server computes `user_hash` = hex HMAC-SHA256 of the user id with the site's identity
secret; the widget passes id, hash, name and email when it connects. A matching hash makes the
visitor that user on this site (the same visitor on every device, so their conversations follow
them); a missing or wrong hash is ignored, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from chat.models import Site

MAX_ID = 255


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def user_hash(secret: str, user_id: str) -> str:
    """What the shop's server computes (docs/widget.md shows it in a few languages)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str = ""
    email: str = ""


def verify(site: Site, user_id: str | None, given_hash: str | None, name: str | None = None,
           email: str | None = None) -> Identity | None:
    """The identity these values prove for this site, or None (no secret set, no id, wrong hash)."""
    if not site.identity_secret or not user_id or not given_hash or len(user_id) > MAX_ID:
        return None
    if not hmac.compare_digest(user_hash(site.identity_secret, user_id), given_hash.strip().lower()):
        return None
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    return Identity(user_id, (name or "").strip()[:200], email[:254])
