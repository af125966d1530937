"""Ports of provenance: where version manifests are kept, and fingerprints of input files."""

from __future__ import annotations

import abc
from typing import Any, Mapping

__all__ = ["ManifestStore"]


class ManifestStore(abc.ABC):
    """Version manifests of projects: one folder per (project, version), never rewritten.

    A manifest records how a version's products were made (the full resolved
    configuration, the version chain, the code version and the catalog's
    hash). The first manifest saved for a version is its own; a later one with
    other content (a new catalog file, another batch size, a newer package
    release with the same science code) is kept beside it and never replaces
    it, so the record of what made existing products cannot be lost.
    """

    @abc.abstractmethod
    def save(self, project: str, version: str, manifest: Mapping[str, Any]) -> str:
        """Keep ``manifest`` for ``version`` unless a manifest with the same content is already there.

        Parameters
        ----------
        project : str
            Project name.
        version : str
            Version the manifest describes (a safe name: hexadecimal digits).
        manifest : mapping
            Plain data (str, int, float, bool, None, lists and mappings of them). Its ``created``
            entry is not content: two manifests that differ only there are the same.

        Returns
        -------
        str
            The stored file (relative to the store's root) that holds this content.
        """

    @abc.abstractmethod
    def list(self, project: str) -> list[str]:
        """Return the versions of ``project`` that have a manifest, sorted.

        Parameters
        ----------
        project : str
            Project name.

        Returns
        -------
        list of str
            Version names.
        """

    @abc.abstractmethod
    def load(self, project: str, version: str) -> list[dict]:
        """Return every manifest kept for ``version``, the version's own (first saved) first.

        Parameters
        ----------
        project : str
            Project name.
        version : str
            Version name.

        Returns
        -------
        list of dict
            Empty if the version has no manifest.
        """

    @abc.abstractmethod
    def fingerprint(self, path: str) -> str:
        """Return the SHA-256 of a file's bytes (hexadecimal), e.g. of a catalog.

        Parameters
        ----------
        path : str
            The file.

        Returns
        -------
        str
            64 hexadecimal characters.

        Raises
        ------
        DataError
            If the file cannot be read.
        """
