"""Load the demo registry: one user per role, two teams, three models with real files and history.

Idempotent: users and groups are fetched or created, versions are registered with an idempotency key,
and each lifecycle step runs only if it has not happened yet, so a second run adds nothing. Every
registry write goes through the services, so the demo ledger is a real, verifiable hash chain.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from models_app import services
from models_app.choices import RequestStatus, Role, Stage
from models_app.models import LedgerEntry, ModelAlias, ModelVersion, RegisteredModel, TransitionRequest
from models_app.role_permissions import ensure_role_groups
from models_app.storage.artifacts import IncomingFile

DEMO_PASSWORD_PREFIX = "demo-"
FRAUD_TEAM = "fraud-team"
GROWTH_TEAM = "growth-team"


@dataclass(frozen=True)
class DemoUser:
    username: str
    groups: tuple[str, ...]
    staff: bool = False
    superuser: bool = False
    note: str = ""

    @property
    def password(self) -> str:
        return DEMO_PASSWORD_PREFIX + self.username


DEMO_USERS = (
    DemoUser("publisher", (Role.PUBLISHERS, FRAUD_TEAM, GROWTH_TEAM), note="Publisher, both teams"),
    DemoUser("publisher2", (Role.PUBLISHERS, GROWTH_TEAM), note="Publisher, growth-team"),
    DemoUser("reviewer", (Role.REVIEWERS,), note="Reviewer"),
    DemoUser("reviewer2", (Role.REVIEWERS,), note="Reviewer"),
    DemoUser("governance", (Role.GOVERNANCE,), staff=True, note="Governance, can log into the admin"),
    DemoUser("admin", (), staff=True, superuser=True, note="Superuser"),
)


@dataclass(frozen=True)
class DemoVersion:
    metrics: dict
    parameters: dict
    commit: str
    description: str
    dataset_version: str
    tags: dict = field(default_factory=dict)
    framework_version: str = ""


@dataclass(frozen=True)
class DemoModel:
    name: str
    team: str
    publisher: str
    description: str
    tags: dict
    repository: str
    branch: str
    framework: str
    libraries: dict
    dataset_uri: str
    signature: dict
    versions: tuple[DemoVersion, ...]
    required_approvals: int = 1


FRAUD = DemoModel(
    name="fraud-detector",
    team=FRAUD_TEAM,
    publisher="publisher",
    description=(
        "# Fraud detector\n\nScores card-not-present transactions for fraud risk in real time.\n\n"
        "* **Owner:** fraud-team\n* **Serving:** p99 under 20 ms on one CPU core\n"
    ),
    tags={"domain": "payments", "task": "binary-classification"},
    repository="https://git.example.com/risk/fraud-detector",
    branch="main",
    framework="xgboost",
    libraries={"xgboost": "2.1.1", "numpy": "1.26.4", "pandas": "2.2.2", "scikit-learn": "1.5.1"},
    dataset_uri="s3://datasets/payments/transactions",
    signature={
        "inputs": [
            {"name": "amount", "type": "double"},
            {"name": "merchant_category", "type": "string"},
            {"name": "card_age_days", "type": "long"},
            {"name": "country_mismatch", "type": "boolean"},
        ],
        "outputs": [{"name": "fraud_probability", "type": "double"}],
    },
    versions=(
        DemoVersion(
            metrics={"auc": 0.912, "precision_at_1pct_fpr": 0.61, "recall": 0.74},
            parameters={"max_depth": 6, "eta": 0.1, "n_estimators": 400, "subsample": 0.8},
            commit="3f9c2a1e8b7d6c5f4a3b2c1d0e9f8a7b6c5d4e3f",
            description="Baseline gradient-boosted trees on 2024 Q1 transactions.",
            dataset_version="2024-03-31",
            framework_version="2.1.1",
        ),
        DemoVersion(
            metrics={"auc": 0.927, "precision_at_1pct_fpr": 0.66, "recall": 0.77},
            parameters={"max_depth": 7, "eta": 0.08, "n_estimators": 600, "subsample": 0.8},
            commit="8a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            description="Adds merchant-category target encoding; retrained on Q2.",
            dataset_version="2024-06-30",
            framework_version="2.1.1",
        ),
        DemoVersion(
            metrics={"auc": 0.934, "precision_at_1pct_fpr": 0.69, "recall": 0.79},
            parameters={"max_depth": 7, "eta": 0.05, "n_estimators": 900, "subsample": 0.7},
            commit="c0ffee1234567890abcdef1234567890abcdef12",
            description="Lower learning rate, more trees; candidate for Production.",
            dataset_version="2024-09-30",
            tags={"candidate": "true"},
            framework_version="2.1.1",
        ),
    ),
)

CHURN = DemoModel(
    name="churn-predictor",
    team=GROWTH_TEAM,
    publisher="publisher",
    description="# Churn predictor\n\nPredicts 30-day subscription churn for retention campaigns.\n",
    tags={"domain": "growth", "task": "binary-classification"},
    repository="https://git.example.com/growth/churn",
    branch="experiments/features-v2",
    framework="scikit-learn",
    libraries={"scikit-learn": "1.5.1", "numpy": "1.26.4", "pandas": "2.2.2"},
    dataset_uri="s3://datasets/growth/subscriptions",
    signature={
        "inputs": [
            {"name": "tenure_months", "type": "long"},
            {"name": "sessions_last_30d", "type": "long"},
            {"name": "plan", "type": "string"},
        ],
        "outputs": [{"name": "churn_probability", "type": "double"}],
    },
    versions=(
        DemoVersion(
            metrics={"roc_auc": 0.81, "log_loss": 0.43, "brier": 0.14},
            parameters={"model": "LogisticRegression", "C": 1.0, "penalty": "l2"},
            commit="1111aaaa2222bbbb3333cccc4444dddd5555eeee",
            description="Logistic regression baseline.",
            dataset_version="2024-05",
            framework_version="1.5.1",
        ),
        DemoVersion(
            metrics={"roc_auc": 0.86, "log_loss": 0.38, "brier": 0.12},
            parameters={"model": "HistGradientBoostingClassifier", "learning_rate": 0.1, "max_iter": 200},
            commit="2222bbbb3333cccc4444dddd5555eeee6666ffff",
            description="Histogram gradient boosting with engagement features.",
            dataset_version="2024-07",
            framework_version="1.5.1",
        ),
        DemoVersion(
            metrics={"roc_auc": 0.87, "log_loss": 0.36, "brier": 0.11},
            parameters={"model": "HistGradientBoostingClassifier", "learning_rate": 0.05, "max_iter": 400},
            commit="3333cccc4444dddd5555eeee6666ffff7777aaaa",
            description="Slower learning rate; under evaluation in Staging.",
            dataset_version="2024-09",
            framework_version="1.5.1",
        ),
    ),
)

RANKER = DemoModel(
    name="product-ranker",
    team=GROWTH_TEAM,
    publisher="publisher2",
    description="# Product ranker\n\nRe-ranks search results by predicted purchase probability.\n",
    tags={"domain": "search", "task": "ranking"},
    repository="https://git.example.com/search/ranker",
    branch="main",
    framework="pytorch",
    libraries={"torch": "2.4.0", "numpy": "1.26.4"},
    dataset_uri="s3://datasets/search/click-logs",
    signature={
        "inputs": [{"name": "features", "type": "tensor", "dtype": "float32", "shape": [-1, 64]}],
        "outputs": [{"name": "scores", "type": "tensor", "dtype": "float32", "shape": [-1]}],
    },
    required_approvals=2,
    versions=(
        DemoVersion(
            metrics={"ndcg_at_10": 0.412, "mrr": 0.355},
            parameters={"layers": [64, 32], "dropout": 0.1, "lr": 0.001, "epochs": 10},
            commit="abcdef0123456789abcdef0123456789abcdef01",
            description="Two-layer MLP ranker.",
            dataset_version="2024-08-01",
            framework_version="2.4.0",
        ),
        DemoVersion(
            metrics={"ndcg_at_10": 0.438, "mrr": 0.371},
            parameters={"layers": [128, 64], "dropout": 0.2, "lr": 0.0005, "epochs": 20},
            commit="fedcba9876543210fedcba9876543210fedcba98",
            description="Wider network, longer training.",
            dataset_version="2024-09-01",
            framework_version="2.4.0",
        ),
    ),
)

DEMO_MODELS = (FRAUD, CHURN, RANKER)


def _weights(seed: str, size: int = 4096) -> bytes:
    """Deterministic stand-in weights: the same bytes (and SHA-256) on every run and machine."""
    return hashlib.shake_256(seed.encode("utf-8")).digest(size)


def _files(model: DemoModel, number: int, spec: DemoVersion) -> list[IncomingFile]:
    config = {"model": model.name, "version": number, "framework": model.framework, **spec.parameters}
    files = {
        "config.json": (json.dumps(config, indent=2, sort_keys=True).encode(), "application/json"),
        "model.bin": (_weights(f"{model.name}/{number}"), "application/octet-stream"),
    }
    if model.framework == "pytorch":
        files["feature_names.txt"] = (
            "\n".join(f"f{i:02d}" for i in range(64)).encode() + b"\n",
            "text/plain",
        )
    return [
        IncomingFile(path=path, stream=io.BytesIO(data), content_type=content_type)
        for path, (data, content_type) in files.items()
    ]


def _metadata(model: DemoModel, number: int, spec: DemoVersion) -> dict:
    requirements = "\n".join(f"{name}=={ver}" for name, ver in sorted(model.libraries.items())) + "\n"
    return {
        "description": spec.description,
        "tags": spec.tags,
        "source": {
            "repository": model.repository,
            "commit": spec.commit,
            "branch": model.branch,
            "dirty": False,
        },
        "datasets": [
            {
                "uri": f"{model.dataset_uri}/{spec.dataset_version}/",
                "version": spec.dataset_version,
                "digest": "sha256:"
                + hashlib.sha256(f"{model.dataset_uri}@{spec.dataset_version}".encode()).hexdigest(),
            }
        ],
        "parameters": spec.parameters,
        "metrics": spec.metrics,
        "environment": {
            "python_version": "3.11.9",
            "framework": model.framework,
            "framework_version": spec.framework_version,
            "libraries": model.libraries,
            "requirements": requirements,
        },
        "signature": model.signature,
        "run_url": f"https://mlflow.example.com/#/experiments/{model.name}/runs/{spec.commit[:12]}",
        "parent_version": number - 1 if number > 1 else None,
    }


class Command(BaseCommand):
    help = "Load demo users, teams and models with history (idempotent: running it twice adds nothing)."

    def handle(self, *args, **options):
        self.users = self._users()
        self.versions: dict[tuple[str, int], ModelVersion] = {}
        for spec in DEMO_MODELS:
            self._model(spec)
        self._story()
        self._report()

    # -- users and teams ---------------------------------------------------------------------------

    def _users(self) -> dict[str, User]:
        with transaction.atomic():
            ensure_role_groups(Group, Permission)
            for team in (FRAUD_TEAM, GROWTH_TEAM):
                Group.objects.get_or_create(name=team)
            users = {}
            for spec in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=spec.username,
                    defaults={
                        "email": f"{spec.username}@example.com",
                        "is_staff": spec.staff,
                        "is_superuser": spec.superuser,
                    },
                )
                if created:
                    user.set_password(spec.password)
                    user.save(update_fields=["password"])
                user.groups.add(*Group.objects.filter(name__in=spec.groups))
                # A fresh instance: permission checks must not see a cache from before the groups.
                users[spec.username] = User.objects.get(pk=user.pk)
        return users

    # -- models and versions -----------------------------------------------------------------------

    def _model(self, spec: DemoModel) -> None:
        publisher = self.users[spec.publisher]
        model = RegisteredModel.objects.filter(name=spec.name).first()
        if model is None:
            model = services.registered_model_create(
                name=spec.name,
                team=Group.objects.get(name=spec.team),
                actor=publisher,
                description=spec.description,
                tags=spec.tags,
                required_approvals=spec.required_approvals,
            )
        for number, version_spec in enumerate(spec.versions, start=1):
            version, _ = services.version_register(
                registered_model=model,
                actor=publisher,
                files=_files(spec, number, version_spec),
                metadata=_metadata(spec, number, version_spec),
                idempotency_key=f"demo:{spec.name}:v{number}",
            )
            self.versions[(spec.name, number)] = version

    # -- lifecycle --------------------------------------------------------------------------------
    # Each step checks the state first, so a second run finds everything done and writes nothing.

    def _v(self, model: str, number: int) -> ModelVersion:
        version = self.versions[(model, number)]
        version.refresh_from_db()
        return version

    def _to(self, version: ModelVersion, stage: Stage, actor: str, comment: str = "") -> None:
        if LedgerEntry.objects.filter(version=version, to_stage=stage).exists():
            return
        services.version_transition(version=version, to=stage, actor=self.users[actor], comment=comment)

    def _request(self, version: ModelVersion, requester: str, comment: str) -> TransitionRequest:
        existing = TransitionRequest.objects.filter(version=version, target_stage=Stage.PRODUCTION).first()
        if existing is not None:
            return existing
        return services.transition_request_create(
            version=version, to=Stage.PRODUCTION, actor=self.users[requester], comment=comment
        )

    def _approve(self, req: TransitionRequest, reviewer: str, comment: str) -> None:
        req.refresh_from_db()
        if (
            req.status != RequestStatus.PENDING
            or req.approvals.filter(reviewer=self.users[reviewer]).exists()
        ):
            return
        services.transition_request_approve(
            transition_request=req, actor=self.users[reviewer], comment=comment
        )

    def _reject(self, req: TransitionRequest, reviewer: str, comment: str) -> None:
        req.refresh_from_db()
        if req.status != RequestStatus.PENDING:
            return
        services.transition_request_reject(
            transition_request=req, actor=self.users[reviewer], comment=comment
        )

    def _story(self) -> None:
        # fraud-detector: v1 went to Production, v2 replaced it (v1 archived automatically),
        # v3 waits in Staging with a pending Production request.
        v1 = self._v(FRAUD.name, 1)
        self._to(v1, Stage.STAGING, "publisher", "Shadow traffic for a week.")
        req = self._request(v1, "publisher", "Baseline is stable in shadow mode.")
        self._approve(req, "reviewer", "Metrics and lineage checked.")
        v2 = self._v(FRAUD.name, 2)
        self._to(v2, Stage.STAGING, "publisher", "Evaluate target encoding.")
        req = self._request(v2, "publisher", "AUC +0.015 on the Q2 holdout.")
        self._approve(req, "reviewer2", "Holdout results reproduced.")
        v3 = self._v(FRAUD.name, 3)
        self._to(v3, Stage.STAGING, "publisher", "Candidate for the next release.")
        self._request(v3, "publisher", "Better recall at the same false-positive rate.")
        self._alias(FRAUD.name, "champion", 2, "publisher")
        self._alias(FRAUD.name, "challenger", 3, "publisher")

        # churn-predictor: v1 archived after Staging, v2 and v3 in Staging side by side.
        c1 = self._v(CHURN.name, 1)
        self._to(c1, Stage.STAGING, "publisher")
        self._to(self._v(CHURN.name, 1), Stage.ARCHIVED, "reviewer", "Superseded by gradient boosting.")
        self._to(self._v(CHURN.name, 2), Stage.STAGING, "publisher")
        self._to(self._v(CHURN.name, 3), Stage.STAGING, "publisher")
        self._alias(CHURN.name, "baseline", 1, "publisher")

        # product-ranker: two approvals needed; v1's request was rejected, v2 is not staged yet.
        r1 = self._v(RANKER.name, 1)
        self._to(r1, Stage.STAGING, "publisher2")
        req = self._request(r1, "publisher2", "First learned ranker.")
        self._reject(req, "reviewer", "NDCG gain is within noise; collect another week of clicks.")

    def _alias(self, model: str, alias: str, number: int, actor: str) -> None:
        registered_model = RegisteredModel.objects.get(name=model)
        # Set once; a later move by a demo user is left alone.
        if ModelAlias.objects.filter(registered_model=registered_model, name=alias).exists():
            return
        services.alias_set(
            registered_model=registered_model,
            alias=alias,
            version_number=number,
            actor=self.users[actor],
        )

    def _report(self) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data is loaded."))
        out.write("Users (username / password):")
        for spec in DEMO_USERS:
            out.write(f"  {spec.username:<11} {spec.password:<16} {spec.note}")
        for spec in DEMO_MODELS:
            stages = ", ".join(
                f"v{v.version}:{v.stage}"
                for v in ModelVersion.objects.filter(registered_model__name=spec.name).order_by("version")
            )
            out.write(f"  {spec.name}: {stages}")
