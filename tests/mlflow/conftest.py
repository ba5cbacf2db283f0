"""The real ``mlflow`` client against a live registry on 127.0.0.1.

Training a model with the client takes seconds, so the tests of this folder share one server, one artifact
folder and one database state (``registry``, package-scoped: personas and their tokens, flushed when the
folder's last test ends), and each module shares the models it trains (under names of its own). The client runs in-process, configured only by the environment variables a
pipeline would set: MLFLOW_TRACKING_URI (the registry's base URL) and MLFLOW_TRACKING_TOKEN (a registry
API token), with retries off so a refusal fails at once.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test.utils import override_settings
from pytest_django.live_server_helper import LiveServer

from models_app.choices import Role
from models_app.role_permissions import ensure_role_groups
from models_app.services.tokens import api_token_create
from tests.conftest import make_user

CLIENT_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}


@pytest.fixture(scope="session", autouse=True)
def client_environment():
    with pytest.MonkeyPatch.context() as patch:
        for key, value in CLIENT_ENV.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(autouse=True)
def artifact_root():
    """Overrides the suite's per-test artifact folder: the module's server keeps one for all its tests."""
    return None


@dataclass
class Registry:
    """A running registry: its URL, personas (by role) and one API token each."""

    url: str
    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    storage_root: Path | None = None

    def use(self, monkeypatch, persona: str) -> None:
        """Point the client at the registry as ``persona``: the two variables of the migration."""
        monkeypatch.setenv("MLFLOW_TRACKING_URI", self.url)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", self.tokens[persona])


PERSONAS = {
    "publisher": ("pat-publisher", [Role.PUBLISHERS, "fraud-team"]),
    "publisher2": ("pia-publisher", [Role.PUBLISHERS, "fraud-team"]),
    "two_teams": ("tess-two-teams", [Role.PUBLISHERS, "fraud-team", "search-team"]),
    "outsider": ("otto-outsider", [Role.PUBLISHERS, "search-team"]),
    # A team lead who both publishes and reviews (the two roles MLflow's archive_existing_versions needs).
    "lead": ("lee-lead", [Role.PUBLISHERS, Role.REVIEWERS, "fraud-team"]),
    "reviewer": ("rita-reviewer", [Role.REVIEWERS]),
    "reviewer2": ("rob-reviewer", [Role.REVIEWERS]),
    "governance": ("gil-governance", [Role.GOVERNANCE]),
    "norole": ("nora-norole", []),
}


def start_registry(tmp_root: Path, storage: dict | None = None, **more_settings):
    """Start a server over the current database with personas and tokens; returns (registry, stop)."""
    storages = {
        "default": storage
        or {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_root)}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    overrides = override_settings(STORAGES=storages, **more_settings)
    overrides.enable()
    ensure_role_groups(Group, Permission)
    registry = Registry(url="", storage_root=tmp_root)
    for persona, (username, groups) in PERSONAS.items():
        user = make_user(username, *[Group.objects.get_or_create(name=g)[0] for g in groups])
        registry.users[persona] = user
        registry.tokens[persona] = api_token_create(user=user, name="mlflow")[1]
    server = LiveServer("127.0.0.1:0")
    registry.url = server.url

    def stop():
        # The client keeps connections alive; close them so the server's request threads end first.
        from mlflow.utils.request_utils import _cached_get_request_session

        _cached_get_request_session.cache_clear()
        gc.collect()
        for thread in threading.enumerate():
            if "process_request_thread" in thread.name:
                thread.join(timeout=5)
        server.stop()
        overrides.disable()
        # What a transactional test's teardown does: the next module starts from an empty database.
        call_command("flush", verbosity=0, interactive=False)

    return registry, stop


@pytest.fixture(scope="session")
def mlflow_database(django_db_setup, django_db_blocker):
    """The test database. pytest-django creates it only for sessions with tests marked ``django_db`` (or
    using ``db``); these tests share one state per module instead, so they create it when nobody did."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
            yield
            return
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        try:
            yield
        finally:
            teardown_databases(created, verbosity=0)


@pytest.fixture(scope="package")
def registry(mlflow_database, django_db_blocker, tmp_path_factory):
    """A live registry for this folder's tests, with its database open to them."""
    with django_db_blocker.unblock():
        registry, stop = start_registry(tmp_path_factory.mktemp("mlflow-artifacts"))
        try:
            yield registry
        finally:
            stop()


@pytest.fixture
def as_user(registry, monkeypatch):
    """``as_user("reviewer")`` switches the in-process client to that persona's token."""

    def switch(persona: str):
        registry.use(monkeypatch, persona)
        from mlflow import MlflowClient

        return MlflowClient()

    return switch


# -- the model the tests train: y = x + n, n read from an artifact, with a binary weights file -----------------


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(root) -> dict[str, str]:
    """relative path -> SHA-256 of every file below ``root``."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def model_files(n: int) -> dict[str, str]:
    """The AddN model's artifact files in a fresh folder: {artifact name: path}."""
    folder = Path(tempfile.mkdtemp(prefix="addn-"))
    (folder / "config.json").write_text(json.dumps({"n": n}))
    (folder / "weights.bin").write_bytes(random.Random(n).randbytes(150_000))
    return {"config": str(folder / "config.json"), "weights": str(folder / "weights.bin")}


def log_addn(n: int, *, name: str = "model", registered_model_name: str | None = None):
    """Inside an active run: log the AddN pyfunc model; returns (model info, {file name: sha256})."""
    import cloudpickle
    import mlflow

    from tests.mlflow import addn

    cloudpickle.register_pickle_by_value(addn)
    files = model_files(n)
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=addn.AddN(),
        artifacts=files,
        registered_model_name=registered_model_name,
        pip_requirements=["mlflow", "pandas", "cloudpickle"],
    )
    return info, {Path(p).name: sha256_file(p) for p in files.values()}


def predicts_plus(model, n: int) -> bool:
    import pandas as pd

    out = model.predict(pd.DataFrame({"x": [1.0, 2.0, 3.5]}))
    return list(out["y"]) == [1.0 + n, 2.0 + n, 3.5 + n]
