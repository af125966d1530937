"""The TUI's screens, one per module; each is a mode of the app (keys 1-6)."""
