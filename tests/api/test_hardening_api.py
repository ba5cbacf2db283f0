"""Inputs that used to answer 500 or lose data silently, over HTTP: every class answers 4xx in the one
error shape naming the field, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from models_app.models import ModelVersion, RegisteredModel, Run
from models_app.ops import metrics
from tests.api.conftest import BOUNDARY, multipart, post_version
from tests.conftest import register

DEEP = "[" * 5000 + "]" * 5000
VERSION = "/api/v1/models/fraud-detector/versions/1/"


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["type"] in ("client_error", "validation_error")
    assert body["errors"] and all(e["code"] for e in body["errors"]), body
    return body["errors"][0]


def _json(client, method: str, url: str, raw: str):
    return getattr(client, method)(
        url, data=raw.encode("utf-8", "surrogatepass"), content_type="application/json"
    )


# -- JSON: nesting, non-finite numbers, NUL, lone surrogates -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "attr"),
    [
        (f'{{"description": "x", "tags": {{"a": {DEEP}}}}}', None),
        ('{"tags": {"team": NaN}}', "tags.team"),
        ('{"tags": {"team": 1e999}}', "tags.team"),
        ('{"description": "a\\u0000b"}', "description"),
        ('{"description": "\\ud800"}', "description"),
        ('{"tags": {"a\\u0000": "x"}}', "tags.a\\x00"),
        ('{"tags": {"team": {"nested": 1}}}', "tags.team"),
    ],
    ids=["deep", "nan", "overflowing-float", "nul", "lone-surrogate", "nul-in-key", "object-tag"],
)
def test_a_json_body_the_database_cannot_store_is_refused(api, publisher, registered_model, raw, attr):
    register(registered_model, publisher)
    before = ModelVersion.objects.values_list("description", "tags").get()
    error = _error(_json(api(publisher), "patch", VERSION, raw), 400)
    if attr:
        assert error["attr"] == attr
    assert ModelVersion.objects.values_list("description", "tags").get() == before


@pytest.mark.parametrize(
    ("metadata_raw", "attr"),
    [
        ('{"parameters": ' + DEEP + "}", "metadata"),
        ('{"parameters": {"lr": NaN}}', "parameters.lr"),
        ('{"signature": {"inputs": [Infinity]}}', "signature.inputs[0]"),
        ('{"parameters": {"k\\u0000": 1}}', "parameters.k\\x00"),
        ('{"description": "\\udfff"}', "description"),
        ('{"tags": {"t": NaN}}', "tags.t"),
        ('{"tags": {"t": [1]}}', "tags.t"),
        ('{"environment": {"python_version": "3.11\\ud800"}}', "environment.python_version"),
    ],
)
def test_a_metadata_part_the_database_cannot_store_is_refused(
    api, publisher, registered_model, metadata_raw, attr
):
    response = post_version(api(publisher), "fraud-detector", [("m.bin", b"1")], metadata_raw=metadata_raw)
    assert _error(response, 400)["attr"] == attr
    assert ModelVersion.objects.count() == 0


def test_scalar_tags_are_kept_as_json_writes_them(api, publisher, registered_model):
    response = post_version(
        api(publisher), "fraud-detector", [("m.bin", b"1")], {"tags": {"n": 3, "f": 0.5, "b": True}}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["tags"] == {"n": "3", "f": "0.5", "b": "true"}


def test_the_mlflow_layer_refuses_the_same_json(api, publisher, registered_model):
    from models_app.services.tokens import api_token_create

    _, token = api_token_create(user=publisher, name="mlflow")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = "/api/2.0/mlflow/registered-models/create"
    for raw in (
        '{"name": ' + DEEP + "}",
        '{"name": "x", "tags": [{"key": "k", "value": "a\\u0000"}]}',
        '{"name": "\\ud800"}',
        '{"name": "x", "description": NaN}',
    ):
        response = client.post(url, data=raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    runs = "/api/2.0/mlflow/runs/log-batch"
    response = client.post(
        runs,
        data=json.dumps({"run_id": "0" * 32, "metrics": [{"key": "a", "value": 1, "timestamp": "\u0661"}]}),
        content_type="application/json",
    )
    assert response.status_code in (400, 404)
    assert RegisteredModel.objects.count() == 1
    assert Run.objects.count() == 0


# -- ASCII digits only ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["\u0661", "\u00b2", "\uff11", "\U0001d7cf", "1\u0660"])
def test_a_version_ref_of_other_digits_never_resolves(api, publisher, registered_model, ref):
    register(registered_model, publisher)
    register(registered_model, publisher)
    client = api(publisher)
    _error(client.get(f"/api/v1/models/fraud-detector/versions/{ref}/"), 404)
    _error(client.get(f"/api/v1/models/fraud-detector/versions/{ref}/files/model.bin"), 404)
    _error(client.post("/api/v1/models/fraud-detector/rollback/", {"version": ref}, format="json"), 400)


@pytest.mark.parametrize(
    ("url", "status", "attr"),
    [
        ("/api/v1/events/?after=\u0661", 400, "after"),
        ("/api/v1/events/?limit=\u0661\u0660", 400, "limit"),
        ("/api/v1/events/?after=\u00b2", 400, "after"),
        ("/api/v1/models/?page=\u0662", 404, None),
        ("/api/v1/models/?page_size=\u0662", 400, "page_size"),
        ("/api/v1/audit/?version=\u0661", 400, "version"),
        ("/api/v1/audit/?version=1e3", 400, "version"),
        ("/api/v1/transition-requests/\u0661/", 404, None),
    ],
)
def test_cursors_limits_pages_and_ids_take_ascii_digits_only(
    api, publisher, registered_model, url, status, attr
):
    register(registered_model, publisher)
    error = _error(api(publisher).get(url), status)
    if attr:
        assert error["attr"] == attr


def test_ui_compare_and_pages_take_ascii_digits_only(publisher, registered_model):
    register(registered_model, publisher)
    register(registered_model, publisher)
    client = Client()
    client.force_login(publisher)
    page = client.get("/models/fraud-detector/compare/?versions=1,\u0662")
    assert page.status_code in (200, 400)
    assert "is not a version number" in page.content.decode()
    assert client.get("/models/fraud-detector/versions/\u0661/").status_code == 404
    assert client.get("/models/?page=\u0662").status_code == 200


def test_admin_ids_take_ascii_digits_only(superuser, publisher, registered_model):
    register(registered_model, publisher)
    client = Client()
    client.force_login(superuser)
    version = ModelVersion.objects.get()
    assert client.get(f"/admin/models_app/modelversion/{version.pk}/change/").status_code == 200
    odd = "".join(chr(0x0660 + int(d)) for d in str(version.pk))
    response = client.get(f"/admin/models_app/modelversion/{odd}/change/")
    assert response.status_code == 302  # the admin's "does not exist" redirect, never the row


# -- time filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/fraud-detector/versions/?created_after=0001-01-01T00:00:00%2B05:00",
        "/api/v1/models/fraud-detector/versions/?created_before=9999-12-31T23:59:59-05:00",
        "/api/v1/audit/?since=0001-01-01T00:00:00%2B01:00",
        "/api/v1/audit/?until=9999-12-31T23:59:59-23:59",
        "/api/v1/models/fraud-detector/history/?at=0001-01-01T00:00:00%2B01:00",
    ],
)
def test_time_filters_whose_offset_overflows_answer_400(api, publisher, registered_model, url):
    error = _error(api(publisher).get(url), 400)
    assert error["attr"] in ("created_after", "created_before", "since", "until", "at")


def test_ui_time_filters_whose_offset_overflows_do_not_fail(publisher, registered_model):
    client = Client()
    client.force_login(publisher)
    assert client.get("/audit/?since=0001-01-01T00:00:00%2B01:00").status_code in (200, 400)
    assert client.get("/models/fraud-detector/history/?at=0001-01-01T00:00:00%2B01:00").status_code in (
        200,
        400,
    )


def test_filter_errors_carry_a_code(api, publisher, registered_model):
    for url, attr in (
        ("/api/v1/models/fraud-detector/versions/?metric=acc~1", "metric"),
        ("/api/v1/models/fraud-detector/versions/?ordering=colour", "ordering"),
        ("/api/v1/models/fraud-detector/versions/?metric=acc>=\u0660.9", "metric"),
        ("/api/v1/models/fraud-detector/versions/?stage=nowhere", "stage"),
    ):
        error = _error(api(publisher).get(url), 400)
        assert error["attr"] == attr
        assert error["code"] not in (None, "")


# -- multipart file names, chunked bodies ---------------------------------------------------------------


def test_a_file_part_whose_name_is_not_utf8_is_refused_naming_the_part(api, publisher, registered_model):
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="w\xff\xfe.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nweights\r\n"
        + f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="ok.bin"\r\n\r\nok\r\n'
        + f"--{BOUNDARY}--\r\n".encode()
    )
    response = api(publisher).post(
        "/api/v1/models/fraud-detector/versions/",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert _error(response, 400)["attr"] == "file"
    assert ModelVersion.objects.count() == 0


def test_a_percent_encoded_name_that_is_not_utf8_is_refused(api, publisher, registered_model):
    body, content_type = multipart([("placeholder", b"x")])
    body = body.replace(b'filename="placeholder"', b"filename*=UTF-8''w%FF.bin")
    response = api(publisher).post(
        "/api/v1/models/fraud-detector/versions/", data=body, content_type=content_type
    )
    assert _error(response, 400)["attr"] == "file"
    assert ModelVersion.objects.count() == 0


def test_a_chunked_body_is_refused_with_411_not_read_as_empty(api, publisher, registered_model):
    register(registered_model, publisher)
    response = api(publisher).patch(
        VERSION,
        data=b'{"description": "changed"}',
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert _error(response, 411)["code"] == "length_required"
    assert ModelVersion.objects.get().description == ""


# -- the one error shape before any view ----------------------------------------------------------------


def test_errors_before_any_view_have_the_api_shape(api, publisher, settings):
    client = api(publisher)
    assert _error(client.get("/api/v1/no-such-thing/"), 404)["code"] == "not_found"
    assert _error(client.delete("/api/v1/models/"), 405)["code"]
    assert _error(client.get("/api/v1/models/", HTTP_X_FILLER="x" * 9000), 431)["code"] == "headers_too_large"
    settings.ALLOWED_HOSTS = ["registry.example"]
    response = client.get("/api/v1/models/", HTTP_HOST="evil.example")
    assert _error(response, 400)["code"] == "invalid_host"


def test_a_body_over_django_s_memory_limit_is_a_413_in_the_api_shape(
    api, publisher, registered_model, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    register(registered_model, publisher)
    response = _json(api(publisher), "patch", VERSION, json.dumps({"description": "x" * 500}))
    assert _error(response, 413)["code"]


# -- client aborts ----------------------------------------------------------------------------------------


class _ResetStream:
    """A request body whose connection is reset after the first bytes."""

    def __init__(self, head: bytes):
        self.head = head

    def read(self, size=-1):
        if self.head:
            data, self.head = self.head, b""
            return data
        raise ConnectionResetError(104, "Connection reset by peer")

    readline = read


def test_a_reset_mid_upload_is_a_counted_client_abort_without_traceback(
    api, publisher, registered_model, caplog
):
    body, content_type = multipart([("m.bin", b"x" * 4096)])
    client = api(publisher)
    before = metrics.CLIENT_ABORTS.labels(where="api_upload")._value.get()
    request_factory_post = client.post

    def post_with_reset():
        environ_override = {
            "wsgi.input": _ResetStream(body[:300]),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type,
        }
        return request_factory_post(
            "/api/v1/models/fraud-detector/versions/", data=b"", content_type=content_type, **environ_override
        )

    with caplog.at_level("WARNING"):
        post_with_reset()
    assert metrics.CLIENT_ABORTS.labels(where="api_upload")._value.get() == before + 1
    aborts = [r for r in caplog.records if "client aborted" in r.getMessage()]
    assert aborts and all(r.levelname == "WARNING" and r.exc_info is None for r in aborts)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert ModelVersion.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metric_gates", "[" * 5000 + "]" * 5000),
        ("group_approvals", '{"Governance": NaN}'),
        ("freeze_windows", '[{"start": "2025-01-01T00:00:00+00:00", "end": "\\u0000", "reason": ""}]'),
        ("freeze_windows", '[{"start": "0001-01-01T00:00:00+05:00", "end": "2026-01-01T00:00:00+00:00"}]'),
    ],
)
def test_admin_json_fields_refuse_what_the_database_cannot_store(role_groups, registered_model, field, value):
    from django.urls import reverse

    from models_app.models import PromotionPolicy
    from tests.conftest import make_user

    staff = make_user("gina-gov", role_groups["Governance"], is_staff=True)
    client = Client()
    client.force_login(staff)
    data = {
        "registered_model": registered_model.pk,
        "metric_gates": "[]",
        "group_approvals": "{}",
        "freeze_windows": "[]",
        "required_approvals": "1",
        field: value,
    }
    response = client.post(reverse("admin:models_app_promotionpolicy_add"), data)
    assert response.status_code == 200  # the form again, with the error
    assert "errorlist" in response.content.decode()
    assert PromotionPolicy.objects.count() == 0


def test_a_ui_form_whose_body_cannot_be_read_is_a_client_abort(publisher, registered_model, caplog):
    register(registered_model, publisher)
    client = Client()
    client.force_login(publisher)
    before = metrics.CLIENT_ABORTS.labels(where="form_body")._value.get()
    with caplog.at_level("WARNING"):
        response = client.post(
            "/models/fraud-detector/versions/1/transition/",
            data=b"",
            content_type="application/x-www-form-urlencoded",
            **{
                "wsgi.input": _ResetStream(b""),
                "CONTENT_LENGTH": "40",
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
            },
        )
    assert response.status_code == 400
    assert metrics.CLIENT_ABORTS.labels(where="form_body")._value.get() == before + 1
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert ModelVersion.objects.get().stage == "none"
