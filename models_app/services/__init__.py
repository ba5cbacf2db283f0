"""Every write the registry makes. The API, the MLflow layer, the reviewer UI, the admin and the commands
call these; nothing else writes.

Each service owns its transaction, takes the row locks it needs (the model's row before its versions,
which serializes numbering and promotion per model), asks ``models_app.rules`` whether the change is
allowed and raises the refusal if not, makes the change and appends the ledger row in the same
transaction. File I/O happens outside transactions. One module per aggregate; the helpers they share
live in ``_shared``.
"""

from models_app.services._shared import UNSET
from models_app.services.aliases import alias_delete, alias_set
from models_app.services.deployments import deployment_report
from models_app.services.drafts import CopiedFile, draft_artifact_store, version_register_from_drafts
from models_app.services.holds import hold_release, model_hold, version_hold
from models_app.services.identities import identity_sign_in
from models_app.services.jobs import periodic_job_claim, periodic_job_finish
from models_app.services.models import registered_model_create, registered_model_update
from models_app.services.policies import promotion_policy_set
from models_app.services.purges import (
    RETENTION_USERNAME,
    PurgeResult,
    RetentionReport,
    retention_actor,
    retention_apply,
    version_purge,
)
from models_app.services.requests import (
    transition_request_approve,
    transition_request_cancel,
    transition_request_create,
    transition_request_reject,
)
from models_app.services.stages import version_rollback, version_transition, version_transition_replacing
from models_app.services.tags import (
    registered_model_tag_delete,
    registered_model_tag_set,
    version_tag_delete,
    version_tag_set,
)
from models_app.services.tokens import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    auth_cache_clear,
)
from models_app.services.tracking import (
    experiment_create,
    experiment_default,
    logged_model_create,
    logged_model_tags_set,
    logged_model_update,
    run_create,
    run_inputs_log,
    run_log,
    run_outputs_log,
    run_update,
)
from models_app.services.uploads import (
    DeclaredFile,
    upload_session_expire_stale,
    version_upload_abort,
    version_upload_begin,
    version_upload_complete,
)
from models_app.services.users import notification_settings_set, user_deactivate
from models_app.services.versions import version_register, version_update
from models_app.services.webhooks import (
    webhook_delivery_replay,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)

__all__ = [
    "RETENTION_USERNAME",
    "UNSET",
    "CopiedFile",
    "DeclaredFile",
    "PurgeResult",
    "RetentionReport",
    "alias_delete",
    "alias_set",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "auth_cache_clear",
    "deployment_report",
    "draft_artifact_store",
    "experiment_create",
    "experiment_default",
    "hash_token",
    "hold_release",
    "identity_sign_in",
    "logged_model_create",
    "logged_model_tags_set",
    "logged_model_update",
    "model_hold",
    "new_secret",
    "notification_settings_set",
    "periodic_job_claim",
    "periodic_job_finish",
    "promotion_policy_set",
    "registered_model_create",
    "registered_model_tag_delete",
    "registered_model_tag_set",
    "registered_model_update",
    "retention_actor",
    "retention_apply",
    "run_create",
    "run_inputs_log",
    "run_log",
    "run_outputs_log",
    "run_update",
    "transition_request_approve",
    "transition_request_cancel",
    "transition_request_create",
    "transition_request_reject",
    "upload_session_expire_stale",
    "user_deactivate",
    "version_hold",
    "version_purge",
    "version_register",
    "version_register_from_drafts",
    "version_rollback",
    "version_tag_delete",
    "version_tag_set",
    "version_transition",
    "version_transition_replacing",
    "version_update",
    "version_upload_abort",
    "version_upload_begin",
    "version_upload_complete",
    "webhook_delivery_replay",
    "webhook_subscription_create",
    "webhook_subscription_delete",
    "webhook_subscription_rotate_secret",
    "webhook_subscription_update",
]
