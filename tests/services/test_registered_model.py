import pytest

from models_app import services
from models_app.choices import LedgerKind
from models_app.exceptions import InvalidInput, ModelAlreadyExists, NotAllowed
from models_app.models import LedgerEntry, RegisteredModel
from tests.conftest import nothing_written


def test_it_creates_a_model_for_the_publishers_team(publisher, team):
    model = services.registered_model_create(
        name="churn.v2_model-x", team=team, actor=publisher, tags={"domain": "retention"}
    )
    assert model.team == team
    assert model.required_approvals == 1
    assert model.tags == {"domain": "retention"}


@pytest.mark.parametrize(
    "name", ["", "-leading-dash", ".hidden", "UPPER", "has space", "a/b", "x" * 101, "ünïcode", "semi;colon"]
)
def test_it_refuses_bad_names_naming_the_field(publisher, team, name):
    with pytest.raises(InvalidInput) as exc:
        services.registered_model_create(name=name, team=team, actor=publisher)
    assert exc.value.field == "name"
    assert not RegisteredModel.objects.exists()


def test_it_refuses_a_duplicate_name(registered_model, publisher, team):
    with nothing_written(), pytest.raises(ModelAlreadyExists) as exc:
        services.registered_model_create(name=registered_model.name, team=team, actor=publisher)
    assert exc.value.field == "name"


def test_it_refuses_creation_for_another_team(outsider, team):
    with nothing_written(), pytest.raises(NotAllowed):
        services.registered_model_create(name="not-mine", team=team, actor=outsider)


def test_it_refuses_creation_by_a_reviewer(reviewer, team):
    with nothing_written(), pytest.raises(NotAllowed):
        services.registered_model_create(name="not-mine", team=team, actor=reviewer)


@pytest.mark.parametrize("value", [0, 11, "2", True, None])
def test_it_refuses_bad_required_approvals(publisher, team, value):
    with pytest.raises(InvalidInput) as exc:
        services.registered_model_create(name="m", team=team, actor=publisher, required_approvals=value)
    assert exc.value.field == "required_approvals"


def test_team_publishers_edit_the_card_but_not_the_policy(registered_model, publisher2):
    services.registered_model_update(
        registered_model=registered_model, actor=publisher2, description="New card"
    )
    registered_model.refresh_from_db()
    assert registered_model.description == "New card"
    with nothing_written(), pytest.raises(NotAllowed):
        services.registered_model_update(
            registered_model=registered_model, actor=publisher2, required_approvals=2
        )


def test_governance_changes_required_approvals_and_the_ledger_records_it(registered_model, governance):
    services.registered_model_update(
        registered_model=registered_model, actor=governance, required_approvals=3
    )
    registered_model.refresh_from_db()
    assert registered_model.required_approvals == 3
    row = LedgerEntry.objects.get(kind=LedgerKind.MODEL_CHANGED)
    assert row.details == {"required_approvals": {"from": 1, "to": 3}}
    assert row.actor_username == governance.username


def test_outsiders_cannot_edit(registered_model, outsider):
    with nothing_written(), pytest.raises(NotAllowed):
        services.registered_model_update(registered_model=registered_model, actor=outsider, description="x")
