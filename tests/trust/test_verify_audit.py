"""The hash chain catches altered, inserted and removed ledger rows: command, API and admin."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from models_app import services
from models_app.ledger import verify_chain
from models_app.models import LedgerEntry, LedgerHead
from tests.conftest import make_user, nothing_written, promote, register
from tests.trust import tamper


@pytest.fixture
def history(registered_model, publisher, reviewer):
    """A ledger of a dozen rows: two versions, a promotion, an alias."""
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    v2 = register(registered_model, publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    services.version_transition(version=v2, to="staging", actor=publisher)
    ids = list(LedgerEntry.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 8
    return ids


def run_command() -> str:
    try:
        call_command("verify_audit")
    except CommandError as exc:
        return str(exc)
    return ""


def test_it_reports_an_intact_chain(history, capsys):
    call_command("verify_audit")
    assert f"Ledger intact: {len(history)} row(s) verified." in capsys.readouterr().out
    report = verify_chain(batch_size=3)  # several batches
    assert report.ok and report.checked == len(history)


def test_it_names_an_altered_row(history):
    target = history[4]
    tamper.rewrite_comment(target, "nothing to see")
    report = verify_chain()
    assert (report.ok, report.first_bad_id, report.kind) == (False, target, "altered")
    assert report.checked == 5
    message = run_command()
    assert f"row {target}" in message and "altered" in message


def test_it_notices_a_row_rewritten_with_a_recomputed_hash(history):
    target = history[3]
    tamper.rewrite_comment_and_hash(target, "nothing to see")
    report = verify_chain()
    # The row verifies on its own, but its successor still links to the original hash.
    assert not report.ok and report.first_bad_id == history[4]
    assert f"row {target}" in report.problem


def test_it_names_the_row_after_a_removed_one(history):
    tamper.delete_row(history[5])
    report = verify_chain()
    assert (report.ok, report.first_bad_id, report.kind) == (False, history[6], "removed")
    assert f"row {history[4]}" in report.problem
    assert f"row {history[6]}" in run_command()


def test_it_detects_the_newest_row_removed(history):
    tamper.delete_row(history[-1])
    report = verify_chain()
    assert (report.ok, report.first_bad_id, report.kind) == (False, None, "truncated")
    assert "ends early" in run_command()


def test_it_names_an_inserted_row_with_a_made_up_link(history):
    forged = tamper.insert_copy(history[3])
    report = verify_chain()
    assert (report.ok, report.first_bad_id, report.kind) == (False, forged, "inserted")
    assert f"row {forged}" in run_command()


def test_it_names_an_inserted_row_chained_and_hashed_correctly(history):
    head = LedgerHead.objects.get(pk=1)
    forged = tamper.insert_copy(history[3], prev_hash=head.last_hash, valid_hash=True)
    report = verify_chain()
    assert (report.ok, report.first_bad_id, report.kind) == (False, forged, "inserted")


def test_the_api_reports_the_verdict(history, client, reviewer):
    client.force_login(reviewer)
    url = reverse("api:audit-verify")
    intact = client.get(url)
    assert intact.status_code == 200
    body = intact.json()
    assert body == {
        "ok": True,
        "checked": len(history),
        "first_bad_id": None,
        "kind": "",
        "problem": "",
        "anchor": {
            "status": "unconfigured",
            "detail": body["anchor"]["detail"],
            "checkpoint": None,
            "count": None,
            "created_at": None,
        },
    }
    assert "REGISTRY_AUDIT_ANCHOR_KEY is not set" in body["anchor"]["detail"]
    tamper.rewrite_comment(history[2], "edited")
    broken = client.get(url).json()
    assert (broken["ok"], broken["first_bad_id"], broken["kind"]) == (False, history[2], "altered")


def test_the_api_refuses_anonymous_and_roleless_callers(history, client, norole):
    url = reverse("api:audit-verify")
    with nothing_written():
        assert client.get(url).status_code in (401, 403)
    client.force_login(norole)
    with nothing_written():
        response = client.get(url)
    assert response.status_code == 403
    assert "ok" not in response.json()


def test_the_admin_ledger_links_to_a_verification_page(history, client, governance):
    client.force_login(governance)
    changelist = client.get(reverse("admin:models_app_ledgerentry_changelist"))
    verify_url = reverse("admin:models_app_ledgerentry_verify")
    assert verify_url in changelist.content.decode()
    page = client.get(verify_url)
    assert page.status_code == 200
    assert 'data-ok="true"' in page.content.decode()
    assert f"Ledger intact: {len(history)} row(s) verified." in page.content.decode()
    tamper.delete_row(history[5])
    broken = client.get(verify_url).content.decode()
    assert 'data-ok="false"' in broken
    change_url = reverse("admin:models_app_ledgerentry_change", args=[history[6]])
    assert f'href="{change_url}">#{history[6]}</a>' in broken


def test_the_admin_verification_page_needs_ledger_view_rights(history, client, role_groups):
    staff_without_role = make_user("stan-staff", is_staff=True)
    client.force_login(staff_without_role)
    with nothing_written():
        assert client.get(reverse("admin:models_app_ledgerentry_verify")).status_code == 403
