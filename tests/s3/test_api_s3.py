"""The S3-only artifact API: direct uploads, presigned downloads over HTTP, and 503 when the bucket is
unreachable. Registration and download on both backends are tested in tests/api."""

from __future__ import annotations

import hashlib
import os

import httpx

from models_app.choices import UploadStatus, VersionStatus
from models_app.models import ModelVersion, UploadSession
from models_app.storage import objectstore
from tests.api.conftest import post_version, sha256
from tests.conftest import nothing_written

MiB = 1024 * 1024


def bucket_keys(storage):
    return sorted(o.key for o in objectstore.list_artifact_objects(storage))


def error(response):
    body = response.json()
    return body["errors"][0]["code"], body["errors"][0]["attr"], body["errors"][0]["detail"]


def file_url(model="fraud-detector", ref=1, path="weights/model.bin"):
    return f"/api/v1/models/{model}/versions/{ref}/files/{path}"


def begin(client, files: dict[str, bytes], *, digests=None, model="fraud-detector", **headers):
    return client.post(
        f"/api/v1/models/{model}/uploads/",
        {
            "metadata": {"metrics": {"accuracy": 0.91}},
            "files": [
                {"path": p, "size": len(d), "sha256": (digests or {}).get(p, sha256(d))}
                for p, d in files.items()
            ],
        },
        format="json",
        **headers,
    )


def put_parts(session: dict, files: dict[str, bytes]) -> None:
    """The client's side: each part straight to the bucket, with no registry credentials."""
    with httpx.Client(timeout=30) as bucket:
        for spec in session["files"]:
            data = files[spec["path"]]
            for part in spec["parts"]:
                answer = bucket.put(part["url"], content=data[part["offset"] : part["offset"] + part["size"]])
                assert answer.status_code == 200, answer.text


def complete(client, session: dict):
    return client.post(session["complete_url"].removeprefix("http://testserver"))


def test_it_uploads_directly_in_parts_and_redirects_downloads(
    s3_storage, small_parts, settings, api, publisher, registered_model
):
    client = api(publisher)
    big = os.urandom(11 * MiB)
    files = {"weights/model.bin": big, "README.md": b"# card"}
    answer = begin(client, files)
    assert answer.status_code == 201, answer.content
    session = answer.json()
    assert (session["version"], session["status"], session["version_status"]) == (1, "open", "pending")
    spec = {f["path"]: f for f in session["files"]}
    assert [p["size"] for p in spec["weights/model.bin"]["parts"]] == [5 * MiB, 5 * MiB, 1 * MiB]
    assert all(
        p["url"].startswith(settings.STORAGES["default"]["OPTIONS"]["endpoint_url"])
        for p in spec["README.md"]["parts"]
    )

    put_parts(session, files)
    done = complete(client, session)
    assert done.status_code == 200, done.content
    version = done.json()
    assert version["status"] == "ready" and version["version"] == 1
    assert {f["path"]: f["sha256"] for f in version["files"]} == {p: sha256(d) for p, d in files.items()}

    settings.REGISTRY_S3_REDIRECT_DOWNLOADS = True
    redirect = client.get(file_url())
    assert redirect.status_code == 302
    assert redirect["X-Checksum-Sha256"] == sha256(big) and redirect["ETag"] == f'"{sha256(big)}"'
    assert redirect["Repr-Digest"].startswith("sha-256=:")
    fetched = httpx.get(redirect["Location"], timeout=30)  # no registry credentials needed
    assert (
        fetched.status_code == 200
        and hashlib.sha256(fetched.content).hexdigest() == redirect["X-Checksum-Sha256"]
    )
    assert "model.bin" in fetched.headers["Content-Disposition"]
    ranged = httpx.get(redirect["Location"], headers={"Range": "bytes=0-9"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == big[:10]

    settings.REGISTRY_S3_REDIRECT_DOWNLOADS = False
    streamed = client.get(file_url())
    assert streamed.status_code == 200 and hashlib.sha256(
        b"".join(streamed.streaming_content)
    ).hexdigest() == sha256(big)


def test_completion_with_a_wrong_checksum_is_refused_and_cleaned_up(
    s3_storage, api, publisher, registered_model
):
    client = api(publisher)
    files = {"weights/model.bin": b"what was really uploaded"}
    session = begin(client, files, digests={"weights/model.bin": "f" * 64}).json()
    put_parts(session, files)
    answer = complete(client, session)
    assert answer.status_code == 400
    code, attr, detail = error(answer)
    assert (code, attr) == ("checksum_mismatch", "files.weights/model.bin.sha256")
    assert "weights/model.bin" in detail
    assert ModelVersion.objects.get().status == VersionStatus.FAILED
    assert bucket_keys(s3_storage) == [] and list(objectstore.list_multipart_uploads(s3_storage)) == []
    with nothing_written():
        assert client.get(file_url()).status_code == 409
    shown = client.get(f"/api/v1/models/fraud-detector/uploads/{session['id']}/").json()
    assert shown["status"] == "failed" and shown["files"][0]["parts"] == [] and "SHA-256" in shown["error"]


def test_direct_upload_needs_s3(api, publisher, registered_model):
    client = api(publisher)
    with nothing_written():
        answer = begin(client, {"m.bin": b"x"})
    assert answer.status_code == 409
    code, _, detail = error(answer)
    assert code == "direct_upload_unavailable" and "REGISTRY_STORAGE=s3" in detail
    assert not ModelVersion.objects.exists()


def test_it_refuses_bad_declarations_naming_the_field(s3_storage, api, publisher, registered_model):
    client = api(publisher)
    bad_path = client.post(
        "/api/v1/models/fraud-detector/uploads/",
        {"files": [{"path": "../etc/passwd", "size": 1, "sha256": "a" * 64}]},
        format="json",
    )
    assert bad_path.status_code == 400 and error(bad_path)[1] == "files[0].path"
    bad_sha = client.post(
        "/api/v1/models/fraud-detector/uploads/",
        {"files": [{"path": "m.bin", "size": 1, "sha256": "nope"}]},
        format="json",
    )
    assert bad_sha.status_code == 400 and error(bad_sha)[1] == "files.0.sha256"
    assert not ModelVersion.objects.exists()


def test_abort_detail_and_permissions(s3_storage, api, publisher, outsider, registered_model):
    client = api(publisher)
    session = begin(client, {"m.bin": b"abc"}, HTTP_IDEMPOTENCY_KEY="ci-run-7").json()
    retry = begin(client, {"m.bin": b"abc"}, HTTP_IDEMPOTENCY_KEY="ci-run-7")
    assert retry.status_code == 200 and retry.json()["id"] == session["id"]
    url = f"/api/v1/models/fraud-detector/uploads/{session['id']}/"
    as_outsider, anonymous = api(outsider), api(None)
    with nothing_written():
        assert as_outsider.get(url).status_code == 403
        assert as_outsider.delete(url).status_code == 403
        assert anonymous.get(url).status_code == 401
    assert client.get(url).json()["files"][0]["parts"][0]["url"].startswith("http://127.0.0.1:")
    assert client.delete(url).status_code == 204
    assert UploadSession.objects.get().status == UploadStatus.ABORTED
    with nothing_written():
        assert complete(client, session).status_code == 409
    assert (
        client.get("/api/v1/models/fraud-detector/uploads/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_the_bucket_unreachable_gives_503_not_500(
    s3_storage, s3_server, settings, api, publisher, registered_model
):
    client = api(publisher)
    ok = post_version(client, "fraud-detector", [("weights/model.bin", b"v1 bytes")])
    assert ok.status_code == 201
    session = begin(client, {"m.bin": b"abc"}).json()
    # The error handler reports 5xx answers through got_request_exception, which the test client re-raises.
    client.raise_request_exception = False
    with s3_server.down():
        failed = post_version(client, "fraud-detector", [("weights/model.bin", b"v2 bytes")])
        assert failed.status_code == 503 and error(failed)[0] == "storage_unavailable"
        download = client.get(file_url())
        assert download.status_code == 503 and "unreachable" in error(download)[2]
        begun = begin(client, {"n.bin": b"x"})
        assert begun.status_code == 503
        completed = complete(client, session)
        assert completed.status_code == 503 and "unreachable" in error(completed)[2]
    assert list(ModelVersion.objects.values_list("version", "status")) == [(2, "pending"), (1, "ready")]
    assert UploadSession.objects.get().status == UploadStatus.OPEN
