"""A tiny pyfunc model for the MLflow tests: y = x + n, with n read from an artifact file."""

import json

import mlflow.pyfunc


class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["config"]) as f:
            self.n = json.load(f)["n"]

    def predict(self, context, model_input, params=None):
        import pandas as pd

        return pd.DataFrame({"y": model_input["x"].astype(float) + float(self.n)})
