"""The version representation written out for rows read by ``selectors.version_rows`` gives exactly what
the serializer's declared fields give (they are the contract the schema is built from), key order
included, for versions with every kind of metadata, holds, aliases, deployments and an MLflow origin."""

import json

import pytest
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from models_app import selectors, services
from models_app.api.version_representation import ModelVersionSerializer
from models_app.models import VersionOrigin
from models_app.services.tracking import experiment_create, run_create
from tests.conftest import register

FULL = {
    "source": {"repository": "https://git.example.com/fraud.git", "commit": "a" * 40, "branch": "main"},
    "datasets": [
        {"uri": "s3://data/train.parquet", "version": "7", "digest": "sha256:" + "b" * 64, "name": "train"},
        {"uri": "s3://data/test.parquet"},
    ],
    "parameters": {"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}, "none": None},
    "metrics": {"accuracy": 0.93, "auc": 1},
    "environment": {
        "python_version": "3.11.7",
        "framework": "sklearn",
        "framework_version": "1.5.0",
        "libraries": {"numpy": "2.1.0", "pandas": "2.2.2"},
        "requirements": "numpy==2.1.0\npandas==2.2.2\n",
    },
    "signature": {"inputs": [{"name": "amount", "type": "double"}], "outputs": [{"type": "long"}]},
    "description": "Gradient boosting, **tuned**.",
    "tags": {"task": "fraud", "owner": "risk"},
    "run_url": "https://ci.example.com/runs/42",
}


def _declared(serializer, instance) -> dict:
    """What DRF's declared fields give for ``instance`` (the generic path the fast one stands in for)."""
    return drf.ModelSerializer.to_representation(serializer, instance)


@pytest.fixture
def versions(registered_model, publisher, reviewer, governance):
    v1 = register(registered_model, publisher, metadata={})
    v2 = register(registered_model, publisher, files={"a.bin": b"a", "dir/b c.bin": b"b"}, metadata=FULL)
    v3 = register(registered_model, publisher, metadata={**FULL, "parent_version": 2, "environment": {}})
    services.version_transition(version=v2, to="staging", actor=publisher)
    request = services.transition_request_create(version=v2, to="production", actor=publisher)
    services.transition_request_approve(transition_request=request, actor=reviewer)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=2, actor=publisher)
    services.alias_set(registered_model=registered_model, alias="b-side", version_number=2, actor=publisher)
    services.deployment_report(version=v2, actor=publisher, environment="prod", status="succeeded")
    services.deployment_report(version=v2, actor=publisher, environment="canary", status="failed")
    services.version_hold(version=v1, actor=governance, reason="Litigation 42.")
    run = run_create(experiment=experiment_create(name="fraud", actor=publisher), actor=publisher)
    VersionOrigin.objects.create(version=v3, run=run, source=f"runs:/{run.pk}/model")
    return [v1, v2, v3]


@pytest.mark.parametrize("query", ["", "?format=json"])
@pytest.mark.parametrize("number", [1, 2, 3])
def test_a_version_row_gives_what_the_declared_fields_give(
    versions, registered_model, number, query, settings
):
    settings.ALLOWED_HOSTS = ["registry.example.com"]
    request = Request(APIRequestFactory().get("/api/v1/" + query, HTTP_HOST="registry.example.com"))
    serializer = ModelVersionSerializer(context={"request": request})
    row = selectors.version_read(name=registered_model.name, ref=str(number))
    fast = serializer.to_representation(row)
    assert json.dumps(fast) == json.dumps(_declared(serializer, row))
    # And the generic path over the prefetch-free row is what the fast path is meant to shorten.
    assert fast["version"] == number and fast["model"] == "fraud-detector"
    assert fast["url"].startswith("http://registry.example.com/api/v1/models/fraud-detector/versions/")
    assert fast["url"].endswith(f"/{number}/" + query)


def test_the_fast_path_covers_each_kind_of_value(versions, registered_model):
    request = APIRequestFactory().get("/api/v1/")
    serializer = ModelVersionSerializer(context={"request": request})
    by_number = {
        v.version: serializer.to_representation(v)
        for v in selectors.version_rows().filter(registered_model=registered_model)
    }
    assert by_number[1]["held"] is True and by_number[1]["hold"]["scope"] == "version"
    assert by_number[1]["environment"] is None or by_number[1]["environment"] == {}
    assert by_number[2]["aliases"] == ["b-side", "champion"]
    assert [d["environment"] for d in by_number[2]["deployments"]] == ["canary", "prod"]
    assert by_number[2]["datasets"][1] == {"uri": "s3://data/test.parquet"}
    assert by_number[2]["metrics"] == {"accuracy": 0.93, "auc": 1.0}
    assert by_number[2]["files"][1]["url"].endswith("/versions/2/files/dir/b%20c.bin")
    assert by_number[3]["parent_version"] == 2 and by_number[3]["environment"] == {}
    assert by_number[3]["run"]["source"].startswith("runs:/") and by_number[3]["run"]["url"]
    for version in selectors.version_rows().filter(registered_model=registered_model):
        assert serializer.to_representation(version) == _declared(serializer, version)
