"""Exception hierarchy of virtualobserver; every error names the file, row or field at fault."""

__all__ = [
    "VOError",
    "ConfigError",
    "CatalogError",
    "SelectionError",
    "SurveyError",
    "TransientSurveyError",
    "DataError",
    "ProjectBusyError",
    "RunCancelled",
    "DatabaseConnectionLost",
    "ClusterMismatchError",
]


class VOError(Exception):
    """Base class of every error the tool raises on purpose."""


class ConfigError(VOError):
    """A configuration value is unknown, mistyped or out of range.

    The message names the key (dotted path) and the file it came from.
    """

    def __init__(self, message, *, key=None, source=None):
        self.key = key
        self.source = source
        where = f"{source}: " if source else ""
        what = f"'{key}': " if key else ""
        super().__init__(f"{where}{what}{message}")


class CatalogError(VOError):
    """A catalog file is missing or has a malformed row or column."""

    def __init__(self, message, *, path=None, row=None, field=None):
        self.path = path
        self.row = row
        self.field = field
        parts = [str(path)] if path else []
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field '{field}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SelectionError(VOError):
    """A catalog selection expression cannot be parsed or evaluated."""


class SurveyError(VOError):
    """A survey could not deliver data for a target (permanent for this run)."""


class TransientSurveyError(SurveyError):
    """A survey failure worth retrying later (timeout, 5xx, 429)."""


class DataError(VOError):
    """Stored or downloaded data is inconsistent (wrong columns, lengths, types)."""


class ProjectBusyError(VOError):
    """Another process is running the same project right now."""


class RunCancelled(VOError):
    """The user cancelled a run; every batch committed before is kept."""


class DatabaseConnectionLost(VOError):
    """The database connection broke inside a transaction (server restarted, network cut); nothing was committed."""


class ClusterMismatchError(VOError):
    """A worker of a distributed run reaches another database or data folder than the client does."""
