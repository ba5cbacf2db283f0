from models_app.choices import LedgerKind, RequestStatus, Stage
from models_app.ledger import verify_chain
from models_app.models import StageTransition
from tests.conftest import promote, register


def test_it_registers_promotes_and_chains_the_ledger(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    req = promote(v1, publisher, reviewer)
    assert v1.version == 1
    assert v1.stage == Stage.PRODUCTION
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    kinds = list(StageTransition.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == [
        LedgerKind.REGISTERED,
        LedgerKind.DIRECT,
        LedgerKind.REQUESTED,
        LedgerKind.APPROVAL,
        LedgerKind.APPROVED,
    ]
    assert verify_chain().ok
