"""Load a project configuration from a YAML file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from virtualobserver.adapters.yaml_limits import BoundedLoader, safe_load
from virtualobserver.domain.config import ProjectConfig, build_config
from virtualobserver.domain.errors import ConfigError

__all__ = ["load_config", "parse_overrides"]


def load_config(
    path: str | Path,
    survey_parameters: Mapping[str, type],
    overrides: Mapping[str, Any] | None = None,
) -> ProjectConfig:
    """Read and validate a project YAML file.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file.
    survey_parameters : mapping
        Known surveys and their download parameter classes.
    overrides : mapping, optional
        Explicit values by dotted key; they win over the file.

    Returns
    -------
    ProjectConfig
        Validated configuration; relative catalog paths resolve against the file's folder.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or holds an invalid value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration: {exc}", source=str(path)) from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", source=str(path)) from None
    except RecursionError:  # a last guard: BoundedLoader refuses deep nesting and recursive aliases first
        raise ConfigError("not valid YAML: nested too deeply", source=str(path)) from None
    _refuse_credentials(document, str(path))
    _refuse_credentials({k: None for k in (overrides or {})}, "command line")
    return build_config(document, survey_parameters=survey_parameters, source=str(path),
                        base_dir=str(path.resolve().parent), overrides=overrides)


class _UniqueKeyLoader(BoundedLoader):
    """SafeLoader (with alias and depth limits) that refuses a key given twice in one mapping (plain YAML
    keeps the last, silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                continue  # complex keys: the base loader reports what is wrong with them
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"key {key!r} is given twice (first on line {seen[key] + 1}); remove one", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


#: Keys that would put a secret into a file that gets committed, shared or logged.
_SECRET_KEYS = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|cookie|credential)s?$", re.IGNORECASE)


def _refuse_credentials(document: Any, source: str, prefix: str = "") -> None:
    if not isinstance(document, Mapping):
        return
    for key, value in document.items():
        dotted = f"{prefix}{key}"
        if _SECRET_KEYS.search(str(key).rsplit(".", 1)[-1]):
            raise ConfigError("credentials never go in a project configuration; set VO_IRSA_USER and "
                              "VO_IRSA_PASSWORD, or put them in the file named by VO_CREDENTIALS "
                              "(default ~/.config/virtualobserver/credentials)", key=dotted, source=source)
        _refuse_credentials(value, source, f"{dotted}.")


def parse_overrides(assignments: list[str] | None) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings from the command line into overrides (values parsed as YAML).

    Parameters
    ----------
    assignments : list of str
        E.g. ``["observatories.analysis.threshold=4", "project.batch_size=50"]``.

    Returns
    -------
    dict
        Dotted key -> value.

    Raises
    ------
    ConfigError
        If an assignment has no ``=``.
    """
    overrides = {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", source="command line")
        try:
            overrides[key.strip()] = safe_load(value) if value.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"value of {key.strip()!r} is not valid YAML: {getattr(exc, 'problem', exc)}",
                              source="command line") from None
    return overrides
