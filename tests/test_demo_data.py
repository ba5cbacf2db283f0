"""load_demo: a realistic, verifiable demo that a second run leaves exactly as it was."""

from __future__ import annotations

import io

from django.contrib.auth.models import Group, User
from django.core.management import call_command

from models_app.choices import RequestStatus, Role, Stage
from models_app.ledger import verify_chain
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)

COUNTED = (User, Group, RegisteredModel, ModelVersion, ArtifactFile, TransitionRequest, Approval, ModelAlias)


def counts() -> dict[str, int]:
    numbers = {model.__name__: model.objects.count() for model in COUNTED}
    numbers["LedgerEntry"] = LedgerEntry.objects.count()
    numbers["ApiToken"] = ApiToken.objects.count()
    return numbers


def load() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_it_loads_the_same_demo_twice_without_duplicates(db, artifact_root):
    first_output = load()
    first, first_files = counts(), stored_files(artifact_root)
    second_output = load()

    assert counts() == first
    assert stored_files(artifact_root) == first_files
    assert len(first_files) == first["ArtifactFile"]
    assert first["RegisteredModel"] == 3
    assert first["ModelVersion"] >= 6
    assert "demo-publisher" in first_output and "demo-admin" in second_output


def test_the_demo_has_production_a_pending_request_and_a_sound_ledger(db):
    load()
    production = ModelVersion.objects.filter(stage=Stage.PRODUCTION).select_related("registered_model")
    assert [str(v) for v in production] == ["fraud-detector v2"]
    pending = TransitionRequest.objects.get(status=RequestStatus.PENDING)
    assert (str(pending.version), pending.target_stage) == ("fraud-detector v3", Stage.PRODUCTION)
    assert (
        ModelVersion.objects.get(registered_model__name="fraud-detector", version=1).stage == Stage.ARCHIVED
    )
    churn = set(
        ModelVersion.objects.filter(registered_model__name="churn-predictor").values_list("stage", flat=True)
    )
    assert churn == {Stage.STAGING, Stage.ARCHIVED}
    # Production was reached through an approval by someone other than the requester.
    approval = Approval.objects.get(transition_request__version__stage=Stage.PRODUCTION)
    assert approval.reviewer.username == "reviewer2"
    assert approval.requester.username == "publisher"

    report = verify_chain()
    assert report.ok, report.problem
    assert report.checked == LedgerEntry.objects.count()


def test_the_demo_users_hold_their_roles(db):
    load()
    user = User.objects.get
    assert user(username="publisher").groups.filter(name=Role.PUBLISHERS).exists()
    assert user(username="reviewer").has_perm("models_app.decide_transitionrequest")
    assert (
        user(username="governance").is_staff
        and user(username="governance").groups.filter(name=Role.GOVERNANCE).exists()
    )
    assert user(username="admin").is_superuser
    assert user(username="publisher").check_password("demo-publisher")


def test_the_demo_versions_carry_realistic_metadata_and_files(db):
    load()
    versions = list(ModelVersion.objects.filter(registered_model__name="fraud-detector").order_by("version"))
    assert len({tuple(sorted(v.metrics.items())) for v in versions}) == len(versions)  # metrics vary
    v2 = versions[1]
    assert v2.parent == versions[0]
    assert v2.source_repository.startswith("https://") and len(v2.source_commit) == 40
    assert {"uri", "version", "digest"} <= set(v2.datasets[0])
    assert {"python_version", "framework", "libraries", "requirements"} <= set(v2.environment)
    assert v2.signature["inputs"] and v2.run_url.startswith("https://")
    files = {f.path: f for f in v2.files.all()}
    assert set(files) == {"config.json", "model.bin"}
    assert files["model.bin"].size == 4096 and files["config.json"].content_type == "application/json"
    assert ModelAlias.objects.filter(
        registered_model__name="fraud-detector", name="champion", version=v2
    ).exists()
