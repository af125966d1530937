"""Typed, validated parameter sets whose science-relevant values define a product version."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from virtualobserver.domain.errors import ConfigError

__all__ = ["Param", "Parameters", "version_hash"]


@dataclass(frozen=True)
class Param:
    """Specification of one parameter.

    Parameters
    ----------
    default : Any
        Value used when the configuration does not set the parameter.
    kind : type
        Expected type: ``int``, ``float``, ``str``, ``bool`` or ``list``.
    description : str
        One sentence for the configuration reference and the TUI.
    minimum, maximum : float, optional
        Inclusive bounds for numbers.
    choices : tuple, optional
        Allowed values (for strings, or for every item of a list).
    item_kind : type, optional
        Type of the items of a list parameter.
    science : bool
        Whether the value changes scientific products, and so enters the version hash.
    """

    default: Any
    kind: type
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None
    item_kind: type | None = None
    science: bool = True

    def coerce(self, value: Any, *, key: str, source: str | None) -> Any:
        """Return ``value`` checked against this specification.

        Parameters
        ----------
        value : Any
            Value as read from YAML or given as an explicit argument.
        key : str
            Dotted name used in error messages.
        source : str, optional
            File the value came from, used in error messages.

        Returns
        -------
        Any
            The value, with ints promoted to float where a float is expected.

        Raises
        ------
        ConfigError
            If the type, range or choice is wrong.
        """
        value = _coerce_type(value, self.kind, key=key, source=source)
        if self.kind is list:
            items = [
                _coerce_type(v, self.item_kind, key=f"{key}[{i}]", source=source)
                if self.item_kind
                else v
                for i, v in enumerate(value)
            ]
            if self.choices is not None:
                for item in items:
                    _check_choice(item, self.choices, key=key, source=source)
            return items
        if self.choices is not None:
            _check_choice(value, self.choices, key=key, source=source)
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{value!r} is below the minimum {self.minimum}", key=key, source=source)
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{value!r} is above the maximum {self.maximum}", key=key, source=source)
        return value


def _coerce_type(value: Any, kind: type, *, key: str, source: str | None) -> Any:
    # bool is a subclass of int: refuse `threshold: true` rather than reading it as 1.
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond every double (`1e400` is read as inf, `10**400` is not)
            number = math.inf
        # NaN passes every range check (each comparison is False) and inf is no setting of anything:
        # both would run and find nothing, so they are refused here, for every float key at once.
        if not math.isfinite(number):
            raise ConfigError(f"expected a finite number, got {value!r}", key=key, source=source)
        return number
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, bool, list) and isinstance(value, kind):
        return list(value) if kind is list else value
    raise ConfigError(
        f"expected {kind.__name__}, got {type(value).__name__} {value!r}", key=key, source=source
    )


def _check_choice(value: Any, choices: tuple, *, key: str, source: str | None) -> None:
    if value not in choices:
        raise ConfigError(
            f"{value!r} is not one of {', '.join(map(str, choices))}", key=key, source=source
        )


def version_hash(*parts: Mapping[str, Any] | str) -> str:
    """Return a short, stable hash of JSON-serialisable parts.

    Parameters
    ----------
    *parts : mapping or str
        Values that define a version; order matters.

    Returns
    -------
    str
        Twelve hexadecimal characters.

    Examples
    --------
    >>> version_hash({"a": 1}) == version_hash({"a": 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Parameters:
    """A validated set of named parameters.

    Subclasses declare ``SPECS``, a mapping of name to :class:`Param`. Every
    parameter is an attribute; unknown names and wrong types are errors that
    name the key and the file, never silently accepted.

    Parameters
    ----------
    source : str, optional
        File the values came from, for error messages.
    prefix : str
        Dotted position of this block in the configuration, for error messages.
    **values
        Values that override the defaults.
    """

    SPECS: ClassVar[dict[str, Param]] = {}

    def __init__(self, *, source: str | None = None, prefix: str = "", **values: Any):
        self._values: dict[str, Any] = {}
        for name, spec in self.SPECS.items():
            self._values[name] = spec.default
        for name, value in values.items():
            key = f"{prefix}.{name}" if prefix else name
            spec = self.SPECS.get(name)
            if spec is None:
                allowed = ", ".join(sorted(self.SPECS)) or "none"
                raise ConfigError(f"unknown key (allowed here: {allowed})", key=key, source=source)
            self._values[name] = spec.coerce(value, key=key, source=source)
        self.check(source=source, prefix=prefix)

    def check(self, *, source: str | None, prefix: str) -> None:
        """Check rules between values, or what a value makes, beyond each value's own spec (none here).

        Called once the values are coerced, so that a block that would fail only when it is used
        (a histogram binning of a billion bins) is refused with the configuration, before any run.

        Parameters
        ----------
        source : str, optional
            File the values came from, for error messages.
        prefix : str
            Dotted position of this block in the configuration, for error messages.

        Raises
        ------
        ConfigError
            Naming the key at fault.
        """

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None, *, source: str | None = None, prefix: str = ""
    ) -> "Parameters":
        """Build parameters from a mapping read from YAML.

        Parameters
        ----------
        mapping : mapping or None
            Names and values; ``None`` means all defaults.
        source : str, optional
            File the mapping came from.
        prefix : str
            Dotted position of the block, for error messages.

        Returns
        -------
        Parameters
            A validated instance of ``cls``.

        Raises
        ------
        ConfigError
            If the block is not a mapping or a key is unknown or invalid.
        """
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, Mapping):
            raise ConfigError(
                f"expected a mapping, got {type(mapping).__name__}", key=prefix or None, source=source
            )
        return cls(source=source, prefix=prefix, **dict(mapping))

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no parameter {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._values == other._values  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({inner})"

    def as_dict(self) -> dict[str, Any]:
        """Return every parameter value by name."""
        return dict(self._values)

    def science_dict(self) -> dict[str, Any]:
        """Return only the values that change scientific products."""
        return {k: v for k, v in self._values.items() if self.SPECS[k].science}

    def version(self) -> str:
        """Return the hash of the science-relevant values."""
        return version_hash(type(self).__name__, self.science_dict())

    def section_defaults(self) -> dict[str, dict[str, Any]]:
        """Return defaults of other parameter blocks that follow from these values (none here).

        A survey's ``download`` block overrides this to give the survey's own defaults, e.g. its
        filters as the histograms' categories or its detrending window; the project's general blocks,
        the survey's blocks and explicit overrides all take precedence over them.

        Returns
        -------
        dict of str to dict
            Section name (``analysis``, ``histograms``, ...) to default values.
        """
        return {}

    def replace(self, **changes: Any) -> "Parameters":
        """Return a copy with some values changed (validated like the originals)."""
        return type(self)(**{**self._values, **changes})

    @classmethod
    def reference(cls) -> list[tuple[str, Param]]:
        """Return (name, spec) pairs for documentation, in declaration order."""
        return list(cls.SPECS.items())
