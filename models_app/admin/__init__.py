"""The governance admin: one module per area, every write through the services.

Governance reads everything here; versions, their files, stages and the ledger are never editable: a
version's stage changes only through actions that call the services, like every other edge.
"""

from models_app.admin import (  # noqa: F401  (importing registers each area's admin classes)
    holds,
    identities,
    ledger,
    models,
    policies,
    requests,
    tokens,
    users,
    versions,
    webhooks,
)
