"""Every read the edges make, with the joins they need, so list pages run a fixed number of queries.

One module per area; named like the services they pair with: ``<entity>_get``, ``<entity>_list`` and
``<entity>_list_<which>`` (``transition_request_list_pending``), with the entity in the singular.
"""

from models_app.selectors.ledger import (
    HistoryQuery,
    Snapshot,
    ledger_list,
    ledger_list_for_version,
    ledger_production_changes,
    registered_model_history_at,
    registered_model_history_at_text,
)
from models_app.selectors.models import (
    registered_model_get,
    registered_model_list,
    registered_model_list_with_staging,
)
from models_app.selectors.pipeline import (
    deployment_current_prefetch,
    deployment_list,
    deployment_list_current,
    event_last_sequence,
    event_list_after,
    webhook_delivery_list,
    webhook_subscription_list,
)
from models_app.selectors.requests import (
    transition_request_get,
    transition_request_list,
    transition_request_list_awaiting,
    transition_request_list_by,
    transition_request_list_for_version,
    transition_request_list_pending,
)
from models_app.selectors.tracking import (
    draft_files,
    experiment_get,
    experiment_get_by_name,
    group_by_name,
    latest_per_stage,
    logged_model_get,
    logged_model_list,
    logged_model_versions,
    run_get,
    run_latest_metrics,
    run_metric_history,
    teams_of,
    tracked_model_get,
    tracked_model_list,
    tracked_version_get,
    tracked_version_list,
    version_files,
)
from models_app.selectors.uploads import upload_session_get
from models_app.selectors.versions import (
    version_ever_in_production,
    version_file_get,
    version_get,
    version_list,
    version_list_children,
)

__all__ = [
    "HistoryQuery",
    "Snapshot",
    "deployment_current_prefetch",
    "deployment_list",
    "deployment_list_current",
    "draft_files",
    "event_last_sequence",
    "event_list_after",
    "experiment_get",
    "experiment_get_by_name",
    "group_by_name",
    "latest_per_stage",
    "ledger_list",
    "ledger_list_for_version",
    "ledger_production_changes",
    "logged_model_get",
    "logged_model_list",
    "logged_model_versions",
    "registered_model_get",
    "registered_model_history_at",
    "registered_model_history_at_text",
    "registered_model_list",
    "registered_model_list_with_staging",
    "run_get",
    "run_latest_metrics",
    "run_metric_history",
    "teams_of",
    "tracked_model_get",
    "tracked_model_list",
    "tracked_version_get",
    "tracked_version_list",
    "transition_request_get",
    "transition_request_list",
    "transition_request_list_awaiting",
    "transition_request_list_by",
    "transition_request_list_for_version",
    "transition_request_list_pending",
    "upload_session_get",
    "version_ever_in_production",
    "version_file_get",
    "version_files",
    "version_get",
    "version_list",
    "version_list_children",
    "webhook_delivery_list",
    "webhook_subscription_list",
]
