"""The MLflow door on S3 storage: uploads and copies go to the bucket under server keys, and downloads
follow a redirect to a presigned bucket URL (the client drops its token for the bucket's host)."""

from __future__ import annotations

import tempfile
import uuid

import httpx
import pytest
from django.test.utils import override_settings

from models_app.models import ArtifactFile, DraftArtifact, ModelVersion
from tests.mlflow.conftest import log_addn, predicts_plus, tree
from tests.s3_fixtures import s3_storage_settings

pytestmark = pytest.mark.s3
NAME = "bucket-scorer"


@pytest.fixture(scope="module")
def on_s3(registry, s3_server):
    """The registry's storage switched to a fresh bucket on the S3 test server, downloads redirected."""
    bucket = f"mlflow-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    storages = {
        "default": s3_storage_settings(s3_server, bucket),
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, REGISTRY_S3_REDIRECT_DOWNLOADS=True):
        yield bucket


@pytest.fixture(scope="module")
def registered(on_s3, registry):
    import mlflow
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        mlflow.set_experiment("on-s3")
        with mlflow.start_run():
            info, hashes = log_addn(42, registered_model_name=NAME)
        MlflowClient().set_registered_model_alias(NAME, "champion", "1")
    return info, hashes


def bucket_keys(s3_server, bucket) -> set[str]:
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {entry["Key"] for page in pages for entry in page.get("Contents", ())}


def test_drafts_and_the_versions_copies_are_objects_in_the_bucket(registered, on_s3, s3_server):
    info, _ = registered
    keys = bucket_keys(s3_server, on_s3)
    drafts = set(
        DraftArtifact.objects.filter(logged_model_id=info.model_id).values_list("storage_key", flat=True)
    )
    version = ModelVersion.objects.get(registered_model__name=NAME, version=1)
    copies = set(ArtifactFile.objects.filter(version=version).values_list("storage_key", flat=True))
    assert drafts and copies and not drafts & copies
    assert drafts | copies <= keys
    assert all(k.startswith(f"artifacts/{version.registered_model_id}/") for k in copies)


def test_serving_loads_through_the_presigned_redirect_byte_identical(registered, as_user):
    import mlflow

    _, hashes = registered
    as_user("reviewer")
    assert predicts_plus(mlflow.pyfunc.load_model(f"models:/{NAME}@champion"), 42)
    files = tree(mlflow.artifacts.download_artifacts(f"models:/{NAME}/1", dst_path=tempfile.mkdtemp()))
    assert files["artifacts/weights.bin"] == hashes["weights.bin"]
    assert files["artifacts/config.json"] == hashes["config.json"]


def test_a_file_download_answers_a_redirect_to_the_bucket(registered, registry, s3_server):
    answer = httpx.get(
        f"{registry.url}/api/2.0/mlflow-artifacts/artifacts/registry/{NAME}/1/artifacts/weights.bin",
        headers={"Authorization": f"Bearer {registry.tokens['reviewer']}"},
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(s3_server.endpoint) and "X-Amz-Signature=" in location
    record = ArtifactFile.objects.get(version__registered_model__name=NAME, path="artifacts/weights.bin")
    assert answer.headers["X-Checksum-Sha256"] == record.sha256
    # The presigned URL works without the registry token, as the client fetches it.
    import hashlib

    assert hashlib.sha256(httpx.get(location).content).hexdigest() == record.sha256
