"""Textual terminal UI; talks to services only, never to adapters."""
