"""Seed the same data into this registry and into an MLflow server, for bench/compare_mlflow.py.

    # ours: through the services, from the checkout the server runs from, with the server's environment
    cd /path/to/registry && DATABASE_URL=... REGISTRY_DATA_DIR=... REGISTRY_LOG_LEVEL=WARNING \\
        .venv/bin/python /path/to/bench/seed_compare.py ours --versions 10000 --models 100
    # MLflow: through its REST API, in parallel
    .venv/bin/python bench/seed_compare.py mlflow --url http://127.0.0.1:5001 --versions 10000 --models 100

Both create the models ``<prefix>-000`` ... (default prefix ``cmp``), ``versions // models`` versions
each with one 1 KiB file (on MLflow uploaded into one run per model of the experiment
``<prefix>-seed``), one version in Production per model (the middle one) and the alias ``champion``
on the version before it. Ours also creates the team ``cmp-team``, its publisher
``cmp-publisher`` and the reviewer ``cmp-reviewer`` (on ours, Production needs an approved request:
the publisher requests, the reviewer approves; MLflow moves it with transition-stage). A second run
continues where the first stopped and adds nothing that exists. Every loop is bounded in count and
time. Do not seed while a benchmark runs: on ours a registration and a model creation of the same
team can deadlock (bench/README.md).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

TEAM = "cmp-team"
PUBLISHER = "cmp-publisher"
REVIEWER = "cmp-reviewer"
ALIAS = "champion"
FILE_BYTES = 1024


def layout(per_model: int) -> tuple[int, int]:
    """(Production version, ``champion`` version) of a seeded model with ``per_model`` versions."""
    production = per_model // 2 + 1
    return production, max(1, production - 1)


def model_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(count)]


class Progress:
    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.done = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.done += n
            print(
                f"  {self.label}: {self.done}/{self.total} versions "
                f"({time.monotonic() - self.started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )


# -- ours: through the services -----------------------------------------------------------------------


def seed_ours(args) -> None:
    if not Path("manage.py").exists():
        raise SystemExit("Run this from the registry checkout the server runs from (manage.py not found).")
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, Permission, User

    from models_app import services
    from models_app.choices import Stage
    from models_app.models import ModelAlias, ModelVersion, RegisteredModel
    from models_app.role_permissions import ensure_role_groups
    from models_app.storage.artifacts import IncomingFile

    ensure_role_groups(Group, Permission)
    team, _ = Group.objects.get_or_create(name=TEAM)
    publisher, _ = User.objects.get_or_create(username=PUBLISHER)
    publisher.groups.add(Group.objects.get(name="Publishers"), team)
    reviewer, _ = User.objects.get_or_create(username=REVIEWER)
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    # Fresh instances: group memberships are cached on the user objects.
    publisher, reviewer = User.objects.get(pk=publisher.pk), User.objects.get(pk=reviewer.pk)

    per_model = args.versions // args.models
    production, champion = layout(per_model)
    deadline = time.monotonic() + args.minutes * 60
    progress = Progress(per_model * args.models, "ours")
    rng = random.Random(0)
    for name in model_names(args.prefix, args.models):
        model = RegisteredModel.objects.filter(name=name).first() or services.registered_model_create(
            name=name, team=team, actor=publisher
        )
        have = ModelVersion.objects.filter(registered_model=model).count()
        for number in range(have + 1, per_model + 1):
            if time.monotonic() > deadline:
                raise SystemExit(f"seeding ours passed its {args.minutes} min limit; run it again to go on")
            services.version_register(
                registered_model=model,
                actor=publisher,
                files=[IncomingFile(path="model.bin", stream=io.BytesIO(rng.randbytes(FILE_BYTES)))],
                metadata={"metrics": {"accuracy": rng.random()}, "tags": {"seed": str(number)}},
            )
        version = ModelVersion.objects.get(registered_model=model, version=production)
        if version.stage == Stage.NONE:
            version = services.version_transition(version=version, to="staging", actor=publisher)
        if version.stage == Stage.STAGING:
            request = services.transition_request_create(version=version, to="production", actor=publisher)
            services.transition_request_approve(transition_request=request, actor=reviewer)
        if not ModelAlias.objects.filter(registered_model=model, name=ALIAS).exists():
            services.alias_set(registered_model=model, alias=ALIAS, version_number=champion, actor=publisher)
        progress.add(per_model)
    print(
        f"ours: {args.models} models x {per_model} versions; now issue a token for the benchmark:\n"
        f"  TOKEN=$(.venv/bin/python manage.py create_api_token {PUBLISHER} --name compare-$(date +%s))",
        file=sys.stderr,
    )


# -- MLflow: through its REST API ----------------------------------------------------------------------


def _mlflow_ok(response: httpx.Response, *allowed_codes: str) -> dict:
    if response.status_code == 200:
        return response.json() if response.content else {}
    try:
        code = response.json().get("error_code", "")
    except ValueError:
        code = ""
    if code in allowed_codes:
        return {}
    raise RuntimeError(
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
    )


def mlflow_latest_number(client: httpx.Client, name: str) -> int:
    body = _mlflow_ok(
        client.get(
            "/api/2.0/mlflow/model-versions/search",
            params={"filter": f"name='{name}'", "max_results": 1, "order_by": "version_number DESC"},
        )
    )
    versions = body.get("model_versions", [])
    return int(versions[0]["version"]) if versions else 0


def mlflow_experiment(client: httpx.Client, name: str) -> str:
    found = client.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name})
    if found.status_code == 200:
        return found.json()["experiment"]["experiment_id"]
    return _mlflow_ok(client.post("/api/2.0/mlflow/experiments/create", json={"name": name}))["experiment_id"]


def mlflow_run(client: httpx.Client, experiment_id: str) -> tuple[str, str]:
    info = _mlflow_ok(client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}))
    return info["run"]["info"]["run_id"], info["run"]["info"]["artifact_uri"]


def seed_mlflow(args) -> None:
    per_model = args.versions // args.models
    production, champion = layout(per_model)
    deadline = time.monotonic() + args.minutes * 60
    progress = Progress(per_model * args.models, "mlflow")
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        experiment_id = mlflow_experiment(client, f"{args.prefix}-seed")

    def one_model(index_name: tuple[int, str]) -> None:
        index, name = index_name
        rng = random.Random(index)
        with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
            _mlflow_ok(
                client.post("/api/2.0/mlflow/registered-models/create", json={"name": name}),
                "RESOURCE_ALREADY_EXISTS",
            )
            have = mlflow_latest_number(client, name)
            # MLflow 3 takes an mlflow-artifacts: source only inside the artifacts of the run it names.
            run_id, root = mlflow_run(client, experiment_id) if have < per_model else ("", "")
            for number in range(have + 1, per_model + 1):
                if time.monotonic() > deadline:
                    raise SystemExit(f"seeding MLflow passed its {args.minutes} min limit; run it again")
                source = f"{root}/v{number}"
                _mlflow_ok(
                    client.put(
                        "/api/2.0/mlflow-artifacts/artifacts/"
                        + source.removeprefix("mlflow-artifacts:/")
                        + "/model.bin",
                        content=rng.randbytes(FILE_BYTES),
                    )
                )
                made = _mlflow_ok(
                    client.post(
                        "/api/2.0/mlflow/model-versions/create",
                        json={
                            "name": name,
                            "source": source,
                            "run_id": run_id,
                            "tags": [{"key": "seed", "value": str(number)}],
                        },
                    )
                )
                if int(made["model_version"]["version"]) != number:
                    raise RuntimeError(f"{name}: expected version {number}, got {made['model_version']}")
            current = _mlflow_ok(
                client.get("/api/2.0/mlflow/model-versions/get", params={"name": name, "version": production})
            )["model_version"]
            if current.get("current_stage") != "Production":
                _mlflow_ok(
                    client.post(
                        "/api/2.0/mlflow/model-versions/transition-stage",
                        json={
                            "name": name,
                            "version": str(production),
                            "stage": "Production",
                            "archive_existing_versions": False,
                        },
                    )
                )
            _mlflow_ok(
                client.post(
                    "/api/2.0/mlflow/registered-models/alias",
                    json={"name": name, "alias": ALIAS, "version": str(champion)},
                )
            )
        progress.add(per_model)

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(one_model, enumerate(model_names(args.prefix, args.models))))
    print(f"mlflow: {args.models} models x {per_model} versions", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("side", choices=["ours", "mlflow"])
    parser.add_argument("--versions", type=int, default=10_000, help="versions in all (default 10000)")
    parser.add_argument("--models", type=int, default=100, help="models to spread them over (default 100)")
    parser.add_argument("--prefix", default="cmp", help="model name prefix (default cmp)")
    parser.add_argument("--minutes", type=float, default=30, help="time limit (default 30)")
    parser.add_argument("--url", help="MLflow server URL (mlflow side)")
    parser.add_argument("--token", help="MLflow bearer token, if the server wants one")
    parser.add_argument("--parallel", type=int, default=8, help="MLflow: models seeded at once (default 8)")
    args = parser.parse_args()
    if args.versions // args.models < 3:
        raise SystemExit("need at least 3 versions per model")
    if args.side == "ours":
        seed_ours(args)
    else:
        if not args.url:
            raise SystemExit("--url is required for the mlflow side")
        seed_mlflow(args)


if __name__ == "__main__":
    main()
