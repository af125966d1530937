"""Saving triage labels from a screen: in a worker thread, in the order they were given."""

from __future__ import annotations

import threading

from virtualobserver.domain.errors import VOError
from virtualobserver.tui.messages import LabelSaved

__all__ = ["LabelWriter"]


class LabelWriter:
    """Writes a screen's labels through ``screen.project.label_detections`` off the UI thread.

    Each save posts :class:`LabelSaved` to the screen (with the error, if the service refused it). A label given
    while an earlier one of the same detection is still waiting replaces it: only the latest is written.

    Parameters
    ----------
    screen : textual.screen.Screen
        The screen whose project is written to and which receives the messages.
    """

    def __init__(self, screen):
        self.screen = screen
        self._lock = threading.Lock()
        self._latest: dict[int, int] = {}
        self._sequence = 0

    def save(self, detection_id: int, label: str | None) -> None:
        """Save ``label`` (None: clear it) for ``detection_id`` in a worker thread."""
        self._sequence += 1
        self._latest[detection_id] = sequence = self._sequence
        self.screen.run_worker(lambda: self._write(detection_id, label, sequence), thread=True,
                               exit_on_error=False, group="label")

    def _write(self, detection_id: int, label: str | None, sequence: int) -> None:
        # Labels are written in the order they were given: a later label of the same detection wins.
        with self._lock:
            if self._latest.get(detection_id) != sequence:
                return
            try:
                self.screen.project.label_detections({detection_id: label})
            except VOError as exc:
                self.screen.post_message(LabelSaved(detection_id, label, str(exc)))
                return
        self.screen.post_message(LabelSaved(detection_id, label))
