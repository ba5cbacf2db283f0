"""The approval rules through the real ``mlflow`` client: a protected alias is not set, moved or removed
directly, the Production version does not leave Production by a stage move, and a purged version's files
are refused with a clear error (never a 5xx the client would retry)."""

from __future__ import annotations

import pytest

from models_app import services
from models_app.choices import Stage
from models_app.models import LedgerEntry, ModelAlias, ModelVersion, RegisteredModel
from tests.mlflow.conftest import log_addn
from tests.mlflow.test_registry_client import error_of, stages

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

NAME = "fraud-gov"


@pytest.fixture(scope="module")
def lineup(registry):
    """``fraud-gov``: v1 Archived with its files purged, v2 without a stage, v3 in Production; @champion
    is protected and points at v3 (by an approved request)."""
    import mlflow
    from mlflow import MlflowClient

    users = registry.users
    with pytest.MonkeyPatch.context() as patch:
        registry.use(patch, "publisher")
        mlflow.set_experiment("governance-client")
        with mlflow.start_run() as run:
            info, _ = log_addn(7)
        client = MlflowClient()
        client.create_registered_model(NAME)
        for _ in range(3):
            client.create_model_version(
                NAME, source=f"models:/{info.model_id}", run_id=run.info.run_id, model_id=info.model_id
            )
    v1, v3 = (ModelVersion.objects.get(registered_model__name=NAME, version=n) for n in (1, 3))
    model = RegisteredModel.objects.get(name=NAME)
    for version in (v1, v3):
        services.version_transition(version=version, to=Stage.STAGING, actor=users["publisher"])
        req = services.transition_request_create(
            version=version, to=Stage.PRODUCTION, actor=users["publisher"]
        )
        services.transition_request_approve(transition_request=req, actor=users["reviewer"])
    v1.refresh_from_db()
    services.version_purge(version=v1, actor=users["governance"], reason="Training data withdrawn.")
    services.promotion_policy_set(
        registered_model=model, actor=users["governance"], protected_aliases=["champion"]
    )
    req = services.transition_request_create(version=v3, to="@champion", actor=users["publisher"])
    services.transition_request_approve(transition_request=req, actor=users["reviewer"])
    return NAME


def test_a_protected_alias_is_not_set_moved_or_removed_through_mlflow(as_user, lineup):
    before = (LedgerEntry.objects.count(), list(ModelAlias.objects.values_list("name", "version__version")))
    for persona in ("publisher", "lead"):
        client = as_user(persona)
        assert client.get_model_version_by_alias(lineup, "champion").version == "3"
        code, message = error_of(lambda c=client: c.set_registered_model_alias(lineup, "champion", "2"))
        assert code == "PERMISSION_DENIED"
        assert "protected alias" in message and "POST /api/v1/transition-requests/" in message
        assert '"to": "@champion"' in message
        code, message = error_of(lambda c=client: c.delete_registered_model_alias(lineup, "champion"))
        assert code == "PERMISSION_DENIED"
        assert f"PUT /api/v1/models/{lineup}/policy/" in message
    assert (
        LedgerEntry.objects.count(),
        list(ModelAlias.objects.values_list("name", "version__version")),
    ) == before
    # An unprotected alias moves as before.
    client = as_user("publisher")
    client.set_registered_model_alias(lineup, "challenger", "2")
    assert client.get_model_version_by_alias(lineup, "challenger").version == "2"
    client.delete_registered_model_alias(lineup, "challenger")


def test_the_production_version_does_not_leave_production_through_mlflow(as_user, lineup):
    before = (stages(lineup), LedgerEntry.objects.count())
    for persona, target in (
        ("reviewer", "Archived"),
        ("lead", "Archived"),
        ("publisher", "Staging"),
        ("lead", "None"),
    ):
        code, message = error_of(
            lambda p=persona, t=target: as_user(p).transition_model_version_stage(lineup, "3", t)
        )
        assert code == "PERMISSION_DENIED", message
        assert "is in Production; moving it out needs an approved request" in message
        assert '"to": "archived"' in message
    assert (stages(lineup), LedgerEntry.objects.count()) == before
    assert stages(lineup)[3] == Stage.PRODUCTION


def test_a_purged_versions_files_are_refused_with_a_clear_client_error(as_user, lineup, tmp_path):
    import mlflow
    from mlflow.exceptions import MlflowException

    client = as_user("reviewer")
    purged = client.get_model_version(lineup, "1")
    assert purged.current_stage == "Archived"
    # Not READY (so no pipeline deploys it); the message says why.
    assert purged.status == "FAILED_REGISTRATION"
    assert "Training data withdrawn." in purged.status_message
    code, message = error_of(lambda: client.get_model_version_download_uri(lineup, "1"))
    assert code == "RESOURCE_DOES_NOT_EXIST"
    assert "v1's files were purged" in message
    with pytest.raises(MlflowException) as caught:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{lineup}/1", dst_path=str(tmp_path))
    assert "purged" in str(caught.value)
    assert not any(tmp_path.rglob("*.bin"))
    # The Production version still downloads.
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{lineup}/3", dst_path=str(tmp_path / "v3")
    )
    assert any(p.name == "weights.bin" for p in (tmp_path / "v3").rglob("*")) and local
