"""The search filters and orderings the client sends, as ORM conditions; anything else is refused naming it.

Grammar::

    filter := clause ( AND clause )*
    clause := field op value | field IN ( value, ... )
    field  := name | run_id | version_number | source_run_id | status | tags.<key> | tag.<key>
    key    := letters, digits, _ . - / | `back-ticked` | "double-quoted"
    op     := = | != | LIKE | ILIKE | < | <= | > | >=
    value  := 'single-quoted' | "double-quoted" | number

which covers what the client writes itself (``name='x'``, ``name LIKE 'x%'``, ``tags.k='v'``,
``run_id='...'``) and the clause it appends to every model search, `` tag.`mlflow.prompt.is_prompt` !=
'true'``. ``tags.k != 'v'`` matches objects without the tag, as in MLflow. Model names compare in their
canonical form (names are case-insensitive here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import F, Q
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.lookups import Exact, IRegex, Regex

from models_app.exceptions import InvalidInput
from models_app.inputs import is_ascii_int
from models_app.names import canonical_name

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<tag>tags?\.(?:`[^`]+`|"[^"]+"|[\w.\-/]+))
    | (?P<number>[-+]?[0-9]+(?:\.[0-9]+)?(?![\w.]))
    | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)
_KEYWORD_OPS = {"LIKE", "ILIKE"}
_TEXT_OPS = {"=", "!=", "LIKE", "ILIKE"}
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
HINT = "use clauses like name='x', name LIKE 'x%', tags.k='v' or run_id='...' joined with AND"


@dataclass(frozen=True)
class Clause:
    field: str  # "tag" for tags.<key>
    op: str
    value: object
    key: str = ""


def _refuse(text: str, reason: str):
    raise InvalidInput(f"Unsupported filter {text!r}: {reason}; {HINT}.", field="filter")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            _refuse(text, f"cannot read it from {text[pos:].strip()[:30]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(token: str) -> str:
    quote = token[0]
    return token[1:-1].replace(quote * 2, quote)


def _tag_key(token: str) -> str:
    key = token.split(".", 1)[1]
    if key[0] in '`"' and key[-1] == key[0]:
        key = key[1:-1]
    return key


def parse(text: str | None) -> list[Clause]:
    """The clauses of a filter string ([] for none)."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            _refuse(text, "it ends too early")
        i += 1
        return tokens[i - 1]

    while True:
        kind, token = take()
        if kind == "tag":
            field, key = "tag", _tag_key(token)
        elif kind == "word" and token.upper() not in ("AND", "OR", "IN", "NOT", *_KEYWORD_OPS):
            field, key = token.lower(), ""
        else:
            _refuse(text, f"expected a field name, found {token!r}")
        kind, token = take()
        if kind == "op":
            op = "!=" if token == "<>" else token
        elif kind == "word" and token.upper() in (*_KEYWORD_OPS, "IN"):
            op = token.upper()
        else:
            _refuse(text, f"expected a comparison after {field}, found {token!r}")
        if op == "IN":
            if take() != ("punct", "("):
                _refuse(text, "IN needs a parenthesised list of quoted values")
            values = []
            while True:
                kind, token = take()
                if kind != "string":
                    _refuse(text, "IN needs a parenthesised list of quoted values")
                values.append(_unquote(token))
                kind, token = take()
                if (kind, token) == ("punct", ")"):
                    break
                if (kind, token) != ("punct", ","):
                    _refuse(text, "IN needs a parenthesised list of quoted values")
            value: object = values
        else:
            kind, token = take()
            if kind == "string":
                value = _unquote(token)
            elif kind == "number":
                value = token
            else:
                _refuse(text, f"expected a quoted value after {field} {op}, found {token!r}")
        clauses.append(Clause(field, op, value, key))
        if i >= len(tokens):
            return clauses
        kind, token = take()
        if kind != "word" or token.upper() != "AND":
            _refuse(text, f"clauses are joined with AND, found {token!r}")


def like_regex(pattern: str) -> str:
    """A SQL LIKE pattern (``%`` any run, ``_`` one character) as an anchored regular expression."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return "^" + "".join(parts) + "$"


def _text_q(column: str, op: str, value, *, canonical: bool = False) -> Q:
    if not isinstance(value, str):
        value = str(value)
    if canonical:
        value = canonical_name(value)
    if op == "=":
        return Q(**{column: value})
    if op == "!=":
        return ~Q(**{column: value})
    if op == "LIKE":
        return Q(**{f"{column}__regex": like_regex(value)})
    return Q(**{f"{column}__iregex": like_regex(value)})


def _tag_q(key: str, op: str, value, column: str = "tags") -> Q:
    text, has = KeyTextTransform(key, column), Q(HasKey(F(column), key))
    value = str(value)
    if op == "=":
        return has & Q(Exact(text, value))
    if op == "!=":
        # An object without the tag matches too: otherwise the client's own prompt clause would hide all.
        return ~has | ~Q(Exact(text, value))
    if op == "LIKE":
        return has & Q(Regex(text, like_regex(value)))
    return has & Q(IRegex(text, like_regex(value)))


def _check(text: str, clause: Clause, allowed: set[str]) -> None:
    if clause.op not in allowed:
        _refuse(text, f"{clause.field} cannot be compared with {clause.op}")
    if clause.op != "IN" and isinstance(clause.value, list):
        _refuse(text, f"{clause.field} {clause.op} takes one value")


def models_where(text: str | None) -> Q:
    """Registered models: ``name`` and ``tags.<key>`` (``tags.team`` is the owning team)."""
    where = Q()
    for clause in parse(text):
        if clause.field == "name":
            _check(text, clause, _TEXT_OPS)
            where &= _text_q("name", clause.op, clause.value, canonical=True)
        elif clause.field == "tag":
            _check(text, clause, _TEXT_OPS)
            if clause.key == "team":
                where &= _text_q("team__name", clause.op, clause.value)
            else:
                where &= _tag_q(clause.key, clause.op, clause.value)
        else:
            _refuse(text, f"models cannot be searched by {clause.field!r} (only name and tags)")
    return where


def versions_where(text: str | None) -> Q:
    """Model versions: ``name`` (the model's), ``run_id``, ``version_number`` and ``tags.<key>``."""
    where = Q()
    for clause in parse(text):
        if clause.field == "name":
            _check(text, clause, _TEXT_OPS)
            where &= _text_q("registered_model__name", clause.op, clause.value, canonical=True)
        elif clause.field == "run_id":
            _check(text, clause, {"=", "!=", "IN"})
            if clause.op == "IN":
                where &= Q(origin__run_id__in=clause.value)
            else:
                where &= _text_q("origin__run_id", clause.op, clause.value)
        elif clause.field in ("version_number", "version"):
            _check(text, clause, _NUMBER_OPS)
            if not is_ascii_int(str(clause.value)):
                _refuse(text, "version_number is compared with a whole number")
            lookup = {"=": "", "!=": "", "<": "__lt", "<=": "__lte", ">": "__gt", ">=": "__gte"}[clause.op]
            condition = Q(**{f"version{lookup}": int(clause.value)})
            where &= ~condition if clause.op == "!=" else condition
        elif clause.field == "tag":
            _check(text, clause, _TEXT_OPS)
            where &= _tag_q(clause.key, clause.op, clause.value)
        else:
            _refuse(
                text, f"versions cannot be searched by {clause.field!r} (name, run_id, version_number, tags)"
            )
    return where


def logged_models_where(text: str | None) -> Q:
    """Logged models: ``name``, ``source_run_id``, ``status`` and ``tags.<key>``."""
    where = Q()
    for clause in parse(text):
        if clause.field == "name":
            _check(text, clause, _TEXT_OPS)
            where &= _text_q("name", clause.op, clause.value)
        elif clause.field in ("source_run_id", "status", "model_id"):
            _check(text, clause, {"=", "!=", "IN"})
            column = {"source_run_id": "run_id", "status": "status", "model_id": "id"}[clause.field]
            if clause.op == "IN":
                where &= Q(**{f"{column}__in": clause.value})
            else:
                where &= _text_q(column, clause.op, clause.value)
        elif clause.field == "tag":
            _check(text, clause, _TEXT_OPS)
            where &= _tag_q(clause.key, clause.op, clause.value)
        else:
            _refuse(text, f"logged models cannot be searched by {clause.field!r}")
    return where


MODEL_ORDER = {
    "name": "name",
    "timestamp": "updated_at",
    "last_updated_timestamp": "updated_at",
    "creation_timestamp": "created_at",
}
VERSION_ORDER = {
    "name": "registered_model__name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "last_change",
    "timestamp": "last_change",
}
LOGGED_MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "created_at",
    "creation_time": "created_at",
    "last_updated_timestamp": "updated_at",
}


def ordering(values: list, *, columns: dict[str, str], default: list[str]) -> list[str]:
    """ORM ordering from ``order_by`` values: ``"field [ASC|DESC]"`` strings, or the logged-model search's
    ``{"field_name", "ascending"}`` objects; unknown fields are refused naming them."""
    out = []
    for value in values:
        if isinstance(value, dict):
            name, descending = str(value.get("field_name") or ""), value.get("ascending") is False
        elif isinstance(value, str):
            words = value.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise InvalidInput(
                    f"Invalid order_by clause {value!r}; use '<field> [ASC|DESC]'.", field="order_by"
                )
            name, descending = words[0], len(words) == 2 and words[1].upper() == "DESC"
        else:
            raise InvalidInput("Must be a list of '<field> [ASC|DESC]' strings.", field="order_by")
        column = columns.get(name.removeprefix("attributes.").strip("`"))
        if column is None:
            raise InvalidInput(
                f"Cannot order by {name!r}; use one of {', '.join(sorted(columns))}.", field="order_by"
            )
        out.append(f"-{column}" if descending else column)
    return (out or default) + ["pk"]
