"""Request ids and structured logs: one JSON line per request and per lifecycle change."""

import io
import json
import logging

import pytest
from django.test import RequestFactory

from models_app.models import LedgerEntry
from models_app.ops.context import current_request_id
from models_app.ops.logs import JsonFormatter, RequestIdFilter
from models_app.ops.middleware import RequestLogMiddleware, clean_request_id
from tests.conftest import register


def json_lines(records):
    """Format captured records exactly as production does and parse each line back."""
    formatter, request_filter = JsonFormatter(), RequestIdFilter()
    lines = []
    for record in records:
        request_filter.filter(record)
        line = formatter.format(record)
        assert "\n" not in line
        lines.append(json.loads(line))
    return lines


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("has space", False),
        ('quote"injection', False),
        ("new\nline", False),
        ("-starts-with-dash", False),
    ],
)
def test_it_keeps_only_sane_request_ids(given, kept):
    result = clean_request_id(given)
    if kept:
        assert result == given
    else:
        assert result != given
        assert len(result) == 32
        int(result, 16)


def test_it_echoes_the_request_id_and_logs_one_json_line(client, caplog):
    caplog.set_level(logging.INFO, logger="models_app.request")
    response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="pipeline-run-42")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "pipeline-run-42"
    lines = [line for line in json_lines(caplog.records) if line.get("event") == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/health/"
    assert line["status"] == 200
    assert line["request_id"] == "pipeline-run-42"
    assert line["user"] is None
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert line["logger"] == "models_app.request"
    assert "time" in line


def test_it_generates_an_id_when_none_or_a_bad_one_is_given(client):
    first = client.get("/api/v1/health/")["X-Request-ID"]
    second = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert len(first) == len(second) == 32
    assert first != second


def test_it_logs_the_authenticated_user(client, governance, caplog):
    caplog.set_level(logging.INFO, logger="models_app.request")
    client.force_login(governance)
    assert client.get("/metrics").status_code == 200  # staff sessions may read the metrics
    (line,) = [line for line in json_lines(caplog.records) if line.get("event") == "request"]
    assert line["user"] == governance.username


def test_it_writes_the_request_id_into_ledger_rows_and_lifecycle_logs(registered_model, publisher, caplog):
    """A registration made while a request is being served records that request's id."""
    caplog.set_level(logging.INFO)
    seen = {}

    def view(request):
        seen["during"] = current_request_id()
        seen["version"] = register(registered_model, publisher, files={"m.bin": b"weights"})
        from django.http import HttpResponse

        return HttpResponse(status=201)

    request = RequestFactory().post("/api/v1/models/fraud-detector/versions/", HTTP_X_REQUEST_ID="ci-build-7")
    response = RequestLogMiddleware(view)(request)

    assert response["X-Request-ID"] == "ci-build-7"
    assert seen["during"] == "ci-build-7"
    assert current_request_id() == ""  # reset once the response is out
    row = LedgerEntry.objects.get(version=seen["version"], kind="registered")
    assert row.request_id == "ci-build-7"

    lines = json_lines(caplog.records)
    (ledger_line,) = [line for line in lines if line.get("event") == "ledger"]
    assert ledger_line["logger"] == "models_app.lifecycle"
    assert ledger_line["kind"] == "registered"
    assert ledger_line["model"] == "fraud-detector"
    assert ledger_line["version"] == seen["version"].version
    assert ledger_line["actor"] == publisher.username
    assert ledger_line["request_id"] == "ci-build-7"
    assert ledger_line["ledger_id"] == row.pk
    (request_line,) = [line for line in lines if line.get("event") == "request"]
    assert request_line["status"] == 201
    assert request_line["request_id"] == "ci-build-7"


def test_the_text_format_names_the_request_id(settings):
    record = logging.LogRecord("models_app.request", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    handler_config = settings.LOGGING["formatters"]["text"]
    text = logging.Formatter(handler_config["format"]).format(record)
    assert text.endswith("hello request_id=abc")


def test_exceptions_are_one_json_line_too():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.handle(record)
    (line,) = stream.getvalue().splitlines()
    parsed = json.loads(line)
    assert parsed["message"] == "failed"
    assert "ValueError: boom" in parsed["exc_info"]
