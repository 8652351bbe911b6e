"""Evaluators of measured cases: `planner verify` runs recorded on a machine class, predicted again.

The setup names a profile and a calibrated machine recorded beside the cases (planner/validate/measured/:
what `planner profile` and `planner calibrate` wrote on that machine) and the plan that was run; the
prediction is planner.api.verify.predict on them, the same one `planner verify` printed. Nothing is run
here: the measured figure is the case's recorded value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.validate.evaluators import Context, evaluator

MEASURED_DIR = Path(__file__).resolve().parents[1] / "measured"


@evaluator(
    "verify_prediction",
    setup=("profile", "machine", "strategy", "processes"),
    optional=("schedule", "microbatches", "batch"),
)
def verify_prediction(setup: Mapping[str, Any], context: Context) -> float:
    """Predicted iteration seconds of the recorded plan (planner.api.verify.predict)."""
    from planner.api.inputs import load_training_model
    from planner.api.verify import VerifyOptions, predict

    profile = load_training_model(str(MEASURED_DIR / setup["profile"]))
    options = VerifyOptions(
        machine=str(MEASURED_DIR / setup["machine"]),
        strategy=setup["strategy"],
        processes=int(setup["processes"]),
        schedule=setup.get("schedule", VerifyOptions.schedule),
        microbatches=int(setup.get("microbatches", VerifyOptions.microbatches)),
    )
    options.check()
    batch = int(setup.get("batch", profile.batch_size))
    return predict(profile, options, batch).iteration_s
