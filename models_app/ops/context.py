"""Per-request context (the request id) that services write into ledger rows."""

from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("registry_request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str):
    """Set the request id for the current context; returns a token for ``reset_request_id``."""
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)
