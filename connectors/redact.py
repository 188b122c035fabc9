"""Take credentials out of text that may be shown, logged or stored.

Error bodies are not ours: a proxy or a tracker may echo the request, Authorization header
included. Basic auth sends base64(email:token), so removing the raw token is not enough.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

MASK = "***"
# `Authorization: Basic xyz`, `"authorization": "token xyz"`, also with escaped quotes.
_AUTHORIZATION = re.compile(
    r"(?i)(authorization\W{0,6}\s*(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]+"
)


def redact(message: str, secret: str | None, user: str | None = None) -> str:
    """`message` without `secret` in any form it travels in, nor any Authorization value."""
    message = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, message)
    if not secret:
        return message
    forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
    if user:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, MASK)
        stripped = form.rstrip("=")
        if stripped != form:
            message = message.replace(stripped, MASK)
    return message
