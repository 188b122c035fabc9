"""What the store raises: messages safe to show a person (no traceback, no password)."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened, migrated or written; the message is safe to show."""


class RunLockedError(StoreError):
    """Another process holds the run lock (or the migration lock) past the wait."""
