"""The periodic jobs of ``make serve``: retention and ledger checkpoints, run once per period by whichever
instance claims them, their outcome recorded; ``serve`` starts the scheduler beside gunicorn."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command

from models_app import audit_anchor, services
from models_app.management.commands import serve
from models_app.models import PeriodicJob
from tests.conftest import promote, register
from tests.trust import tamper


def run_once() -> str:
    out = io.StringIO()
    call_command("run_periodic", "--once", stdout=out)
    return out.getvalue()


@pytest.fixture
def history(registered_model, publisher, reviewer, governance):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    promote(register(registered_model, publisher), publisher, reviewer)
    services.promotion_policy_set(
        registered_model=registered_model,
        actor=governance,
        retention={"keep_archived": 0, "archived_for_days": 0},
    )
    return v1


def test_the_jobs_run_once_per_period(settings, history, django_capture_on_commit_callbacks):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = "periodic-test-key-" + "p" * 30
    with django_capture_on_commit_callbacks(execute=True):
        out = run_once()
    assert "retention: 1 version(s) purged" in out
    assert "audit_anchor: audit-anchors/" in out
    jobs = {job.name: job for job in PeriodicJob.objects.all()}
    assert set(jobs) == {"retention", "audit_anchor"}
    assert all(job.last_ok and job.last_started_at and job.last_finished_at for job in jobs.values())
    history.refresh_from_db()
    assert history.status == "purged"
    # The periods (a day, 300 s) have not elapsed: nothing runs again.
    assert run_once() == ""
    settings.REGISTRY_AUDIT_ANCHOR_SECONDS = 0
    assert run_once().startswith("audit_anchor: ")
    assert audit_anchor.verify_ledger().anchor.status == "consistent"


def test_without_a_key_no_checkpoint_job_runs(settings, history):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = ""
    out = run_once()
    assert "retention:" in out and "audit_anchor" not in out
    assert not PeriodicJob.objects.filter(name="audit_anchor").exists()


def test_a_refused_checkpoint_is_logged_as_an_error_and_recorded(settings, history, caplog):
    settings.REGISTRY_AUDIT_ANCHOR_KEY = "periodic-test-key-" + "p" * 30
    settings.REGISTRY_AUDIT_ANCHOR_SECONDS = 0
    run_once()
    tamper.rewind(2)
    with caplog.at_level(logging.ERROR, logger="models_app.periodic"):
        out = run_once()
    assert "audit_anchor: AnchorRefused" in out
    assert any("ledger checkpoint refused" in r.getMessage() for r in caplog.records)
    job = PeriodicJob.objects.get(name="audit_anchor")
    assert job.last_ok is False and "does not extend" in job.last_message


def test_serve_runs_the_periodic_jobs_beside_gunicorn(monkeypatch, settings):
    started = {}

    def fake_supervise(commands, *, env, cleanup):
        started.update(commands)

    monkeypatch.setattr(serve.Command, "_supervise", staticmethod(fake_supervise))
    monkeypatch.setattr(serve.Command, "_check", staticmethod(lambda: None))
    call_command("serve", "--no-migrate", "--no-collectstatic")
    assert started["periodic"][-1] == "run_periodic"
    started.clear()
    call_command("serve", "--no-migrate", "--no-collectstatic", "--no-periodic")
    assert "periodic" not in started and "web" in started
