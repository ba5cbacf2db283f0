"""Routes of the MLflow protocol (app_name="mlflow"), at the registry's root as the client expects:
``/api/2.0/mlflow/...``, ``/api/2.0/mlflow-artifacts/artifacts...`` and ``/api/3.0/mlflow/server-info``.
No trailing slashes (the client never sends one); every other path under these prefixes answers
``ENDPOINT_NOT_FOUND`` in the protocol's error shape."""

from django.urls import path

from models_app.mlflow import artifacts, registry, tracking
from models_app.mlflow.http import endpoint, endpoint_not_found

app_name = "mlflow"

API = "api/2.0/mlflow/"
RM = API + "registered-models/"
MV = API + "model-versions/"
LM = API + "logged-models"

urlpatterns = [
    # Model registry.
    path(RM + "create", endpoint(POST=registry.registered_model_create)),
    path(RM + "get", endpoint(GET=registry.registered_model_get)),
    path(RM + "update", endpoint(PATCH=registry.registered_model_update)),
    path(RM + "rename", endpoint(POST=registry.registered_model_rename)),
    path(RM + "delete", endpoint(DELETE=registry.registered_model_delete)),
    path(RM + "search", endpoint(GET=registry.registered_model_search)),
    path(RM + "set-tag", endpoint(POST=registry.registered_model_set_tag)),
    path(RM + "delete-tag", endpoint(DELETE=registry.registered_model_delete_tag)),
    path(
        RM + "alias", endpoint(GET=registry.alias_get, POST=registry.alias_set, DELETE=registry.alias_delete)
    ),
    path(RM + "get-latest-versions", endpoint(GET=registry.latest_versions, POST=registry.latest_versions)),
    path(MV + "create", endpoint(POST=registry.version_create)),
    path(MV + "get", endpoint(GET=registry.version_get)),
    path(MV + "update", endpoint(PATCH=registry.version_update)),
    path(MV + "delete", endpoint(DELETE=registry.version_delete)),
    path(MV + "search", endpoint(GET=registry.version_search)),
    path(MV + "set-tag", endpoint(POST=registry.version_set_tag)),
    path(MV + "delete-tag", endpoint(DELETE=registry.version_delete_tag)),
    path(MV + "transition-stage", endpoint(POST=registry.version_transition)),
    path(MV + "get-download-uri", endpoint(GET=registry.version_download_uri)),
    # Tracking.
    path(API + "experiments/get-by-name", endpoint(GET=tracking.experiment_get_by_name)),
    path(API + "experiments/get", endpoint(GET=tracking.experiment_get)),
    path(API + "experiments/create", endpoint(POST=tracking.experiment_create)),
    path(API + "runs/create", endpoint(POST=tracking.run_create)),
    path(API + "runs/get", endpoint(GET=tracking.run_get), name="runs-get"),
    path(API + "runs/update", endpoint(POST=tracking.run_update)),
    path(API + "runs/log-parameter", endpoint(POST=tracking.log_parameter)),
    path(API + "runs/log-metric", endpoint(POST=tracking.log_metric)),
    path(API + "runs/set-tag", endpoint(POST=tracking.set_tag)),
    path(API + "runs/log-batch", endpoint(POST=tracking.log_batch)),
    path(API + "runs/log-inputs", endpoint(POST=tracking.log_inputs)),
    path(API + "runs/outputs", endpoint(POST=tracking.log_outputs)),
    path(API + "metrics/get-history", endpoint(GET=tracking.metric_history)),
    path(LM, endpoint(POST=tracking.logged_model_create)),
    path(LM + "/search", endpoint(POST=tracking.logged_model_search)),
    path(
        LM + "/<str:model_id>", endpoint(GET=tracking.logged_model_get, PATCH=tracking.logged_model_finalize)
    ),
    path(LM + "/<str:model_id>/tags", endpoint(PATCH=tracking.logged_model_set_tags)),
    # Artifacts and server info.
    path("api/2.0/mlflow-artifacts/artifacts", endpoint(GET=artifacts.list_artifacts)),
    path(
        "api/2.0/mlflow-artifacts/artifacts/<path:path>",
        endpoint(raw_body=True, GET=artifacts.download, PUT=artifacts.upload),
    ),
    path("api/3.0/mlflow/server-info", endpoint(GET=artifacts.server_info)),
    path("api/2.0/<path:rest>", endpoint_not_found),
    path("api/3.0/<path:rest>", endpoint_not_found),
]
