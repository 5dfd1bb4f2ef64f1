"""The one reader of YAML specs (sweeps, studies, submitted jobs) and of ``--set KEY=VALUE`` values.

It reads numbers the way researchers write them (YAML 1.2 and Python forms: ``1e-4``, ``1E-3``, ``5e3``, ``.5``,
``+1.0``; PyYAML's YAML 1.1 rules would leave ``1e-4`` a string), refuses a mapping that holds the same key twice
(YAML would keep the last value silently, so a typo'd spec would run) and a file that is not UTF-8 text, and turns
every problem into one ``UsageError`` line that names the file, the line where known, and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from model.errors import UsageError

# Floats that YAML 1.1 misses: an exponent without a dot (1e-4, 5E3), a leading dot with a sign (-.5, +.5).
_FLOAT = re.compile(r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
                       |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$""", re.X)


class DuplicateKey(yaml.YAMLError):
    """A YAML mapping gives ``key`` twice; ``line`` is the 1-based line of the second one."""

    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"line {line}: key {key!r} is given twice; keep one")
        self.key, self.line = key, line


class SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 floats and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping as ``yaml.SafeLoader`` builds it, but a key written twice in it raises DuplicateKey; a key
        that overrides one brought in by a merge (``<<: *anchor``) is allowed, as YAML means it to be."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base class raises its own error for it
            if key in seen:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def parse_value(text: str) -> Any:
    """One value as a spec would hold it: ``"1e-4"`` -> 0.0001, ``"[1, 2]"`` -> [1, 2], ``"abc"`` -> "abc"."""
    try:
        return yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader is a SafeLoader
    except yaml.YAMLError:
        return text


def integer(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (7, 7.0, 5e3), else None; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value in (
            float("inf"), float("-inf")) or int(value) != value:
        return None
    return int(value)


def integer_field(raw: dict[str, Any], key: str, default: int | None, minimum: int, prefix: str = "",
                  required: bool = False) -> int | None:
    """The whole number at ``raw[key]`` (``default`` when absent), at least ``minimum``; ``UsageError`` naming
    ``prefix + key`` otherwise. Absent without a default: None, or an error when ``required``."""
    value = raw.get(key, default)
    if value is None:
        if required:
            raise UsageError(f"{prefix}{key}: required; give an integer >= {minimum}")
        return None
    number = integer(value)
    if number is None or number < minimum:
        raise UsageError(f"{prefix}{key}: expected an integer >= {minimum}, got {value!r}")
    return number


def load_yaml(path: str | Path, what: str = "spec", hint: str = "") -> dict[str, Any]:
    """The top-level mapping of a YAML file; a missing or unreadable file, bytes that are not UTF-8, malformed
    YAML, a duplicate key or a top level that is not a mapping raise ``UsageError`` naming the file.

    ``what`` names the kind of file in messages ("sweep spec"); ``hint`` says where examples are ("see sweeps/").
    """
    path = Path(path)
    where = f" ({hint})" if hint else ""
    if not path.is_file():
        raise UsageError(f"{path}: {what} file not found; give the path of a {what} YAML{where}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text (byte {error.start}); save the {what} as UTF-8") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror}); check the path and its permissions") from None
    try:
        raw = yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader is a SafeLoader
    except DuplicateKey as error:
        raise UsageError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{path}: malformed YAML{at}; fix the syntax") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a {what} must be a YAML mapping of keys at the top level{where}")
    return raw
