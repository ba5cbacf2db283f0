"""Chunked request bodies under Django's own server (what `runserver` and the live-server fixture run):
refused with 411 where Django would read them as empty, and read correctly on the MLflow artifact path."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from models_app import services
from models_app.models import DraftArtifact, ModelVersion
from models_app.services.tokens import api_token_create
from tests.conftest import register

pytestmark = pytest.mark.django_db(transaction=True)


def _chunks(data: bytes, size: int = 7):
    # An iterator makes httpx send the body with Transfer-Encoding: chunked and no Content-Length.
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_patch_is_refused_under_the_development_server(live_server, publisher, registered_model):
    register(registered_model, publisher)
    _, token = api_token_create(user=publisher, name="chunked")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.patch(
            "/api/v1/models/fraud-detector/versions/1/",
            headers={"Content-Type": "application/json"},
            content=_chunks(b'{"description": "changed"}'),
            timeout=10,
        )
        assert answer.request.headers["Transfer-Encoding"] == "chunked"
        assert answer.status_code == 411
        assert answer.json()["errors"][0]["code"] == "length_required"
        # The connection was closed, so the unread chunks were not taken for a next request.
        assert client.get("/api/v1/models/fraud-detector/", timeout=10).status_code == 200
    assert ModelVersion.objects.get().description == ""


def test_a_chunked_artifact_upload_is_stored_whole_under_the_development_server(live_server, publisher):
    experiment = services.experiment_default(actor=publisher)
    run = services.run_create(experiment=experiment, actor=publisher)
    _, token = api_token_create(user=publisher, name="artifacts")
    data = b"weights " * 1000
    url = f"{live_server.url}/api/2.0/mlflow-artifacts/artifacts/{experiment.pk}/{run.id}/artifacts/model.bin"
    answer = httpx.put(
        url, headers={"Authorization": f"Bearer {token}"}, content=_chunks(data, 1000), timeout=10
    )
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 200, answer.text
    stored = DraftArtifact.objects.get(run=run, path="model.bin")
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
