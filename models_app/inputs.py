"""Input checks every edge shares: one strict JSON reader and ASCII-only numbers.

PostgreSQL's ``jsonb`` refuses what Python's ``json`` module accepts: non-finite numbers (``NaN``,
``Infinity``, and ``1e999``, which parses as infinity), NUL characters and lone surrogates (``"\\ud800"``)
in keys or strings. Deep nesting exhausts recursion in the parser itself. Each would be a 500 (or a value
stored differently from what was sent), so every JSON body and part is read by ``loads_strict`` and every
JSON-shaped value from elsewhere goes through ``check_json_value``; both raise ``InvalidInput`` naming the
path of the offending value (``metadata.parameters.lr``, ``tags[0].value``).

``str.isdigit`` and ``int`` accept digits of every script (Arabic-Indic ``"\\u0661"`` is 1, ``"\\u00b2"`` passes ``isdigit`` and then
crashes ``int``). Version numbers, ids, cursors, limits and page numbers are ``[0-9]+`` only:
``ascii_int`` is the one parser for them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput, JSONString

from models_app.exceptions import InvalidInput

# Far beyond any metadata, signature or MLflow payload; far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64
ASCII_DIGITS = re.compile(r"[0-9]+\Z")
# Longer than any number a database column holds; refused before ``int`` spends time on it.
MAX_DIGITS = 18
INT64_MAX = 2**63 - 1


class NotJSON(InvalidInput):
    """The text is not JSON at all (as opposed to JSON holding a value that is refused)."""


def is_ascii_int(text: Any) -> bool:
    """``text`` is a string of ASCII digits only (``[0-9]+``), short enough for a 64-bit column."""
    return isinstance(text, str) and len(text) <= MAX_DIGITS and ASCII_DIGITS.match(text) is not None


def ascii_int(text: Any, *, field: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``text`` as an int if it is ``[0-9]+`` within bounds; otherwise ``InvalidInput`` naming ``field``."""
    if not is_ascii_int(text):
        raise InvalidInput("Must be a whole number written with the digits 0-9.", field=field)
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidInput(f"Must be {bound}.", field=field)
    return number


def int_value(value: Any, *, field: str, minimum: int | None = None) -> int:
    """A JSON integer, or a string of ASCII digits with an optional leading '-' (protocols that send
    int64 as strings); never a bool, a float or digits of another script."""
    if isinstance(value, bool):
        raise InvalidInput("Must be an integer.", field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and is_ascii_int(value.removeprefix("-")):
        number = int(value)
    else:
        raise InvalidInput("Must be an integer written with the digits 0-9.", field=field)
    if minimum is not None and number < minimum:
        raise InvalidInput(f"Must be at least {minimum}.", field=field)
    if abs(number) > INT64_MAX:
        raise InvalidInput("Must fit in 64 bits.", field=field)
    return number


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    # A bad key is named escaped, so the message itself never carries a NUL or a lone surrogate.
    shown = key.encode("unicode_escape").decode("ascii") if _bad_text(key) else key
    return f"{path}.{shown}" if path else shown


def _bad_text(text: str) -> str | None:
    """Why PostgreSQL would refuse ``text`` inside JSON, or None."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must not contain lone surrogates (not valid Unicode)."
    return None


def check_json_value(value: Any, *, field: str, root: str | None = None) -> Any:
    """Refuse, naming the path, what a JSON column cannot store exactly; return ``value`` unchanged.

    Paths inside ``value`` start at ``field`` (``""``: at the top, ``lr`` rather than ``parameters.lr``);
    a refusal of the whole value names ``root`` (default ``field``). Iterative, so no depth crashes it;
    the depth limit still applies.
    """
    whole = field if root is None else root
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, at, depth = stack.pop()
        path = at or whole
        if depth > MAX_JSON_DEPTH:
            raise InvalidInput(f"Nested deeper than {MAX_JSON_DEPTH} levels.", field=path)
        if isinstance(item, str):
            problem = _bad_text(item)
            if problem:
                raise InvalidInput(problem, field=path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput("Must be a finite number (not NaN or Infinity).", field=path)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and _bad_text(key):
                    raise InvalidInput(f"Key: {_bad_text(key)}", field=_join(at, key))
                stack.append((child, _join(at, str(key)), depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend(
                (child, _join(at, i) if at else f"{whole}[{i}]", depth + 1) for i, child in enumerate(item)
            )
    return value


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting of ``text`` outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_strict(raw: str | bytes, *, field: str, inner: str | None = None) -> Any:
    """Parse JSON the way a ``jsonb`` column will store it; ``InvalidInput`` naming ``field`` (or the
    path of the refused value, starting at ``inner``, default ``field``) for anything else."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("Must be UTF-8 encoded JSON.", field=field) from None
    if _nesting_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", field=field)
    try:
        # NaN, Infinity and 1e999 parse (as non-finite floats) so that the refusal below names their path.
        data = json.loads(raw)
    except RecursionError:  # pragma: no cover - the depth scan refuses this first
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", field=field) from None
    except ValueError as exc:
        raise NotJSON(f"Not valid JSON ({exc}).", field=field) from None
    # Integers are exact in Python; one too large for any number column is still a valid JSON number.
    return check_json_value(data, field=field if inner is None else inner, root=field)


class AsciiIntegerField(forms.IntegerField):
    """A form (and filter) integer of ASCII digits, optionally signed: Django's own reads any script's
    digits (and a DecimalField-backed filter even ``1e3``)."""

    default_error_messages = {"invalid": "Enter a whole number written with the digits 0-9."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not is_ascii_int(text.removeprefix("-")):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(text)


class StrictJSONFormField(forms.JSONField):
    """A form's JSON field read by ``loads_strict``: deep nesting, NaN, NUL and lone surrogates are a form
    error (Django's own field lets a RecursionError through, and stores what PostgreSQL then refuses)."""

    def to_python(self, value):
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        try:
            converted = loads_strict(value, field="")
        except InvalidInput as exc:
            where = f" (at {exc.field})" if exc.field else ""
            raise forms.ValidationError(f"{exc.message}{where}", code="invalid") from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return loads_strict(data, field="")
        except InvalidInput:
            return InvalidJSONInput(data)
