"""selectors.version_get (every kind of version reference), selectors.version_file_get and the small
version reads the pages use."""

import pytest

from models_app import selectors, services
from models_app.choices import VersionStatus
from models_app.exceptions import FileNotFound, VersionNotFound, VersionNotReady
from models_app.models import ModelVersion
from tests.conftest import nothing_written, promote, register

NOT_A_REFERENCE = (
    "is not a version reference; use a number, 'latest', 'production', 'staging', 'archived' or '@alias'."
)


@pytest.fixture
def story(registered_model, publisher, reviewer):
    """v1 archived (was Production), v2 in Production, v3 and v4 in Staging, champion -> v3, v5 pending."""
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer)
    v3 = register(registered_model, publisher)
    v4 = register(registered_model, publisher)
    for v in (v3, v4):
        services.version_transition(version=v, to="staging", actor=publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=3, actor=publisher)
    v5 = ModelVersion.objects.create(registered_model=registered_model, version=5, created_by=publisher)
    return {v.version: v for v in (v1, v2, v3, v4, v5)}


def ref(model, text):
    return selectors.version_get(registered_model=model, ref=text).version


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        (2, 2),
        (" 3 ", 3),
        ("5", 5),  # a number finds the version whatever its status
        ("latest", 4),  # the newest ready version: v5 is still pending
        ("latest ", 4),
        ("production", 2),
        ("staging", 4),  # the newest version in Staging
        ("archived", 1),
        ("@champion", 3),
    ],
)
def test_every_kind_of_reference_resolves(story, registered_model, text, number):
    assert ref(registered_model, text) == number


def test_the_resolved_version_comes_with_its_model_files_and_aliases(story, registered_model):
    v3 = selectors.version_get(registered_model=registered_model, ref="@champion")
    assert v3.registered_model == registered_model
    assert [f.path for f in v3.files.all()] == ["model.bin"]
    assert [a.name for a in v3.aliases.all()] == ["champion"]


@pytest.mark.parametrize("text", ["9", "0", "@challenger"])
def test_a_reference_to_nothing_is_version_not_found(story, registered_model, text):
    with pytest.raises(VersionNotFound) as exc:
        ref(registered_model, text)
    assert exc.value.code == "version_not_found"
    assert exc.value.field == "ref"
    assert exc.value.message == f"'fraud-detector' has no version '{text}'."


@pytest.mark.parametrize("text", ["prod", "v1", "-1", "1.0", "none", "Production", "@", "", " @ "])
def test_text_that_is_no_reference_is_named_as_such(story, registered_model, text):
    with pytest.raises(VersionNotFound) as exc:
        ref(registered_model, text)
    assert exc.value.field == "ref"
    assert exc.value.message == f"'{text.strip()}' {NOT_A_REFERENCE}"


def test_stage_references_find_nothing_when_no_version_holds_the_stage(registered_model, publisher):
    register(registered_model, publisher)
    for text in ("production", "staging", "archived"):
        with pytest.raises(VersionNotFound) as exc:
            ref(registered_model, text)
        assert exc.value.message == f"'fraud-detector' has no version '{text}'."
        assert exc.value.field == "ref"


def test_latest_finds_nothing_while_no_version_is_ready(registered_model, publisher):
    ModelVersion.objects.create(registered_model=registered_model, version=1, created_by=publisher)
    with pytest.raises(VersionNotFound) as exc:
        ref(registered_model, "latest")
    assert exc.value.field == "ref"


def test_references_stay_within_their_model(story, registered_model, publisher, team):
    other = services.registered_model_create(name="churn", team=team, actor=publisher)
    services.alias_set(registered_model=registered_model, alias="shared", version_number=1, actor=publisher)
    for text in ("1", "latest", "production", "@champion", "@shared"):
        with pytest.raises(VersionNotFound):
            ref(other, text)


# -- version_file_get -------------------------------------------------------------------------------------


def test_a_ready_versions_file_is_found_by_path(story):
    record = selectors.version_file_get(version=story[2], path="model.bin")
    assert record.version == story[2]
    assert record.size == len(b"weights-1")


def test_a_missing_path_is_file_not_found(story):
    with pytest.raises(FileNotFound) as exc:
        selectors.version_file_get(version=story[2], path="weights/model.bin")
    assert exc.value.field == "path"
    assert exc.value.message == "v2 of 'fraud-detector' has no file 'weights/model.bin'."


@pytest.mark.parametrize("status", [VersionStatus.PENDING, VersionStatus.FAILED])
def test_a_version_that_is_not_ready_is_not_downloaded(story, status):
    v5 = story[5]
    ModelVersion.objects.filter(pk=v5.pk).update(status=status)
    v5.refresh_from_db()
    with nothing_written(), pytest.raises(VersionNotReady) as exc:
        selectors.version_file_get(version=v5, path="model.bin")
    assert exc.value.code == "version_not_ready"
    assert exc.value.field == "ref"
    assert exc.value.message == f"v5 is {status}; only ready versions can be downloaded."


# -- lineage and Production history -----------------------------------------------------------------------


def test_children_are_the_versions_naming_it_as_parent(story, registered_model):
    ModelVersion.objects.filter(pk__in=[story[3].pk, story[4].pk]).update(parent=story[2])
    assert [v.version for v in selectors.version_list_children(version=story[2])] == [3, 4]
    assert list(selectors.version_list_children(version=story[1])) == []


def test_ever_in_production_reads_the_ledger(story):
    assert selectors.version_ever_in_production(version=story[1])  # archived now, but it was there
    assert selectors.version_ever_in_production(version=story[2])
    assert not selectors.version_ever_in_production(version=story[3])


def test_the_version_list_is_newest_first_per_model(story, registered_model):
    assert [v.version for v in selectors.version_list(registered_model=registered_model)] == [5, 4, 3, 2, 1]
