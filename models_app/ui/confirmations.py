"""What a Production-changing action will do, in words: the confirmation step's texts, built here only.

Approve, reject and roll back each change (or may change) what runs in Production, so the UI asks
before it acts and says exactly what will change ("v3 enters Production; v2 is archived."). The
functions are pure: views hand in the facts they read through selectors (the current Production
version, the approvals so far, the policy's group minimums) and get back a ``Confirmation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Confirmation:
    """One confirmation step: a title, the changes one per line, and the confirm button's label."""

    title: str
    changes: list[str]
    confirm_label: str
    warnings: list[str] = field(default_factory=list)
    applies: bool = True  # False when the action only records a vote and nothing moves yet
    tone: str = "approve"  # the confirm button's style: approve or reject

    @property
    def summary(self) -> str:
        """The changes as one sentence: ``"v3 enters Production; v2 is archived."``."""
        return "; ".join(c.rstrip(".") for c in self.changes) + "."


def _production_leaves(model_name: str, production_number: int | None, incoming: int) -> list[str]:
    if production_number is None:
        return [f"{model_name} had no Production version; v{incoming} becomes its first."]
    if production_number == incoming:
        return []
    return [f"v{production_number} is archived."]


def _outcome(kind: str, model_name: str, version_number: int, target_alias: str) -> list[str]:
    """What an applied request of ``kind`` changes, one line each."""
    if kind == "retirement":
        return [
            f"v{version_number} leaves Production and is archived.",
            f"{model_name} will have no Production version.",
        ]
    if kind == "alias":
        return [f"@{target_alias} points at v{version_number}."]
    return [f"v{version_number} enters Production."]


def _unchanged(kind: str, version_number: int, production_number: int | None, target_alias: str) -> list[str]:
    """What stays as it is while a request of ``kind`` is not applied."""
    if kind == "retirement":
        return [f"v{version_number} stays in Production."]
    if kind == "alias":
        return [f"@{target_alias} is unchanged."]
    return [
        f"v{version_number} stays in Staging.",
        "Production is unchanged" + (f" (v{production_number})." if production_number else " (none)."),
    ]


def approve(
    *,
    model_name: str,
    request_pk: int,
    version_number: int,
    production_number: int | None,
    approvals: int,
    required: int,
    missing_groups: dict[str, int] | None = None,
    reviewer_groups: frozenset[str] | set[str] = frozenset(),
    kind: str = "promotion",
    target_alias: str = "",
) -> Confirmation:
    """Approving request ``request_pk`` for ``version_number``: the move is applied when the approvals
    already given plus this one reach ``required`` and this reviewer (one of ``reviewer_groups``) leaves
    no group minimum of the policy unmet (``missing_groups``: group -> approvals still needed);
    otherwise the approval is only recorded and the version waits."""
    after = approvals + 1
    still_missing = {
        group: n - (1 if group in reviewer_groups else 0)
        for group, n in (missing_groups or {}).items()
        if n - (1 if group in reviewer_groups else 0) > 0
    }
    title = f"Approve request #{request_pk} ({model_name} v{version_number})?"
    if after >= required and not still_missing:
        changes = _outcome(kind, model_name, version_number, target_alias)
        if kind == "promotion":
            changes += _production_leaves(model_name, production_number, version_number)
        label = {
            "retirement": f"Approve: v{version_number} leaves Production",
            "alias": f"Approve: @{target_alias} to v{version_number}",
        }.get(kind, f"Approve: v{version_number} to Production")
        return Confirmation(title=title, changes=changes, confirm_label=label)
    needs = []
    if required > after:
        still = required - after
        needs.append(f"{still} more approval{'s' if still != 1 else ''}")
    needs += [
        f"{n} approval{'s' if n != 1 else ''} from {group}" for group, n in sorted(still_missing.items())
    ]
    unchanged = _unchanged(kind, version_number, production_number, target_alias)
    changes = [
        f"Your approval is recorded ({after} of {required}).",
        unchanged[0].rstrip(".") + f"; it still needs {' and '.join(needs)}.",
        *unchanged[1:],
    ]
    return Confirmation(title=title, changes=changes, confirm_label="Approve", applies=False)


def reject(
    *,
    model_name: str,
    request_pk: int,
    version_number: int,
    production_number: int | None,
    kind: str = "promotion",
    target_alias: str = "",
) -> Confirmation:
    """Rejecting request ``request_pk``: one rejection closes it; nothing moves."""
    return Confirmation(
        title=f"Reject request #{request_pk} ({model_name} v{version_number})?",
        changes=[
            f"Request #{request_pk} is closed as rejected.",
            *_unchanged(kind, version_number, production_number, target_alias),
        ],
        confirm_label=f"Reject request #{request_pk}",
        applies=False,
        tone="reject",
    )


def roll_back(*, model_name: str, version_number: int, production_number: int | None) -> Confirmation:
    """Rolling Production back to ``version_number`` (archived, formerly Production)."""
    changes = [f"v{version_number} returns to Production."]
    if production_number is None:
        changes.append(f"{model_name} has no Production version now; nothing else is archived.")
    elif production_number != version_number:
        changes.append(f"v{production_number} is archived.")
    return Confirmation(
        title=f"Roll {model_name} back to v{version_number}?",
        changes=changes,
        confirm_label=f"Roll back to v{version_number}",
        warnings=["Freeze windows do not apply to a rollback."],
        tone="reject",
    )
