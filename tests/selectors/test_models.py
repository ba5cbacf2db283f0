"""selectors.registered_model_get and the annotations of selectors.registered_model_list."""

import pytest

from models_app import selectors, services
from models_app.exceptions import ModelNotFound
from tests.conftest import promote, register


@pytest.mark.parametrize("name", ["fraud-detector", "Fraud-Detector", "FRAUD-DETECTOR"])
def test_a_model_is_found_by_its_name_in_any_case(registered_model, name):
    assert selectors.registered_model_get(name=name) == registered_model


def test_an_unknown_name_is_model_not_found_naming_the_field(registered_model):
    with pytest.raises(ModelNotFound) as exc:
        selectors.registered_model_get(name="Fraud")
    assert (exc.value.code, exc.value.field, exc.value.message) == (
        "model_not_found",
        "name",
        "No model named 'Fraud'.",
    )


def test_the_list_annotates_production_staging_and_latest(registered_model, publisher, reviewer, team):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    for _ in range(2):
        services.version_transition(
            version=register(registered_model, publisher), to="staging", actor=publisher
        )
    services.registered_model_create(name="churn", team=team, actor=publisher)
    rows = {
        m.name: (m.production_version, m.staging_count, m.latest_version)
        for m in selectors.registered_model_list()
    }
    assert rows == {"churn": (None, 0, None), "fraud-detector": (1, 2, 3)}
    (model,) = [m for m in selectors.registered_model_list_with_staging() if m.name == "fraud-detector"]
    assert [v.version for v in model.staging_versions] == [3, 2]
