"""rules.may_publish, rules.may_edit_version, rules.version_usable and rules.may_manage_uploads."""

import pytest

from models_app import rules
from models_app.choices import VersionStatus
from models_app.exceptions import NotAllowed, VersionNotReady
from models_app.models import UploadSession
from tests.rules.facts import assert_refused, version


@pytest.mark.parametrize("name", ["publisher", "publisher2", "superuser"])
def test_team_publishers_publish(persona, registered_model, name):
    assert rules.may_publish(persona(name), registered_model=registered_model) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "governance", "norole", "inactive_publisher"])
def test_nobody_else_publishes(persona, registered_model, name):
    assert_refused(
        rules.may_publish(persona(name), registered_model=registered_model),
        NotAllowed,
        "permission_denied",
        "Only Publishers of team 'fraud-team' can register versions of 'fraud-detector'.",
    )


@pytest.mark.parametrize("name", ["publisher", "publisher2", "governance", "superuser"])
def test_team_publishers_and_governance_edit_versions(persona, registered_model, name):
    assert rules.may_edit_version(persona(name), version=version(registered_model)) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "norole", "inactive_publisher"])
def test_nobody_else_edits_versions(persona, registered_model, name):
    assert_refused(
        rules.may_edit_version(persona(name), version=version(registered_model)),
        NotAllowed,
        "permission_denied",
        "Only the model's team publishers can edit its versions.",
    )


def test_a_ready_version_is_usable(registered_model):
    assert rules.version_usable(version(registered_model), to="change stage") is None


@pytest.mark.parametrize("status", [VersionStatus.PENDING, VersionStatus.FAILED])
def test_a_version_that_is_not_ready_is_not_usable(registered_model, status):
    v3 = version(registered_model, number=3, status=status)
    refusal = rules.version_usable(v3, to="be downloaded")
    assert_refused(refusal, VersionNotReady, "version_not_ready")
    assert refusal.message == f"v3 is {status}; only ready versions can be downloaded."


def test_version_usable_names_the_field_it_is_given(registered_model):
    pending = version(registered_model, status=VersionStatus.PENDING)
    assert_refused(
        rules.version_usable(pending, to="be downloaded", field="ref"),
        VersionNotReady,
        "version_not_ready",
        "v1 is pending",
        field="ref",
    )


@pytest.fixture
def upload_by(registered_model):
    """An unsaved upload session of a pending version, opened by the given user."""

    def make(user):
        return UploadSession(
            version=version(registered_model, status=VersionStatus.PENDING), created_by=user, part_size=1
        )

    return make


@pytest.mark.parametrize("name", ["publisher", "publisher2", "superuser"])
def test_team_publishers_manage_any_upload_of_the_model(persona, publisher, upload_by, name):
    assert rules.may_manage_uploads(persona(name), session=upload_by(publisher)) is None


def test_whoever_opened_an_upload_manages_it_even_from_outside_the_team(outsider, upload_by):
    assert rules.may_manage_uploads(outsider, session=upload_by(outsider)) is None


@pytest.mark.parametrize("name", ["outsider", "reviewer", "governance", "norole", "inactive_publisher"])
def test_nobody_else_manages_an_upload(persona, publisher, upload_by, name):
    assert_refused(
        rules.may_manage_uploads(persona(name), session=upload_by(publisher)),
        NotAllowed,
        "permission_denied",
        "Only the model's team publishers can see, complete or abort its uploads.",
    )
