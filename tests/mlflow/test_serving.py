"""Serving code written against the client loads registered versions unchanged: by alias, number, stage and
``latest``, byte-identical to what was logged, and the loaded model predicts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from models_app import services
from models_app.choices import Stage
from models_app.models import ModelVersion
from tests.mlflow.conftest import log_addn, predicts_plus, sha256_file, tree

NAME = "fraud-scorer"
ADDENDS = {"1": 10, "2": 20, "3": 30}


@pytest.fixture(scope="module")
def served(registry):
    """Three versions of one model logged and registered by one run (n = 10, 20, 30); v1 in Staging and
    ``@champion``, v2 promoted to Production the registry's way (request and approval)."""
    import mlflow
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        mlflow.set_experiment("serving")
        hashes = {}
        with mlflow.start_run():
            for version, n in ADDENDS.items():
                info, files = log_addn(n, name=f"model{version}", registered_model_name=NAME)
                assert str(info.registered_model_version) == version
                hashes[version] = files
        client = MlflowClient()
        client.transition_model_version_stage(NAME, "1", "Staging")
        client.set_registered_model_alias(NAME, "champion", "1")
    v2 = ModelVersion.objects.get(registered_model__name=NAME, version=2)
    services.version_transition(version=v2, to=Stage.STAGING, actor=registry.users["publisher"])
    request = services.transition_request_create(
        version=v2, to=Stage.PRODUCTION, actor=registry.users["publisher"]
    )
    services.transition_request_approve(transition_request=request, actor=registry.users["reviewer"])
    return hashes


@pytest.mark.parametrize(
    ("uri", "version"),
    [
        (f"models:/{NAME}@champion", "1"),
        (f"models:/{NAME}/2", "2"),
        (f"models:/{NAME}/Production", "2"),
        (f"models:/{NAME}/Staging", "1"),
        (f"models:/{NAME}/latest", "3"),
        (f"models:/{NAME}@latest", "3"),
    ],
)
def test_a_model_uri_loads_the_right_version_byte_identical(served, as_user, uri, version):
    import mlflow

    as_user("reviewer")  # serving needs only read access
    model = mlflow.pyfunc.load_model(uri)
    assert predicts_plus(model, ADDENDS[version])

    downloaded = Path(mlflow.artifacts.download_artifacts(uri, dst_path=tempfile.mkdtemp()))
    files = tree(downloaded)
    assert files["artifacts/config.json"] == served[version]["config.json"]
    assert files["artifacts/weights.bin"] == served[version]["weights.bin"]
    # Every file is what the registry recorded for that version, as a native download would give it.
    stored = {
        f.path: f.sha256
        for f in ModelVersion.objects.get(registered_model__name=NAME, version=version).files.all()
    }
    assert {k: v for k, v in files.items() if k != "registered_model_meta"} == stored


def test_a_single_file_below_a_model_uri_downloads(served, as_user):
    import mlflow

    as_user("reviewer")
    path = mlflow.artifacts.download_artifacts(
        f"models:/{NAME}/2/artifacts/weights.bin", dst_path=tempfile.mkdtemp()
    )
    assert sha256_file(path) == served["2"]["weights.bin"]


def test_the_download_uri_the_registry_hands_out_resolves_against_the_tracking_uri(served, as_user):
    import mlflow

    client = as_user("reviewer")
    uri = client.get_model_version_download_uri(NAME, "3")
    assert uri == f"mlflow-artifacts:/registry/{NAME}/3"
    downloaded = tree(mlflow.artifacts.download_artifacts(uri, dst_path=tempfile.mkdtemp()))
    assert downloaded["artifacts/weights.bin"] == served["3"]["weights.bin"]


def test_stage_and_latest_lookups_answer_as_the_client_expects(served, as_user):
    client = as_user("reviewer")
    latest = client.get_latest_versions(NAME)
    assert sorted((v.current_stage, v.version) for v in latest) == [
        ("None", "3"),
        ("Production", "2"),
        ("Staging", "1"),
    ]
    assert [v.version for v in client.get_latest_versions(NAME, stages=["production"])] == ["2"]
    version = client.get_model_version_by_alias(NAME, "champion")
    assert (version.version, version.aliases, version.status) == ("1", ["champion"], "READY")
