"""A training script as teams already have it: MLflow calls only, nothing that knows about the registry.

Usage: python train.py <registered model name> <output json>. MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN
come from the environment. Writes what it logged (run id, model id, versions, file digests) to the JSON.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd


class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.n = json.loads(Path(context.artifacts["config"]).read_text())["n"]

    def predict(self, context, model_input, params=None):
        return pd.DataFrame({"y": model_input["x"].astype(float) + float(self.n)})


def main(name: str, out: str) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "config.json").write_text(json.dumps({"n": 7}))
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 800)
    artifacts = {"config": str(folder / "config.json"), "weights": str(folder / "weights.bin")}

    mlflow.set_experiment("fraud-training")
    with mlflow.start_run() as run:
        mlflow.log_param("learning_rate", 0.1)
        mlflow.log_params({"epochs": 3, "optimizer": "sgd"})
        for step, accuracy in enumerate([0.7, 0.8, 0.9]):
            mlflow.log_metric("accuracy", accuracy, step=step)
        mlflow.log_metrics({"loss": 0.25}, step=2)
        mlflow.set_tag("use-case", "fraud")
        data = pd.DataFrame({"x": [1.0, 2.0]})
        mlflow.log_input(mlflow.data.from_pandas(data, name="transactions"), context="training")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddN(),
            artifacts=artifacts,
            registered_model_name=name,
            pip_requirements=["mlflow", "pandas"],
        )
    from_run = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    from_model = mlflow.register_model(f"models:/{info.model_id}", name)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{from_model.version}")
    Path(out).write_text(
        json.dumps(
            {
                "run_id": run.info.run_id,
                "model_id": info.model_id,
                "versions": [str(info.registered_model_version), from_run.version, from_model.version],
                "prediction": list(loaded.predict(data)["y"]),
                "sha256": {
                    f"artifacts/{Path(p).name}": hashlib.sha256(Path(p).read_bytes()).hexdigest()
                    for p in artifacts.values()
                },
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
