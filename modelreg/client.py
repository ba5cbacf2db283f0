"""The registry's REST API as the CLI sees it: one httpx client, its error messages and retry policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

RETRIES = 3
RETRY_STATUSES = frozenset({502, 503, 504})


class CliError(Exception):
    """A failure to report on stderr with an exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def error_message(response: httpx.Response) -> str:
    """The registry's error answer on one line: each error's detail, field and code."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        parts = []
        for err in errors:
            where = f" [{err['attr']}]" if err.get("attr") else ""
            parts.append(f"{err.get('detail')}{where} ({err.get('code')})")
        return f"HTTP {response.status_code}: " + "; ".join(parts)
    return f"HTTP {response.status_code}: {json.dumps(body)[:300]}"


class Registry:
    """A thin client of the registry's REST API."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0):
        headers = {"User-Agent": "modelreg/1", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base = url.rstrip("/") + "/api/v1/"
        self.http = httpx.Client(
            base_url=self.base, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0), trust_env=True
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"Cannot reach the registry at {self.base} ({exc.__class__.__name__}: {exc}).", 3
            ) from exc
        if response.status_code >= 400:
            raise CliError(error_message(response))
        return response

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: dict) -> Any:
        return self.request("POST", path, json=body).json()

    def pages(self, path: str, params: dict | None = None, *, limit: int = 10_000) -> Iterator[dict]:
        """Every item of a paginated list (bounded by ``limit``)."""
        page = self.get(path, params=params)
        count = 0
        while True:
            for item in page.get("results", []):
                yield item
                count += 1
                if count >= limit:
                    return
            if not page.get("next"):
                return
            page = self.get(page["next"])


def model_path(model: str) -> str:
    """A model's API path, relative to ``/api/v1/``."""
    return f"models/{quote(model, safe='')}/"


def version_path(model: str, ref: str | int) -> str:
    """A version's API path by number or reference (``latest``, ``production``, ``@alias``)."""
    return f"{model_path(model)}versions/{quote(str(ref), safe='@')}/"
