"""The Bot API spec as data, and a small validator for values against its types.

`api.min.json` (Bot API 10.1) comes from PaulSonOfLars/telegram-bot-api-spec, commit 160fd995.
Each method lists its fields (name, types, required); each type lists its fields, or the
subtypes it is a union of (ChatMember, BotCommandScope, MessageOrigin, ...).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("api.min.json")

# Subtypes are told apart by a constant discriminator ("status" for ChatMember*, "type" for
# BotCommandScope*/MessageOrigin*, ...); the spec only says so in prose, e.g. 'always "member"'.
_DISCRIMINATOR_FIELDS = ("type", "status", "source")
_CONSTANT_RE = re.compile(r'(?:always|must be)\s+["“]?([a-z_]+)["”]?\.?$')

PRIMITIVES = ("Integer", "Float", "Boolean", "True", "String", "InputFile")


@dataclass(frozen=True)
class UploadedFile:
    """A file that arrived as a multipart part; valid wherever the spec says InputFile."""

    part: str  # name of the multipart part it arrived in
    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"

    @property
    def size(self) -> int:
        return len(self.content)


class Spec:
    """Lookup of methods and types plus recursive checking of values against spec types."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "")
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        # Telegram treats method names case-insensitively ("sendmessage" works).
        self._method_by_lower = {name.lower(): name for name in self.methods}
        self._constants: dict[tuple[str, str], str] = {}
        for tname, tdef in self.types.items():
            for f in tdef.get("fields", []):
                if f["name"] in _DISCRIMINATOR_FIELDS and f["required"]:
                    m = _CONSTANT_RE.search(f["description"].strip())
                    if m:
                        self._constants[(tname, f["name"])] = m.group(1)

    # -- lookups -------------------------------------------------------------------------------
    def canonical_method(self, name: str) -> str | None:
        """The spec's spelling of a method name, or None if there is no such method."""
        return self._method_by_lower.get(name.lower())

    def method_fields(self, method: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.methods[method].get("fields", [])}

    def method_returns(self, method: str) -> list[str]:
        return list(self.methods[method].get("returns", []))

    def type_fields(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.types[type_name].get("fields", [])}

    def required_fields(self, type_name: str) -> list[str]:
        return [f["name"] for f in self.types[type_name].get("fields", []) if f["required"]]

    def is_structured(self, type_expr: str) -> bool:
        """True for arrays and object types (sent JSON-encoded in form requests)."""
        return type_expr.startswith("Array of ") or (
            type_expr in self.types and type_expr not in PRIMITIVES
        )

    # -- checking ------------------------------------------------------------------------------
    def check(self, value: Any, type_exprs: list[str] | str, path: str = "$") -> list[str]:
        """Errors found checking `value` against any of `type_exprs` ([] means valid).

        Objects must carry every required field and no field their type doesn't have; for
        unions the closest alternative's errors are reported.
        """
        exprs = [type_exprs] if isinstance(type_exprs, str) else list(type_exprs)
        best: list[str] | None = None
        for expr in exprs:
            errors = self._check_one(value, expr, path)
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return best or []

    def _check_one(self, value: Any, expr: str, path: str) -> list[str]:
        if expr.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{path}: expected {expr}, got {_kind(value)}"]
            inner = expr[len("Array of ") :]
            errors: list[str] = []
            for i, item in enumerate(value):
                errors += self._check_one(item, inner, f"{path}[{i}]")
            return errors
        if expr in PRIMITIVES:
            return (
                []
                if _primitive_ok(value, expr)
                else [f"{path}: expected {expr}, got {_kind(value)} {value!r:.60}"]
            )
        tdef = self.types.get(expr)
        if tdef is None:
            return [f"{path}: unknown spec type {expr!r}"]
        if tdef.get("subtypes"):
            return self.check(value, tdef["subtypes"], path)
        if not isinstance(value, dict):
            return [f"{path}: expected {expr} object, got {_kind(value)}"]
        fields = self.type_fields(expr)
        errors = []
        for name, f in fields.items():
            if f["required"] and name not in value:
                errors.append(f"{path}: {expr} lacks required field {name!r}")
        for key, item in value.items():
            f = fields.get(key)
            if f is None:
                errors.append(f"{path}: {expr} has no field {key!r}")
                continue
            if item is None:
                # Telegram omits absent optional fields; it never sends null.
                errors.append(f"{path}.{key}: null is not a valid {'|'.join(f['types'])}")
                continue
            errors += self.check(item, f["types"], f"{path}.{key}")
            const = self._constants.get((expr, key))
            if const is not None and item != const:
                errors.append(f"{path}.{key}: {expr}.{key} must be {const!r}, got {item!r}")
        return errors


def _primitive_ok(value: Any, expr: str) -> bool:
    if expr == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expr == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expr == "Boolean":
        return isinstance(value, bool)
    if expr == "True":
        return value is True
    if expr == "String":
        return isinstance(value, str)
    # InputFile: an uploaded part, or (nested in JSON) an attach://<name> reference.
    return isinstance(value, UploadedFile | str)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@functools.cache
def load_spec(path: str | None = None) -> Spec:
    """The parsed spec (cached; it is ~650 kB)."""
    with open(path or SPEC_PATH, encoding="utf-8") as fh:
        return Spec(json.load(fh))
