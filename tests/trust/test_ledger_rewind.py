"""A ledger rewound by someone with database access is noticed: signed checkpoints (``anchor_audit``) in the
artifact storage, compared by ``verify_audit``, the API and the admin page; TRUNCATE is refused."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from models_app import audit_anchor, services
from models_app.exceptions import AnchorKeyMissing, AnchorRefused
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry
from models_app.storage import objectlock
from models_app.storage.artifacts import artifact_storage
from tests.conftest import promote, register
from tests.trust import tamper

KEY = "anchor-key-for-tests-" + "k" * 40


@pytest.fixture
def anchor_key(settings):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = KEY
    return KEY


@pytest.fixture
def history(registered_model, publisher, reviewer):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    services.version_transition(version=v2, to="staging", actor=publisher)
    return list(LedgerEntry.objects.order_by("id").values_list("id", flat=True))


def run(name, *args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def checkpoints() -> list[str]:
    return sorted(objectlock.list_keys(artifact_storage(), audit_anchor.PREFIX))


def test_without_a_checkpoint_a_rewind_looks_intact(history):
    """The gap the checkpoints close: the shorter chain verifies on its own."""
    tamper.rewind(3)
    report = verify_chain()
    assert report.ok and report.checked == len(history) - 3


def test_a_checkpoint_is_signed_and_stored(any_storage, history, anchor_key):
    code, out = run("anchor_audit")
    assert code == 0 and f"{len(history)} rows" in out
    (name,) = checkpoints()
    assert name.startswith("audit-anchors/") and name.endswith(f"-{len(history)}.json")
    body = json.loads(objectlock.read_bytes(any_storage, name))
    head = LedgerEntry.objects.order_by("-id").first()
    assert (body["count"], body["head_hash"], body["head_id"]) == (len(history), head.row_hash, head.pk)
    assert body["signature"] == audit_anchor.sign(body, KEY.encode())
    report = audit_anchor.verify_ledger()
    assert report.ok and report.anchor.status == "consistent"
    # Nothing new: nothing written.
    code, out = run("anchor_audit")
    assert code == 0 and "nothing written" in out and len(checkpoints()) == 1


def test_a_rewind_is_reported_by_the_command_the_api_and_the_admin(
    any_storage, history, anchor_key, client, reviewer, governance
):
    run("anchor_audit")
    (name,) = checkpoints()
    tamper.rewind(3)

    report = audit_anchor.verify_ledger()
    assert (report.ok, report.kind, report.first_bad_id) == (False, "rewound", None)
    assert report.anchor.status == "rewound" and report.anchor.checkpoint.count == len(history)
    assert f"fewer than the {len(history)}" in report.problem

    code, message = run("verify_audit")
    assert code == 1
    assert "Ledger rewound" in message and name in message and f"{len(history)} rows at" in message

    client.force_login(reviewer)
    body = client.get(reverse("api:audit-verify")).json()
    assert (body["ok"], body["kind"]) == (False, "rewound")
    assert body["anchor"]["status"] == "rewound" and body["anchor"]["count"] == len(history)
    assert body["anchor"]["checkpoint"] == name and body["anchor"]["created_at"]

    client.force_login(governance)
    page = client.get(reverse("admin:models_app_ledgerentry_verify"))
    assert page.status_code == 200
    assert b"<strong>Rewound</strong>" in page.content and name.encode() in page.content


def test_rows_rebuilt_after_the_checkpoint_position_are_reported(any_storage, history, anchor_key):
    run("anchor_audit")
    # Same number of rows, every link and hash valid: only the checkpoint knows the last row's hash.
    tamper.rebuild_after(len(history) - 1, "a different approval")
    assert verify_chain().ok
    report = audit_anchor.verify_ledger()
    assert (report.ok, report.kind) == (False, "rewound")
    assert report.first_bad_id == history[-1]


def test_anchoring_refuses_to_bless_a_rewind_and_rebase_is_explicit(any_storage, history, anchor_key):
    run("anchor_audit")
    tamper.rewind(2)
    code, message = run("anchor_audit")
    assert code == 1 and "does not extend" in message
    assert len(checkpoints()) == 1
    with pytest.raises(AnchorRefused):
        audit_anchor.anchor_write()
    # After a restore from a backup the operator rebases, which supersedes the newest checkpoint.
    code, out = run("anchor_audit", "--rebase")
    assert code == 0 and "(rebased)" in out
    newest = audit_anchor.newest_checkpoint()
    assert newest.count == len(history) - 2 and newest.rebased_from["count"] == len(history)
    assert audit_anchor.verify_ledger().ok


def test_after_a_restore_the_ledger_is_compared_with_the_checkpoint_before_the_backup(
    any_storage, history, anchor_key, registered_model, publisher
):
    run("anchor_audit")
    (before_backup,) = checkpoints()
    register(registered_model, publisher)  # written after the backup, lost with the restore
    run("anchor_audit")
    tamper.rewind(LedgerEntry.objects.count() - len(history))  # what restoring the dump does

    code, message = run("verify_audit")
    assert code == 1 and "Ledger rewound" in message
    code, out = run("verify_audit", "--checkpoint", before_backup)
    assert code == 0 and "Ledger intact" in out and before_backup in out
    code, message = run("verify_audit", "--checkpoint", "audit-anchors/nope.json")
    assert code == 1 and "no checkpoint audit-anchors/nope.json" in message
    run("anchor_audit", "--rebase")
    assert run("verify_audit")[0] == 0


def test_later_rows_extend_the_checkpoint(any_storage, history, anchor_key, registered_model, publisher):
    run("anchor_audit")
    register(registered_model, publisher)
    assert audit_anchor.verify_ledger().ok
    code, _ = run("anchor_audit")
    assert code == 0 and len(checkpoints()) == 2
    assert audit_anchor.newest_checkpoint().previous == checkpoints()[0]


def test_a_forged_checkpoint_is_reported(any_storage, history, anchor_key):
    run("anchor_audit")
    forged = {
        "format": 1,
        "count": 1,
        "head_hash": "0" * 64,
        "head_id": 1,
        "created_at": "2999-01-01T00:00:00+00:00",
    }
    forged["signature"] = audit_anchor.sign(forged, b"not the key")
    objectlock.write_once(
        any_storage, "audit-anchors/29990101T000000000000Z-1.json", json.dumps(forged).encode()
    )
    report = audit_anchor.verify_ledger()
    assert (report.ok, report.kind, report.anchor.status) == (False, "anchor_invalid", "invalid")
    code, message = run("anchor_audit")
    assert code == 1 and "does not verify" in message


def test_without_a_key_nothing_is_anchored_and_verification_says_so(history, settings):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = ""
    with pytest.raises(AnchorKeyMissing):
        audit_anchor.anchor_write()
    code, message = run("anchor_audit")
    assert code == 1 and "REGISTRY_AUDIT_ANCHOR_KEY is not set" in message
    code, out = run("verify_audit")
    assert code == 0 and "Checkpoint not compared (unconfigured)" in out
    assert checkpoints() == []


def test_no_checkpoint_yet_is_said(history, anchor_key):
    report = audit_anchor.verify_ledger()
    assert report.ok and report.anchor.status == "none"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_truncate_of_the_ledger_is_refused(postgres_only, history):
    rows = LedgerEntry.objects.count()
    for statement in (
        f"TRUNCATE {tamper.TABLE} CASCADE",
        f"TRUNCATE {tamper.TABLE}, models_app_event CASCADE",
    ):
        with (
            pytest.raises(DatabaseError, match="Cannot truncate"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement)
    assert LedgerEntry.objects.count() == rows
    assert verify_chain().ok
