"""The stage machine as a table. Pure Python: no ORM, no I/O."""

from models_app.choices import Stage
from models_app.exceptions import InvalidTransition

# Every allowed direct move. archived -> production appears only in ROLLBACK_MOVES.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.NONE: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.NONE, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset({Stage.STAGING}),
}

# Moves that only an approved transition request may make.
REQUIRES_APPROVAL: frozenset[Stage] = frozenset({Stage.PRODUCTION})

# Moves that only a rollback may make.
ROLLBACK_MOVES: frozenset[tuple[Stage, Stage]] = frozenset({(Stage.ARCHIVED, Stage.PRODUCTION)})

# Stages only a reviewer may move a version into (publishers handle the rest of their team's moves).
REVIEWER_TARGETS: frozenset[Stage] = frozenset({Stage.ARCHIVED})


def is_allowed(current: Stage, target: Stage, *, rollback: bool = False) -> bool:
    """Whether the table allows ``current -> target`` (as a rollback when ``rollback``)."""
    if rollback:
        return (current, target) in ROLLBACK_MOVES
    return target in TRANSITIONS[current]


def check_transition(current: Stage, target: Stage, *, rollback: bool = False) -> None:
    """Raise InvalidTransition naming both stages unless the table allows the move."""
    if not is_allowed(Stage(current), Stage(target), rollback=rollback):
        raise InvalidTransition(current=Stage(current), target=Stage(target), rollback=rollback)
