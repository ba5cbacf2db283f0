"""The MLflow protocol edge: the registry answers the ``mlflow`` client's own REST calls.

Pointing ``MLFLOW_TRACKING_URI`` at the registry's base URL and ``MLFLOW_TRACKING_TOKEN`` at a registry API
token is the whole migration for training and serving code written against the client. Like the API, the
UI and the admin, this is an edge: it authenticates with the registry's bearer tokens, asks
``models_app.rules``, writes only through ``models_app.services`` and reads through ``models_app.selectors``.

Modules: ``http`` (authentication, parameters, the one error mapping, dispatch), ``translate`` (registry
objects as MLflow JSON), ``filters`` (the search filter grammar the client sends), ``paging`` (page
tokens), ``paths`` (the ``mlflow-artifacts:`` namespace), ``registry`` and ``tracking`` (the endpoints),
``artifacts`` (the artifact proxy), ``urls``.
"""
