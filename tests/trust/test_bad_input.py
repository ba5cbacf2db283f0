"""Bad input at every door of the API: each gets a 4xx in the standard error shape with a message (naming
the field where there is one), and leaves nothing behind: no rows, no ledger entries, no stored bytes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from models_app import services
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    TransitionRequest,
)
from models_app.services.tokens import api_token_create
from tests.api.conftest import BOUNDARY, multipart, post_version
from tests.conftest import make_user, nothing_written, register

TABLES = (
    RegisteredModel,
    ModelVersion,
    ArtifactFile,
    TransitionRequest,
    Approval,
    ModelAlias,
    LedgerEntry,
    PromotionPolicy,
    ApiToken,
)


def snapshot(artifact_root):
    files = sorted(str(p) for p in artifact_root.rglob("*") if p.is_file()) if artifact_root.exists() else []
    return {model.__name__: model.objects.count() for model in TABLES}, files


@pytest.fixture
def caller(role_groups, team, registered_model, publisher, reviewer):
    """A user holding every role in the model's team, with v1 in Staging and a pending request."""
    user = make_user(
        "all-roles", role_groups["Publishers"], role_groups["Reviewers"], role_groups["Governance"], team
    )
    v1 = register(registered_model, publisher)
    services.version_transition(version=v1, to="staging", actor=publisher)
    req = services.transition_request_create(version=v1, to="production", actor=publisher)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='bad-input')[1]}")
    client.request_pk = req.pk
    return client


@pytest.fixture
def unchanged(caller, artifact_root):
    """Asserts after the test that nothing was written: no row, no changed stage or status, no stored byte."""
    before = snapshot(artifact_root)
    with nothing_written():
        yield
    assert snapshot(artifact_root) == before


def assert_refused(response, *, status=None, attr=None):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["type"] in ("client_error", "validation_error"), body
    error = body["errors"][0]
    assert error["detail"], body
    if attr is not None:
        assert error["attr"] in attr, body


WRITES = {
    "model-create": ("post", "/api/v1/models/", {"name": "x", "team": "fraud-team"}),
    "model-update": ("patch", "/api/v1/models/fraud-detector/", {"description": "x"}),
    "request-create": ("post", "/api/v1/transition-requests/", {"model": "fraud-detector", "version": 1}),
    "approve": ("post", "/api/v1/transition-requests/{req}/approve/", {"comment": "x"}),
    "reject": ("post", "/api/v1/transition-requests/{req}/reject/", {"comment": "x"}),
    "cancel": ("post", "/api/v1/transition-requests/{req}/cancel/", {"comment": "x"}),
    "transition": ("post", "/api/v1/models/fraud-detector/versions/1/transition/", {"to": "none"}),
    "rollback": ("post", "/api/v1/models/fraud-detector/rollback/", {"version": 1, "reason": "x"}),
    "alias-set": ("put", "/api/v1/models/fraud-detector/aliases/champion/", {"version": 1}),
    "token-create": ("post", "/api/v1/tokens/", {"name": "x"}),
}


def send(client, name, body: bytes, content_type="application/json"):
    method, url, _ = WRITES[name]
    return getattr(client, method)(url.format(req=client.request_pk), data=body, content_type=content_type)


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"comment": "unterminated', "application/json"),
        (b'{"comment": "\xff\xfe invalid utf-8"}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"null", "application/json"),
        (b"comment=x", "text/plain"),
        (b"<xml/>", "application/xml"),
    ],
    ids=["malformed-json", "invalid-utf8", "array", "null", "text-plain", "xml"],
)
def test_malformed_bodies_and_wrong_content_types_are_refused(caller, unchanged, name, body, content_type):
    assert_refused(send(caller, name, body, content_type))


@pytest.mark.parametrize(
    ("name", "field", "payload"),
    [
        ("model-create", "name", {"name": "churn\x07", "team": "fraud-team"}),
        ("model-create", "name", {"name": "a" * 10_000, "team": "fraud-team"}),
        ("model-create", "name", {"name": "../etc/passwd", "team": "fraud-team"}),
        ("model-create", "description", {"name": "ok", "team": "fraud-team", "description": "x\x00y"}),
        ("model-update", "description", {"description": "bell\x07"}),
        ("model-update", "tags", {"tags": {"k": "v" * 10_000}}),
        ("request-create", "comment", {"model": "fraud-detector", "version": 1, "comment": "\x1b[31mred"}),
        ("request-create", "model", {"model": "../fraud-detector", "version": 1}),
        ("approve", "comment", {"comment": "x" * 20_000}),
        ("reject", "comment", {"comment": "nul\x00"}),
        ("cancel", "comment", {"comment": "\x08"}),
        ("transition", "to", {"to": "../production"}),
        ("rollback", "reason", {"version": 1, "reason": "\x00"}),
        ("rollback", "version", {"version": "1; DROP TABLE", "reason": "x"}),
        ("alias-set", "version", {"version": -1}),
        ("token-create", "name", {"name": "t\x00"}),
        ("token-create", "name", {"name": "n" * 5000}),
    ],
)
def test_bad_field_values_are_refused_naming_the_field(caller, unchanged, name, field, payload):
    method, url, _ = WRITES[name]
    response = getattr(caller, method)(url.format(req=caller.request_pk), payload, format="json")
    assert_refused(response, attr={field, f"{field}.k"})


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/models/..%2f..%2fetc%2fpasswd/",
        "/api/v1/models/%2e%2e/versions/",
        "/api/v1/models/fraud-detector%00/",
        "/api/v1/models/fraud-detector/versions/..%2f1/",
        "/api/v1/models/fraud-detector/versions/1/files/../../../../etc/passwd",
        "/api/v1/models/fraud-detector/versions/1/files/%2e%2e/%2e%2e/registry_site/settings.py",
        "/api/v1/models/fraud-detector/versions/1/files/..%5c..%5cmanage.py",
        "/api/v1/models/fraud-detector/versions/1/files/%00model.bin",
        "/api/v1/models/fraud-detector/versions/1/files//etc/passwd",
        "/api/v1/models/fraud-detector/aliases/..%2fchampion/",
        "/api/v1/transition-requests/..%2f1/",
        "/api/v1/models/fraud-detector/versions/1/files/" + "a/" * 2000 + "b",
    ],
)
def test_path_traversal_in_urls_finds_nothing(caller, unchanged, path):
    response = caller.get(path)
    assert_refused(response)
    assert response.status_code in (400, 404)
    assert b"SECRET_KEY" not in response.content and b"root:" not in response.content


@pytest.mark.parametrize(
    "alias",
    ["..", "../x", "a%00", "UPPER", "a" * 200, "%e2%80%ae"],
    ids=["dots", "dotdot", "nul", "upper", "long", "rtl"],
)
def test_bad_alias_names_in_the_url_are_refused(caller, unchanged, alias):
    response = caller.put(f"/api/v1/models/fraud-detector/aliases/{alias}/", {"version": 1}, format="json")
    assert_refused(response)


# -- uploads --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "kwargs", "attr"),
    [
        ([("../../evil.bin", b"x")], {}, {"file"}),
        ([("/abs.bin", b"x")], {}, {"file"}),
        ([("a\\..\\b.bin", b"x")], {}, {"file"}),
        # Too long for a multipart header: refused by the parser before any field is read.
        ([("x" * 5000, b"x")], {}, {"file", None}),
        ([("ok.bin", b"x")], {"metadata_raw": '{"metrics": {"acc": 0.9}'}, {"metadata"}),
        ([("ok.bin", b"x")], {"metadata_raw": "[1, 2]"}, {"metadata"}),
        ([("ok.bin", b"x")], {"metadata_raw": '{"description": "' + "d" * 200_000 + '"}'}, None),
        ([("ok.bin", b"x")], {"metadata_raw": '{"run_url": "javascript:alert(1)"}'}, {"run_url"}),
        ([("ok.bin", b"x")], {"metadata_raw": '{"datasets": [{"uri": "\\u0000"}]}'}, None),
    ],
    ids=[
        "dotdot",
        "absolute",
        "backslash",
        "long-path",
        "truncated-json",
        "json-array",
        "huge-description",
        "script-url",
        "nul-in-dataset",
    ],
)
def test_bad_uploads_are_refused_and_keep_nothing(caller, unchanged, files, kwargs, attr):
    response = post_version(caller, "fraud-detector", files, **kwargs)
    assert_refused(response, attr=attr)


def test_invalid_utf8_in_the_metadata_part_is_refused(caller, unchanged):
    body, content_type = multipart([("ok.bin", b"x")], metadata_raw="{}")
    body = body.replace(b"{}", b'{"description": "\xff\xfe"}')
    response = caller.post("/api/v1/models/fraud-detector/versions/", data=body, content_type=content_type)
    assert_refused(response, attr={"metadata"})


def test_a_broken_multipart_body_is_refused(caller, unchanged):
    body, _ = multipart([("ok.bin", b"x")], {"metrics": {}})
    truncated = body[: len(body) // 2]
    for data, content_type in [
        (truncated, f"multipart/form-data; boundary={BOUNDARY}"),
        (body, "multipart/form-data"),  # no boundary
        (body, "multipart/form-data; boundary=wrong-boundary"),
    ]:
        response = caller.post(
            "/api/v1/models/fraud-detector/versions/", data=data, content_type=content_type
        )
        assert_refused(response)


def test_an_oversized_json_body_is_refused(caller, unchanged, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = caller.post(
        "/api/v1/transition-requests/",
        {"model": "fraud-detector", "version": 1, "comment": "x" * 20_000},
        format="json",
    )
    assert_refused(response)
    assert response.status_code in (400, 413)


def test_an_unknown_api_path_answers_json(caller):
    response = caller.get("/api/v1/tokens/not-a-number/")
    assert_refused(response, status=404)


# -- regressions found by the schema fuzzing -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["since=0397-03-05T04:14:43-22:59", "until=2000-01-01T00:00:00%2B23:59", "since=2024-01-01T00:00:00Z"],
)
def test_time_filters_accept_any_iso_offset(caller, query):
    """PostgreSQL refuses offsets beyond ±15:59; the filters compare in UTC instead of failing with 500."""
    response = caller.get(f"/api/v1/audit/?{query}")
    assert response.status_code == 200, response.content[:300]


def test_history_accepts_any_iso_offset(caller):
    response = caller.get("/api/v1/models/fraud-detector/history/?at=2999-01-01T00:00:00-22:59")
    assert response.status_code == 200, response.content[:300]


def test_options_is_not_offered(caller):
    response = caller.options("/api/v1/models/fraud-detector/aliases/champion/")
    assert_refused(response, status=405)


def test_ledger_rows_that_are_not_stage_changes_match_the_schema(caller):
    rows = caller.get("/api/v1/audit/?kind=requested").json()["results"]
    assert rows and rows[0]["from_stage"] == "" and rows[0]["to_stage"] == ""


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/fraud-detector%00/",
        "/api/v1/models/fraud%0Adetector/versions/",
        "/api/v1/audit/?actor=%00",
        "/api/v1/models/?name=a%00b",
        "/admin/models_app/registeredmodel/?q=%00",
    ],
)
def test_nul_and_control_characters_in_urls_are_refused_at_the_door(caller, url):
    """On PostgreSQL a NUL reaching a query would raise (500); it is refused first, on every database."""
    response = caller.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert_refused(response, status=400)
