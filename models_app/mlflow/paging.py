"""Page tokens for the protocol's searches: signed, so a client can hand back only a token the registry
issued, and bound to the search that issued it (filter, ordering, endpoint)."""

from __future__ import annotations

import hashlib
import json

from django.core import signing

from models_app.exceptions import InvalidInput

_SALT = "models_app.mlflow.page"


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def page(queryset, *, max_results: int, token: str, search: tuple) -> tuple[list, str | None]:
    """One page of ``queryset`` and the token of the next page (None on the last page)."""
    offset = 0
    fingerprint = _fingerprint(*search)
    if token:
        try:
            data = signing.loads(token, salt=_SALT)
        except signing.BadSignature:
            raise InvalidInput(
                "Invalid page_token: pass back a next_page_token unchanged.", field="page_token"
            ) from None
        if not isinstance(data, dict) or data.get("q") != fingerprint or not isinstance(data.get("o"), int):
            raise InvalidInput(
                "This page_token belongs to another search: keep the filter and order_by of the first page.",
                field="page_token",
            )
        offset = max(data["o"], 0)
    rows = list(queryset[offset : offset + max_results + 1])
    if len(rows) <= max_results:
        return rows, None
    return rows[:max_results], signing.dumps({"o": offset + max_results, "q": fingerprint}, salt=_SALT)
