"""A small registry state reached through the services, shared by the view and browser tests."""

from __future__ import annotations

from dataclasses import dataclass

from models_app import services
from models_app.models import ModelVersion, RegisteredModel, TransitionRequest
from tests.conftest import promote, register

DESCRIPTION = """# Fraud detector

Scores **card transactions** in real time.

| metric | target |
| --- | --- |
| auc | > 0.9 |
"""


def metadata(n: int, *, auc: float, loss: float, lr: float, parent: int | None = None) -> dict:
    data = {
        "source": {
            "repository": "https://github.com/acme/fraud-models.git",
            "commit": f"{n:x}" * 40 if n < 16 else "ab" * 20,
            "branch": "main",
            "dirty": False,
        },
        "datasets": [
            {"uri": "s3://acme-data/transactions", "version": f"2024-0{n}", "digest": f"sha256:{n}" * 4}
        ],
        "parameters": {"learning_rate": lr, "max_depth": 6, "features": ["amount", "merchant"]},
        "metrics": {"auc": auc, "val_loss": loss, "p95_latency_ms": 10 + n},
        "environment": {
            "python_version": "3.11.9",
            "framework": "xgboost",
            "framework_version": "2.1.0",
            "libraries": {"numpy": "2.1.0", "pandas": f"2.{n}.0"},
        },
        "signature": {"inputs": [{"name": "amount", "type": "double"}], "outputs": [{"name": "score"}]},
        "description": f"Retrained with window {n}.",
    }
    if parent:
        data["parent_version"] = parent
    return data


@dataclass
class Scenario:
    model: RegisteredModel
    production: ModelVersion  # v2, reached Production through an approved request
    candidate: ModelVersion  # v3, in Staging with a pending request by the publisher
    request: TransitionRequest
    archived: ModelVersion  # v1, archived when v2 went to Production


def build_scenario(*, publisher, reviewer, team, description: str = DESCRIPTION) -> Scenario:
    model = services.registered_model_create(
        name="fraud-detector", team=team, actor=publisher, description=description
    )
    v1 = register(model, publisher, metadata=metadata(1, auc=0.88, loss=0.40, lr=0.1))
    promote(v1, publisher, reviewer)
    v2 = register(model, publisher, metadata=metadata(2, auc=0.90, loss=0.35, lr=0.1, parent=1))
    promote(v2, publisher, reviewer)
    v3 = register(
        model,
        publisher,
        files={"model.bin": b"weights-3", "conf/settings.json": b'{"threshold": 0.5}'},
        metadata=metadata(3, auc=0.93, loss=0.38, lr=0.05, parent=2),
    )
    services.version_transition(version=v3, to="staging", actor=publisher)
    req = services.transition_request_create(
        version=v3, to="production", actor=publisher, comment="Better AUC on the March data."
    )
    for v in (v1, v2, v3):
        v.refresh_from_db()
    return Scenario(model=model, production=v2, candidate=v3, request=req, archived=v1)
