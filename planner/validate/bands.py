"""Error bands: how far each model class's predictions have been from published or measured figures.

Every time or throughput the planner prints comes from a model class (llm-training, data-parallel, ...).
Its band is the 90th percentile of |error| % over the class's validation cases that count, where the
percentile interpolates linearly between order statistics (Hyndman & Fan 1996, definition 7; numpy's
default 'linear' method): the value at rank p/100 x (n - 1) of the sorted errors, counting from 0.

A case counts when its figure is a published or measured value our model predicts: `kind: published`,
compared as a value (a published bound, `comparison: at_least/at_most`, has no error to take), from an
evaluator that names a class (a configuration match or a count has none), and not `calibration: true`
(its figure fitted a parameter, so its error is not out of sample). `exact` cases are closed forms and
counts: a miss there is a bug, not model error. A class with fewer than MIN_CASES cases has no band.

The bands are computed from a validation run and stored in error_bands.json beside this module, so that
reading one costs a small file, not a validation run. Regenerate after a change to a model or a case:
    python -m planner.validate.bands --data ../shared
(tests/test_error_bands.py fails, naming this command, when the file is stale).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError, SettingError

if TYPE_CHECKING:
    from planner.validate.cases import Case
    from planner.validate.runner import CaseResult

BANDS_FILE = Path(__file__).resolve().parent / "error_bands.json"
REGENERATE = "python -m planner.validate.bands --data ../shared"
PERCENTILE = 90.0
MIN_CASES = 5  # issue 15: under 5 cases, a 90th percentile is the largest error or near it: "no band"

LLM_TRAINING = "llm-training"
DATA_PARALLEL = "data-parallel"
PIPELINE = "pipeline"
EDGE = "edge"
FEDERATED = "federated"
SPECULATIVE_DECODING = "speculative-decoding"
COMMUNICATION = "communication"
SERVING = "serving"
MODEL_CLASSES = (
    LLM_TRAINING,
    DATA_PARALLEL,
    PIPELINE,
    EDGE,
    FEDERATED,
    SPECULATIVE_DECODING,
    COMMUNICATION,
    SERVING,
)

# evaluator -> the model class whose time or throughput (or a ratio of times: speed-up, efficiency) it
# predicts; None for an evaluator of a count, a size, a learning rate or a configuration, whose error says
# nothing about a printed time. Every registered evaluator is listed (tests/test_error_bands.py).
EVALUATOR_CLASSES: dict[str, str | None] = {
    "llm_plan": LLM_TRAINING,
    "dp_scaling_efficiency": DATA_PARALLEL,
    "dp_speedup": DATA_PARALLEL,
    "dp_time_to_train": DATA_PARALLEL,
    "gpipe_normalised_throughput": PIPELINE,
    "gpipe_amoebanet_throughput": PIPELINE,
    "pipeline_native_config_speedup": PIPELINE,
    "pipeline_bubble": PIPELINE,
    "pipeline_simulated_time": PIPELINE,
    "adcnn_speedup": EDGE,
    "modnn_speedup": EDGE,
    "fl_fleet_round_time": FEDERATED,
    "fl_round_time": FEDERATED,
    "specdec_walltime": SPECULATIVE_DECODING,
    "specdec_operations": SPECULATIVE_DECODING,
    "token_tree_expected_tokens": SPECULATIVE_DECODING,
    "pearl_speedup": SPECULATIVE_DECODING,
    "pearl_paper_setting": SPECULATIVE_DECODING,
    "allreduce_time": COMMUNICATION,
    "serving_throughput": SERVING,
    "serving_first_token_ms": SERVING,
    "cluster_allreduce_time": COMMUNICATION,
    "cluster_allreduce_lower_bound": COMMUNICATION,
    "pipeline_native_config_match": None,  # the stage configuration PipeDream chose, not a time
    "pipedream_optimizer": None,  # a reproduction of PipeDream's optimizer, not the planner's model
    "verify_prediction": None,  # measured cases (planner verify runs): reported apart, not a published band
    "ddnn_communication_reduction": None,  # bytes on the wire
    "ps_total_traffic": None,
    "ring_bytes_per_device": None,
    "dgc_dense_gradient_mib": None,
    "dgc_message_mib": None,
    "dgc_compression_ratio": None,
    "fl_fleet_updates": None,
    "fl_round_updates": None,
    "fl_local_steps": None,
    "heterofl_parameter_fraction": None,
    "heterofl_model_fraction": None,
    "cmfl_relevance": None,
    "noniid_emd": None,
    "noniid_shared_bytes_per_client": None,
    "cmfl_sign_agreement": None,  # a probability
    "cmfl_upload_probability": None,
    "noniid_shared_accuracy_gain": None,  # accuracy points, not a time
    "fl_selection_objective": None,  # an objective value of a selection
    "lr_linear_scaling": None,
    "lr_warmup_increment": None,
    "lr_at_epoch": None,
    "training_state_bytes": None,
    "model_parameters": None,
    "model_active_parameters": None,
    "model_forward_macs": None,
    "profile_total": None,
    "llm_parameters": None,
    "serving_kv_bytes_per_token": None,  # a size
    "serving_decode_floor_ms": None,  # a closed form (bytes / peak bandwidth), not the model's time
}


@dataclass(frozen=True)
class ErrorBand:
    """A model class's band: `pct` (None under MIN_CASES cases) over `cases` counted cases."""

    model_class: str
    pct: float | None
    cases: int
    percentile: float = PERCENTILE
    case_names: tuple[str, ...] = ()

    def basis(self) -> dict[str, Any]:
        """What the band stands on, for a result's payload (`error_band_basis`)."""
        return {"model_class": self.model_class, "cases": self.cases, "percentile": self.percentile}


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile of `values` by linear interpolation between the order statistics at
    ranks floor(r) and ceil(r), r = pct/100 x (n - 1) (Hyndman & Fan definition 7, numpy's 'linear')."""
    if not values:
        raise ValueError("the percentile of no values")
    ordered = sorted(values)
    rank = pct / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def counts(case: Case) -> bool:
    """Whether a case's error counts towards its class's band (the module docstring says which do)."""
    return (
        case.kind == "published"
        and case.comparison == "value"
        and not case.calibration
        and EVALUATOR_CLASSES.get(case.evaluator) is not None
    )


def compute(results: Iterable[CaseResult], cases: Mapping[str, Case]) -> dict[str, ErrorBand]:
    """The band of every class from a validation run's `results` (cases by name give each its evaluator)."""
    errors: dict[str, list[tuple[str, float]]] = {name: [] for name in MODEL_CLASSES}
    for result in results:
        case = cases[result.name]
        if counts(case) and result.error_pct is not None:
            model_class = EVALUATOR_CLASSES[case.evaluator]
            assert model_class is not None  # counts() checked it
            errors[model_class].append((result.name, abs(result.error_pct)))
    return {
        name: ErrorBand(
            name,
            percentile([e for _, e in found], PERCENTILE) if len(found) >= MIN_CASES else None,
            len(found),
            case_names=tuple(case for case, _ in found),
        )
        for name, found in errors.items()
    }


def to_json(bands: Mapping[str, ErrorBand]) -> str:
    """The text of error_bands.json."""
    body = {
        "about": "p90 |error| % per model class over its published cases; planner/validate/bands.py",
        "regenerate": REGENERATE,
        "percentile": PERCENTILE,
        "method": "linear (Hyndman & Fan definition 7)",
        "min_cases": MIN_CASES,
        "classes": {
            name: {"pct": band.pct, "cases": band.cases, "case_names": list(band.case_names)}
            for name, band in bands.items()
        },
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


@cache
def _stored() -> dict[str, Any]:
    classes: dict[str, Any] = json.loads(BANDS_FILE.read_text(encoding="utf-8"))["classes"]
    return classes


def error_band(model_class: str) -> ErrorBand:
    """The stored band of `model_class` (one of MODEL_CLASSES); its `pct` is None under MIN_CASES cases."""
    stored = _stored()
    if model_class not in stored:
        raise SettingError("model_class", f"one of: {', '.join(MODEL_CLASSES)}", model_class)
    entry = stored[model_class]
    return ErrorBand(model_class, entry["pct"], entry["cases"], case_names=tuple(entry["case_names"]))


def band_fields(model_class: str) -> dict[str, Any]:
    """The keys a result that predicts a time or throughput of `model_class` adds to its payload."""
    band = error_band(model_class)
    return {"error_band_pct": band.pct, "error_band_basis": band.basis()}


def regenerate(data_dir: Path | None, output: Path = BANDS_FILE) -> dict[str, ErrorBand]:
    """Run every validation case with `data_dir` and write the bands to `output` (atomically; by default the
    packaged error_bands.json, which the run itself reads for the bands its results carry)."""
    from planner.fileout import write_text
    from planner.validate.cases import all_cases
    from planner.validate.runner import run

    results = run(data_dir)
    skipped = [r.name for r in results if r.status == "skipped"]
    if skipped:
        raise SettingError(
            "data",
            f"a folder with every case's files ({len(skipped)} cases skipped, the first {skipped[0]})",
            str(data_dir),
        )
    bands = compute(results, {item.case.name: item.case for item in all_cases()})
    write_text(output, to_json(bands), setting="error bands file", force=True)
    return bands


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from planner.validate.runner import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="folder with profiles/ and reference/")
    parser.add_argument(
        "--output", type=Path, default=BANDS_FILE, help="where to write (default: the package's)"
    )
    args = parser.parse_args(argv)
    try:
        bands = regenerate(args.data if args.data is not None else default_data_dir(), args.output)
    except PlannerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    for band in bands.values():
        shown = "no band" if band.pct is None else f"±{band.pct:.1f}%"
        print(f"{band.model_class}: {shown} ({band.cases} cases)")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
