"""Shared fixtures: per-test artifact storage, role personas, and helpers that reach states via services."""

from __future__ import annotations

import contextlib
import io
import os

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management.commands import flush
from django.db import connection

from models_app import services
from models_app.choices import Role
from models_app.models import (
    ApiToken,
    Approval,
    ArtifactFile,
    Deployment,
    Event,
    LedgerEntry,
    ModelAlias,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    TransitionRequest,
    UploadFile,
    UploadSession,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from models_app.role_permissions import ensure_role_groups
from models_app.storage import objectstore
from models_app.storage.artifacts import IncomingFile
from tests.triggers import triggers_off

# The S3 server fixtures (s3_server, s3_bucket, s3_storage, any_storage) and the session's Chromium
# (browser) for every test folder.
pytest_plugins = ["tests.s3_fixtures", "tests.browser_fixtures"]


def _on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_report_header(config):
    if not _on_postgres():
        return (
            "database: SQLite; tests marked 'postgres' are deselected (DATABASE_URL=postgres://... runs them)"
        )
    return "database: PostgreSQL"


# Folders and modules whose tests share costly servers. Under ``pytest -n 2 --dist loadgroup`` (make test)
# each of them runs whole on one worker, in collection order, so its servers start once; every other test
# goes to whichever worker is free. mlflow: one live registry and the models each module trains; chromium:
# one Chromium, one live server and one OpenID provider (node); instances: two gunicorn instances, in order.
XDIST_GROUPS = {
    "tests/mlflow/": "mlflow",
    "tests/browser/": "chromium",
    "tests/sso/": "chromium",
    "tests/ops/test_instances.py": "instances",
    # One server for the module (a module fixture): split over two workers, each would start its own.
    "tests/ops/test_slow_clients.py": "slow_clients",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` by XDIST_GROUPS. (xdist's own loadgroup reads ``xdist_group`` marks by renaming
    the test ids, which pytest 9.2 no longer lets it do: every test would be scheduled alone.)"""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedServerGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            for prefix, group in XDIST_GROUPS.items():
                if path.startswith(prefix):
                    return group
            return nodeid

    return SharedServerGroups(config, log)


def pytest_collection_modifyitems(config, items):
    """On SQLite, tests of PostgreSQL behaviour (row locks, triggers, two instances) are deselected, and the
    run says so; they are never collected only to be skipped."""
    if _on_postgres():
        return
    postgres_only = [item for item in items if item.get_closest_marker("postgres")]
    if postgres_only:
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]
        config.hook.pytest_deselected(items=postgres_only)


def pytest_sessionfinish(session, exitstatus):
    """A run that ends "green" with fewer outcomes than tests to run fails. pytest-xdist schedules tests by
    id and runs only the first of tests that share one (schemathesis' cases do: make test runs that module
    in a pass of its own), and it would still exit 0."""
    config = session.config
    options = config.option
    if hasattr(config, "workerinput") or exitstatus != pytest.ExitCode.OK:
        return
    if options.collectonly or getattr(options, "setuponly", False) or getattr(options, "setupplan", False):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    # One outcome per test: its call, or its setup when that failed or skipped (no call follows). Counted,
    # not collected into a set of ids: schemathesis gives all its cases one id.
    outcomes = sum(
        1
        for category, reports in reporter.stats.items()
        if category not in ("", "deselected", "warnings")
        for report in reports
        if getattr(report, "when", None) == "call"
        or (getattr(report, "when", None) == "setup" and report.outcome != "passed")
    )
    if outcomes < session.testscollected:
        reporter.ensure_newline()
        reporter.write_line(
            f"only {outcomes} of the {session.testscollected} tests reported an outcome: the run "
            "ran only part of them (tests sharing one id under pytest -n, or a worker that ended early)",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True, scope="session")
def flush_may_truncate_the_ledger():
    """Transactional tests end with Django's flush, one TRUNCATE of every table; the ledger's ``no_truncate``
    trigger refuses that everywhere else (tests/trust/test_ledger_truncate.py), so here it is ignored."""
    original = flush.Command.handle

    def handle(self, *args, **options):
        with triggers_off(LedgerEntry._meta.db_table, using=options.get("database", "default")):
            return original(self, *args, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush.Command, "handle", handle)
        yield


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    """Every test stores artifacts in its own folder through the real FileSystemStorage."""
    root = tmp_path / "artifacts"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return root


@pytest.fixture(autouse=True)
def fresh_auth_cache():
    """No test sees a token another test (or an earlier step of a transactional test's flush) cached."""
    services.auth_cache_clear()
    yield
    services.auth_cache_clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Persona passwords need no brute-force resistance; the default hasher costs seconds per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def role_groups(db):
    """The role groups, recreated if a transactional test flushed them."""
    ensure_role_groups(Group, Permission)
    return {role: Group.objects.get(name=role) for role in Role.values}


@pytest.fixture
def team(db):
    return Group.objects.get_or_create(name="fraud-team")[0]


@pytest.fixture
def other_team(db):
    return Group.objects.get_or_create(name="search-team")[0]


def make_user(username: str, *groups: Group, **extra) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    user.groups.add(*groups)
    return User.objects.get(pk=user.pk)  # fresh object: no stale permission cache


@pytest.fixture
def publisher(role_groups, team):
    return make_user("pat-publisher", role_groups["Publishers"], team)


@pytest.fixture
def publisher2(role_groups, team):
    return make_user("pia-publisher", role_groups["Publishers"], team)


@pytest.fixture
def reviewer(role_groups):
    return make_user("rita-reviewer", role_groups["Reviewers"])


@pytest.fixture
def reviewer2(role_groups):
    return make_user("rob-reviewer", role_groups["Reviewers"])


@pytest.fixture
def governance(role_groups):
    return make_user("gil-governance", role_groups["Governance"], is_staff=True)


@pytest.fixture
def outsider(role_groups, other_team):
    """A publisher of another team."""
    return make_user("otto-outsider", role_groups["Publishers"], other_team)


@pytest.fixture
def norole(db):
    return make_user("nora-norole")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("sam-super", "sam@example.com", "pw-sam")


@pytest.fixture
def registered_model(publisher, team):
    return services.registered_model_create(
        name="fraud-detector", team=team, actor=publisher, description="Scores card transactions."
    )


def register(model, user, *, files=None, metadata=None, idempotency_key=None):
    """Register a version through the service with small in-memory files."""
    files = files or {"model.bin": b"weights-" + str(model.last_version_number).encode()}
    incoming = [IncomingFile(path=p, stream=io.BytesIO(data)) for p, data in files.items()]
    version, _ = services.version_register(
        registered_model=model,
        actor=user,
        files=incoming,
        metadata=metadata or {"metrics": {"accuracy": 0.9}},
        idempotency_key=idempotency_key,
    )
    return version


# What a refused action must leave as it was: the row counts of every table a write touches, and the
# columns a refused change would alter in place (stages, statuses, aliases, policies, who is active).
COUNTED_TABLES = (
    LedgerEntry,
    Event,
    RegisteredModel,
    ModelVersion,
    ArtifactFile,
    TransitionRequest,
    Approval,
    ModelAlias,
    Deployment,
    PromotionPolicy,
    ApiToken,
    WebhookSubscription,
    WebhookDelivery,
    WebhookAttempt,
    UploadSession,
    UploadFile,
    User,
)
WATCHED_COLUMNS = {
    RegisteredModel: ("name", "description", "tags", "team_id", "required_approvals", "last_version_number"),
    ModelVersion: ("stage", "status", "description", "tags"),
    TransitionRequest: ("status", "decided_at"),
    ModelAlias: ("name", "version_id"),
    PromotionPolicy: ("metric_gates", "group_approvals", "freeze_windows"),
    WebhookSubscription: ("url", "event_types", "active", "secret", "registered_model_id", "team_id"),
    ApiToken: ("revoked_at", "expires_at"),
    UploadSession: ("status",),
    User: ("is_active", "is_superuser"),
}


def written_state() -> dict[str, object]:
    """Row counts and watched columns of the registry's tables, as ``nothing_written`` compares them."""
    # Every count in one query: the state machine and the fuzzer take this snapshot hundreds of times.
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM {connection.ops.quote_name(model._meta.db_table)})"
        for model in COUNTED_TABLES
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    state: dict[str, object] = {f"{m.__name__} rows": n for m, n in zip(COUNTED_TABLES, row, strict=True)}
    for model, columns in WATCHED_COLUMNS.items():
        state[f"{model.__name__} {', '.join(columns)}"] = list(
            model.objects.order_by("pk").values_list("pk", *columns)
        )
    return state


@contextlib.contextmanager
def nothing_written():
    """Assert that the block (a refused action) changed no row: no ledger row, event, version, file,
    request, approval, alias, deployment, policy, token, webhook or upload appeared, disappeared or moved.

    Put ``pytest.raises`` inside it, so the refusal is caught before the comparison::

        with nothing_written(), pytest.raises(NotAllowed):
            services.version_transition(...)
    """
    before = written_state()
    yield
    after = written_state()
    changed = {
        key: {"before": before[key], "after": after[key]} for key in before if before[key] != after[key]
    }
    assert not changed, f"the refused action wrote: {changed}"


def stored_keys(storage) -> list[str]:
    """Every artifact object ``storage`` holds, on either backend (sorted keys)."""
    return sorted(obj.key for obj in objectstore.list_artifact_objects(storage))


class BreaksHalfway(io.RawIOBase):
    """A 3 MB upload stream that calls ``on_break`` once half of it has been read."""

    def __init__(self, on_break, size=3 * 1024 * 1024):
        self._data = io.BytesIO(b"x" * size)
        self._on_break = on_break
        self._half = size // 2

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._data.tell() >= self._half and self._on_break:
            hook, self._on_break = self._on_break, None
            hook()
        return self._data.readinto(buffer)


def promote(version, publisher, reviewer, comment="ship it"):
    """Staging, request, approve: the ordinary road to Production."""
    services.version_transition(version=version, to="staging", actor=publisher)
    req = services.transition_request_create(version=version, to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer, comment=comment)
    version.refresh_from_db()
    return req


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def postgres_only():
    """For tests marked ``postgres``: they are deselected on SQLite, so reaching here without it is an error."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: run it with DATABASE_URL=postgres://...")
