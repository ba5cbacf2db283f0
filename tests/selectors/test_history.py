from datetime import timedelta

from django.utils import timezone

from models_app import selectors, services
from tests.conftest import promote, register


def test_history_replays_stages_aliases_and_approvals(registered_model, publisher, reviewer, reviewer2):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer, comment="offline eval ok")
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    moment = timezone.now()
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer2)

    then = selectors.model_history_at(registered_model=registered_model, at=moment)
    assert then.stages["production"] == [1]
    assert then.stages["none"] == []
    assert then.aliases == {"champion": 1}
    assert then.production_entry.kind == "approved"
    assert [a.actor_username for a in then.production_approvals] == [reviewer.username]
    assert then.production_approvals[0].comment == "offline eval ok"

    now = selectors.model_history_at(registered_model=registered_model, at=timezone.now())
    assert now.stages["production"] == [2]
    assert now.stages["archived"] == [1]

    before = selectors.model_history_at(registered_model=registered_model, at=moment - timedelta(days=1))
    assert before.stages["production"] == []
    assert before.production_entry is None
