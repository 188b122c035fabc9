"""Tracker connectors: each turns a selector into a server-side count or normalized work items."""
