"""`--log mlflow`: the same scalars, pictures and settings as TensorBoard gets, in one MLflow run
(the `mlflow` extra: mlflow-skinny, the client without the server; `mlflow ui` is the full
`mlflow` package's).

Where: $MLFLOW_TRACKING_URI when set (a server, a database), else a local store in RUN/mlruns:
    mlflow ui --backend-store-uri runs/v/mlruns
MLflow 3 keeps that file store in maintenance mode and refuses it unless
MLFLOW_ALLOW_FILE_STORE=true; aekit sets that (when unset) for its own local store only, since
the database store needs SQLAlchemy, Alembic and seconds of schema setup per run directory.
The experiment is $MLFLOW_EXPERIMENT_NAME or "aekit"; the run is named after the run directory.
RUN/mlflow.json records the run's id, so `--resume` continues the same MLflow run (MLflow keeps
both values of a step that a killed process logged and the resumed one logged again).

Step values are sent in batches (at each epoch's end, and every BATCH values): one request per
training step would cost more than a small model's step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aekit.atomic import write_json_atomic
from aekit.errors import AekitError, first_line
from aekit.extras import require

STORE = "mlruns"
RECORD = "mlflow.json"
EXPERIMENT = "aekit"
BATCH = 1000  # MLflow's own limit for metrics in one log_batch


class MLflow:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.client: Any = None
        self.run_id: str | None = None
        self.pending: list[Any] = []

    def start(self, done: int, hyperparameters: Mapping[str, Any]) -> None:
        require("mlflow", "mlflow", "--log mlflow")
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI") or ""
        if not uri:
            uri = (self.run_dir / STORE).resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = MlflowClient(uri)
            # A new start (done 0: also a run that diverged before its first checkpoint and
            # is started again, perhaps with another lr) is a new MLflow run: params are fixed.
            self.run_id = (self._continued(uri) if done else None) or self._created(uri)
            if done == 0:  # a resumed run's settings are the saved run's: logged once
                params = [Param(k, str(v)) for k, v in hyperparameters.items()]
                for first in range(0, len(params), 100):  # MLflow's limit per request
                    self.client.log_batch(self.run_id, params=params[first : first + 100])
        except MlflowException as exc:
            raise AekitError(f"--log mlflow: {uri}: {first_line(str(exc))}") from None

    def _continued(self, uri: str) -> str | None:
        """The id of the MLflow run this run directory logged to before, in this store."""
        import json

        record = self.run_dir / RECORD
        if not record.is_file():
            return None
        try:
            saved = json.loads(record.read_text(encoding="utf-8"))
            if saved.get("tracking_uri") != uri:
                return None
            run = self.client.get_run(saved["run_id"])
        except Exception:  # noqa: BLE001  (no such run there any more: start a new one)
            return None
        self.client.update_run(run.info.run_id, status="RUNNING")
        return run.info.run_id

    def _created(self, uri: str) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(name)
        )
        run = self.client.create_run(
            experiment_id,
            run_name=self.run_dir.resolve().name,
            tags={"aekit.run_dir": str(self.run_dir.resolve())},
        )
        write_json_atomic(self.run_dir / RECORD, {"tracking_uri": uri, "run_id": run.info.run_id})
        return run.info.run_id

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        from mlflow.entities import Metric
        from mlflow.utils.time import get_current_time_millis

        now = get_current_time_millis()
        self.pending += [Metric(k, v, now, step) for k, v in values.items()]
        if len(self.pending) >= BATCH:
            self.flush()

    def image(self, step: int, name: str, image: Any) -> None:
        self.client.log_image(self.run_id, image, key=name, step=step, synchronous=True)

    def flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            self.client.log_batch(self.run_id, metrics=batch, synchronous=True)

    def close(self, ok: bool) -> None:
        if self.client is None or self.run_id is None:
            return
        try:
            self.flush()
        finally:
            self.client.set_terminated(self.run_id, "FINISHED" if ok else "FAILED")
            self.client = None
