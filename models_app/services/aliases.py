"""Aliases (``@champion``): compare-and-set moves and removal; the aliases a model's policy protects move
only by an approved request (``services.requests``), through ``alias_point``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from models_app import policies, rules, selectors
from models_app.choices import (
    LedgerKind,
    Stage,
)
from models_app.compiled import CompiledQuery
from models_app.exceptions import (
    InvalidInput,
    NotFound,
    StaleState,
    VersionNotFound,
)
from models_app.models import (
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    alias_validator,
)
from models_app.services._shared import UNSET, Unset, clean_validated, lock_model, record


def clean_alias(alias: object, *, field: str = "alias") -> str:
    alias = clean_validated(alias, alias_validator, field=field)
    if alias in Stage.values or alias == "latest":
        raise InvalidInput(f"'{alias}' is reserved for a stage or 'latest'.", field=field)
    return alias


def _check_expected(alias_row: ModelAlias | None, alias: str, expected_version) -> None:
    if expected_version is UNSET:
        return
    current = alias_row.version.version if alias_row else None
    if current != expected_version:
        raise StaleState(
            f"Alias '@{alias}' points at {f'v{current}' if current else 'nothing'}, "
            f"not {f'v{expected_version}' if expected_version else 'nothing'}; re-read it and retry.",
            field="expected_version",
        )


def alias_set(
    *,
    registered_model: RegisteredModel,
    alias: str,
    version_number: int,
    actor,
    expected_version: Any = UNSET,
) -> ModelAlias:
    """Point ``@alias`` at a ready version. With ``expected_version`` (a number, or None for 'unset')
    this is a compare-and-set that fails with StaleState when someone moved the alias meanwhile."""
    alias = clean_alias(alias)
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        rules.refuse(rules.may_move_alias(actor, registered_model=model))
        version = _version_of(model, version_number)
        if version is None:
            raise VersionNotFound(
                f"Version {version_number} of '{model.name}' does not exist.", field="version"
            )
        rules.refuse(
            rules.alias_unprotected(
                policies.policy_for(model),
                registered_model=model,
                alias=alias,
                version_number=version.version,
            )
        )
        rules.refuse(rules.version_usable(version, to="carry an alias"))
        row = _lock_alias(model, alias)
        _check_expected(row, alias, expected_version)
        return alias_point(model, alias, version, row=row, actor=actor, now=timezone.now())


def _lock_alias(model: RegisteredModel, alias: str) -> ModelAlias | None:
    found = _LOCK_ALIAS.run(model_id=model.pk, alias=alias)
    return found[0] if found else None


def _version_of(model: RegisteredModel, number) -> ModelVersion | None:
    if isinstance(number, bool) or not isinstance(number, int) or not selectors.version_number_fits(number):
        return None
    found = _VERSION.run(model_id=model.pk, number=number)
    return found[0] if found else None


# Every alias move runs these (compiled once per process, models_app/compiled.py).
_LOCK_ALIAS = CompiledQuery(
    lambda model_id, alias: (
        ModelAlias.objects.select_for_update(of=("self", "version"))
        .select_related("version", "updated_by")
        .filter(registered_model_id=model_id, name=alias)
        .order_by("pk")[:1]
    ),
    model_id=9_007_199_254_740_881,
    alias="\x00alias\x00",
)
_VERSION = CompiledQuery(
    lambda model_id, number: ModelVersion.objects.filter(registered_model_id=model_id, version=number)[:1],
    model_id=9_007_199_254_740_881,
    number=2_147_480_009,
)


def alias_point(
    model: RegisteredModel,
    alias: str,
    version: ModelVersion,
    *,
    actor,
    now,
    row: ModelAlias | Unset | None = UNSET,
    transition_request=None,
    comment: str = "",
) -> ModelAlias:
    """Point ``@alias`` at ``version`` and append the ``alias_set`` row (nothing when it points there
    already). The caller holds the model's lock and applied the rules; ``row`` is the alias's locked
    row when the caller read it (None: not set), ``transition_request`` the approved request, if any."""
    if row is UNSET:
        row = _lock_alias(model, alias)
    previous = row.version.version if row else None
    # The alias's row is written with the ledger row (one statement on PostgreSQL): under the model's
    # lock nothing else creates it, and an existing one is locked.
    created, changed = [], []
    if row is None:
        row = ModelAlias(
            registered_model=model, name=alias, version=version, updated_by=actor, updated_at=now
        )
        created.append(row)
    elif previous != version.version:
        row.version, row.updated_by, row.updated_at = version, actor, now
        changed.append((row, ["version", "updated_by", "updated_at"]))
    elif transition_request is None:
        return row
    # An approved request always leaves its row, even when the alias already pointed there.
    record(
        also=created,
        updating=changed,
        registered_model=model,
        version=version,
        kind=LedgerKind.ALIAS_SET,
        alias=alias,
        actor=actor,
        transition_request=transition_request,
        comment=comment,
        details={"from_version": previous, "to_version": version.version},
        now=now,
    )
    return row


def alias_delete(
    *, registered_model: RegisteredModel, alias: str, actor, expected_version: Any = UNSET
) -> None:
    """Remove ``@alias`` (compare-and-set with ``expected_version`` like ``alias_set``)."""
    alias = clean_alias(alias)
    with transaction.atomic():
        model = lock_model(registered_model.pk)
        rules.refuse(rules.may_move_alias(actor, registered_model=model))
        rules.refuse(
            rules.alias_unprotected(
                policies.policy_for(model), registered_model=model, alias=alias, removing=True
            )
        )
        row = _lock_alias(model, alias)
        if row is None:
            raise NotFound(f"Alias '@{alias}' does not exist on '{model.name}'.", field="alias")
        _check_expected(row, alias, expected_version)
        version = row.version
        row.delete()
        record(
            registered_model=model,
            version=version,
            kind=LedgerKind.ALIAS_REMOVED,
            alias=alias,
            actor=actor,
            details={"from_version": version.version, "to_version": None},
        )
