"""Log formatting: every record carries the request id; production logs are one JSON object per line."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

from models_app.ops.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's id, or None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            # django.request logs 4xx/5xx after the middleware finished; its record carries the request.
            record.request_id = current_request_id() or getattr(
                getattr(record, "request", None), "request_id", None
            )
        return True


class JsonFormatter(_LibraryJsonFormatter):
    """python-json-logger with the registry's field names: time, level, logger, message, then extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)
