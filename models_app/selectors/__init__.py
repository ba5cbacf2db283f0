"""Every read the edges make, with the joins they need, so list pages run a fixed number of queries.

One module per area; named like the services they pair with (``<entity>_get``, ``<entity>_list``).
"""

from models_app.selectors.ledger import (
    HistoryQuery,
    Snapshot,
    ledger_for_version,
    ledger_list,
    model_history_at,
    model_history_for,
    models_production_changed_recently,
    parse_moment,
)
from models_app.selectors.models import model_get, model_list, model_list_with_staging
from models_app.selectors.pipeline import (
    current_deployments_prefetch,
    deployment_current,
    deployment_list,
    event_last_sequence,
    event_list_after,
    webhook_delivery_list,
    webhook_subscription_list,
)
from models_app.selectors.requests import (
    transition_request_awaiting,
    transition_request_get,
    transition_request_list,
    transition_request_list_by,
    transition_request_list_for_version,
    transition_request_list_pending,
)
from models_app.selectors.uploads import upload_session_get
from models_app.selectors.versions import (
    version_children,
    version_ever_in_production,
    version_file_get,
    version_get,
    version_list,
)

__all__ = [
    "HistoryQuery",
    "Snapshot",
    "current_deployments_prefetch",
    "deployment_current",
    "deployment_list",
    "event_last_sequence",
    "event_list_after",
    "ledger_for_version",
    "ledger_list",
    "model_get",
    "model_history_at",
    "model_history_for",
    "model_list",
    "model_list_with_staging",
    "models_production_changed_recently",
    "parse_moment",
    "transition_request_awaiting",
    "transition_request_get",
    "transition_request_list",
    "transition_request_list_by",
    "transition_request_list_for_version",
    "transition_request_list_pending",
    "upload_session_get",
    "version_children",
    "version_ever_in_production",
    "version_file_get",
    "version_get",
    "version_list",
    "webhook_delivery_list",
    "webhook_subscription_list",
]
