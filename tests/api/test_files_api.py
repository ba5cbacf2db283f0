"""Downloads: streaming with Content-Length, ETag, Repr-Digest, Range (206/416) and If-None-Match (304).

The tests that read stored bytes run on the filesystem and on S3 (``stored_version``); the ones decided
from the database alone run on the filesystem.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from models_app.choices import VersionStatus
from models_app.models import ArtifactFile, ModelVersion
from tests.conftest import nothing_written, register

DATA = bytes(range(256)) * 40  # 10,240 bytes
URL = "/api/v1/models/fraud-detector/versions/1/files/weights/model.bin"


def _register_v1(registered_model, publisher):
    return register(registered_model, publisher, files={"weights/model.bin": DATA, "empty.txt": b""})


@pytest.fixture
def version(registered_model, publisher):
    """v1 (weights/model.bin and an empty file) on the filesystem storage."""
    return _register_v1(registered_model, publisher)


@pytest.fixture
def stored_version(any_storage, registered_model, publisher):
    """The same v1, once on each storage backend."""
    return _register_v1(registered_model, publisher)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_it_streams_the_whole_file_with_its_digests(api, publisher, stored_version):
    response = api(publisher).get(URL)
    assert response.status_code == 200
    assert response.streaming
    assert body(response) == DATA
    digest = hashlib.sha256(DATA)
    assert response["Content-Length"] == str(len(DATA))
    assert response["ETag"] == f'"{digest.hexdigest()}"'
    assert response["X-Checksum-Sha256"] == digest.hexdigest()
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "application/octet-stream"
    assert 'filename="model.bin"' in response["Content-Disposition"]


def test_it_serves_bytes_whatever_the_accept_header(api, publisher, version):
    response = api(publisher).get(URL, HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    assert body(response) == DATA


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ],
)
def test_it_answers_a_range_with_206(api, publisher, stored_version, header, start, end):
    response = api(publisher).get(URL, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == DATA[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert (
        response["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    )  # the representation's, not the range's


@pytest.mark.parametrize("header", ["bytes=20000-", "bytes=50-10", "bytes=abc", "bytes=-0", "bytes=-"])
def test_it_refuses_an_unsatisfiable_range_with_416(api, publisher, version, header):
    response = api(publisher).get(URL, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert response.json()["errors"][0]["code"] == "range_not_satisfiable"
    assert response.json()["errors"][0]["attr"] == "Range"


def test_it_ignores_a_range_when_if_range_does_not_match(api, publisher, version):
    response = api(publisher).get(URL, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"stale"')
    assert response.status_code == 200
    assert body(response) == DATA


def test_it_answers_304_when_the_etag_matches(api, publisher, stored_version):
    etag = f'"{hashlib.sha256(DATA).hexdigest()}"'
    client = api(publisher)
    response = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert client.get(URL, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert client.get(URL, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_head_gives_the_headers_without_the_body(api, publisher, stored_version):
    response = api(publisher).head(URL)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""


def test_an_empty_file_downloads(api, publisher, stored_version):
    response = api(publisher).get(
        "/api/v1/models/fraud-detector/versions/1/files/empty.txt", HTTP_RANGE="bytes=0-"
    )
    assert response.status_code == 200
    assert body(response) == b""
    assert response["Content-Length"] == "0"


def test_it_downloads_by_reference(api, publisher, version):
    response = api(publisher).get("/api/v1/models/fraud-detector/versions/latest/files/weights/model.bin")
    assert body(response) == DATA


def test_the_url_path_only_looks_up_a_record(api, publisher, version):
    client = api(publisher)
    for path in ["weights/../weights/model.bin", "model.bin", "weights/model.bin/", "%2e%2e/etc/passwd"]:
        response = client.get(f"/api/v1/models/fraud-detector/versions/1/files/{path}")
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["code"] in ("file_not_found", "not_found")


def test_it_refuses_to_serve_a_version_that_is_not_ready(api, publisher, registered_model):
    version = register(registered_model, publisher, files={"weights/model.bin": DATA})
    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.FAILED)
    client = api(publisher)
    with nothing_written():
        response = client.get(URL)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "version_not_ready"


def test_it_answers_503_when_the_stored_bytes_are_unreachable(api, publisher, any_storage, stored_version):
    key = ArtifactFile.objects.get(path="weights/model.bin").storage_key
    any_storage.delete(key)
    assert not any_storage.exists(key)
    client = api(publisher)
    client.raise_request_exception = False  # a 5xx is reported as a request exception; we want the answer
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "storage_unavailable"
