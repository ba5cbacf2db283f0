"""Shape checks for a version's reproducibility metadata, with errors that name the field.

Every edge (API, CLI, demo loader) passes the client's metadata through ``clean_version_metadata``
before anything is stored.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from models_app.exceptions import InvalidInput
from models_app.inputs import check_json_value
from models_app.storage.artifacts import validate_artifact_path, validate_sha256

METADATA_FIELDS = (
    "source",
    "datasets",
    "parameters",
    "metrics",
    "environment",
    "signature",
    "description",
    "tags",
    "run_url",
    "parent_version",
    "files",
)
MAX_TEXT = 100_000
MAX_SHORT = 500
_COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}\Z")


def _fail(field: str, message: str):
    raise InvalidInput(message, field=field)


def _text(value: Any, field: str, *, max_length: int = MAX_SHORT, allow_newlines: bool = False) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(field, "Must be a string.")
    if len(value) > max_length:
        _fail(field, f"Must be at most {max_length} characters.")
    bad = [ch for ch in value if ord(ch) < 32 and not (allow_newlines and ch in "\n\r\t")]
    if bad or "\x7f" in value:
        _fail(field, "Must not contain control characters.")
    return check_json_value(value, field=field)


def clean_url(value: Any, field: str) -> str:
    """An http(s) URL, or ''."""
    text = _text(value, field)
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(field, "Must be an http:// or https:// URL.")
    return text


def clean_tags(value: Any, field: str = "tags") -> dict[str, str]:
    """A flat object of short string keys to short string values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(field, 'Must be an object of key/value strings, e.g. {"team": "growth"}.')
    if len(value) > 100:
        _fail(field, "At most 100 tags.")
    cleaned = {}
    for key, val in value.items():
        if not isinstance(key, str) or not key or len(key) > 100 or ":" in key:
            _fail(field, f"Tag key {key!r} must be 1-100 characters without ':'.")
        _text(key, f"{field}.{key}", max_length=100)
        cleaned[key] = clean_tag_value(val, f"{field}.{key}")
    return cleaned


def clean_tag_value(value: Any, field: str) -> str:
    """A tag's value as text: a string, or a scalar written as JSON writes it (``true``, ``3``, ``0.5``).

    Objects, lists, null and non-finite numbers have no faithful text form; they are refused, never
    coerced (``NaN`` would otherwise be stored as the string "nan").
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            _fail(field, "Must be a string or a finite number (not NaN or Infinity).")
        value = str(value)
    elif not isinstance(value, str):
        _fail(field, "Must be a string, number or boolean (not an object or a list).")
    return _text(value, field, max_length=500)


def _json_object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(field, "Must be a JSON object.")
    return check_json_value(value, field=field)


def clean_metrics(value: Any) -> dict[str, float | int]:
    metrics = _json_object(value, "metrics")
    if len(metrics) > 1000:
        _fail("metrics", "At most 1000 metrics.")
    for name, number in metrics.items():
        if not name or len(name) > 200:
            _fail("metrics", f"Metric name {name!r} must be 1-200 characters.")
        _text(name, f"metrics.{name}", max_length=200)
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            _fail(f"metrics.{name}", "Must be a finite number.")
    return metrics


def clean_source(value: Any) -> dict:
    source = _json_object(value, "source")
    unknown = set(source) - {"repository", "commit", "branch", "dirty"}
    if unknown:
        _fail("source", f"Unknown keys: {', '.join(sorted(unknown))}.")
    commit = _text(source.get("commit"), "source.commit", max_length=64).lower()
    if commit and not _COMMIT_RE.match(commit):
        _fail("source.commit", "Must be a git commit SHA of 7-64 hexadecimal characters.")
    dirty = source.get("dirty", False)
    if not isinstance(dirty, bool):
        _fail("source.dirty", "Must be true or false.")
    return {
        "repository": _text(source.get("repository"), "source.repository"),
        "commit": commit,
        "branch": _text(source.get("branch"), "source.branch", max_length=255),
        "dirty": dirty,
    }


def clean_datasets(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        _fail("datasets", 'Must be a list of {"uri", "version", "digest"} objects.')
    if len(value) > 200:
        _fail("datasets", "At most 200 datasets.")
    cleaned = []
    for i, item in enumerate(value):
        field = f"datasets[{i}]"
        if not isinstance(item, dict):
            _fail(field, 'Must be an object with "uri", and optionally "version" and "digest".')
        unknown = set(item) - {"uri", "version", "digest", "name"}
        if unknown:
            _fail(field, f"Unknown keys: {', '.join(sorted(unknown))}.")
        uri = _text(item.get("uri"), f"{field}.uri", max_length=2000)
        if not uri:
            _fail(f"{field}.uri", "This field is required.")
        entry = {"uri": uri}
        for key in ("version", "digest", "name"):
            if item.get(key) not in (None, ""):
                entry[key] = _text(item.get(key), f"{field}.{key}", max_length=200)
        cleaned.append(entry)
    return cleaned


def clean_environment(value: Any) -> dict:
    environment = _json_object(value, "environment")
    cleaned: dict[str, Any] = {}
    for key in ("python_version", "framework", "framework_version"):
        if environment.get(key) not in (None, ""):
            cleaned[key] = _text(environment.get(key), f"environment.{key}", max_length=100)
    libraries = environment.get("libraries")
    if libraries is not None:
        if not isinstance(libraries, dict):
            _fail(
                "environment.libraries", 'Must be an object of package -> version, e.g. {"numpy": "2.1.0"}.'
            )
        cleaned["libraries"] = {
            _text(name, "environment.libraries", max_length=200): _text(
                ver, f"environment.libraries.{name}", max_length=100
            )
            for name, ver in libraries.items()
        }
    if environment.get("requirements") not in (None, ""):
        cleaned["requirements"] = _text(
            environment.get("requirements"),
            "environment.requirements",
            max_length=MAX_TEXT,
            allow_newlines=True,
        )
    unknown = set(environment) - {
        "python_version",
        "framework",
        "framework_version",
        "libraries",
        "requirements",
    }
    if unknown:
        _fail("environment", f"Unknown keys: {', '.join(sorted(unknown))}.")
    return cleaned


def clean_version_metadata(data: Any) -> dict[str, Any]:
    """Validate the metadata of a new version and return it in canonical form.

    The returned dict has the keys of METADATA_FIELDS; ``files`` maps path -> expected sha256.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail("metadata", "Must be a JSON object.")
    unknown = set(data) - set(METADATA_FIELDS)
    if unknown:
        _fail("metadata", f"Unknown fields: {', '.join(sorted(unknown))}.")
    signature = data.get("signature")
    if signature is not None and not isinstance(signature, dict | list):
        _fail("signature", "Must be a JSON object or list.")
    check_json_value(signature, field="signature")
    parent = data.get("parent_version")
    if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int) or parent < 1):
        _fail("parent_version", "Must be the number of an existing version of this model.")
    files = data.get("files") or {}
    if not isinstance(files, dict):
        _fail("files", 'Must be an object of path -> {"sha256": "..."}.')
    expected = {}
    for path, spec in files.items():
        validate_artifact_path(path, field="files")
        if not isinstance(spec, dict) or set(spec) - {"sha256", "size", "content_type"}:
            _fail(f"files.{path}", 'Must be an object like {"sha256": "..."}.')
        if "sha256" in spec:
            expected[path] = validate_sha256(spec["sha256"], field=f"files.{path}.sha256")
    return {
        "source": clean_source(data.get("source")),
        "datasets": clean_datasets(data.get("datasets")),
        "parameters": _json_object(data.get("parameters"), "parameters"),
        "metrics": clean_metrics(data.get("metrics")),
        "environment": clean_environment(data.get("environment")),
        "signature": signature,
        "description": _text(
            data.get("description"), "description", max_length=MAX_TEXT, allow_newlines=True
        ),
        "tags": clean_tags(data.get("tags")),
        "run_url": clean_url(data.get("run_url"), "run_url"),
        "parent_version": parent,
        "files": expected,
    }
