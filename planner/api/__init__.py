"""The Python API of planner: one function per question, the same answers the CLI prints.

Each function takes specs (or catalog names and file paths) and an options dataclass whose defaults are
defined there, once (the CLI reads its defaults from the same dataclass). It returns a typed result whose
`to_dict()` is exactly what `planner ... --format json` prints (less `schema_version`); a result that predicts
a time or throughput carries its model class's error band (`error_band_pct`, `error_band(model_class)`:
planner.validate.bands). Errors are
planner.errors types: SettingError (a setting out of range, named as the options field, e.g.
`base_batch`), SpecError (a bad file or catalog name: file, line, field), InfeasibleError (no answer).

    >>> from planner.api import LROptions, lr_schedule
    >>> result = lr_schedule(LROptions(batch=8192))
    >>> round(result.schedule.peak_lr, 6)
    3.2
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it: imported on first use, so that importing one question's module (as each
# CLI command does for its defaults) does not import every other question's (`planner --help` stays fast)
_WHERE = {
    "ADCNNSolver": "planner.api.edge_adcnn",
    "BubbleOptions": "planner.api.pipeline",
    "BubbleResult": "planner.api.pipeline",
    "CalibrateOptions": "planner.api.calibrate",
    "CalibrationResult": "planner.api.calibrate",
    "CommOptions": "planner.api.comm",
    "CommResult": "planner.api.comm",
    "DEFAULT_CNN_BATCH": "planner.api.training",
    "DPExportOptions": "planner.api.export",
    "DPOptions": "planner.api.dp",
    "DPPlanResult": "planner.api.dp",
    "EdgeADCNNOptions": "planner.api.edge_adcnn",
    "EdgeADCNNResult": "planner.api.edge_adcnn",
    "EdgeExitsOptions": "planner.api.edge_exits",
    "EdgeExitsResult": "planner.api.edge_exits",
    "EdgeMoDNNOptions": "planner.api.edge_modnn",
    "EdgeMoDNNResult": "planner.api.edge_modnn",
    "EdgeSplitOptions": "planner.api.edge_split",
    "EdgeSplitResult": "planner.api.edge_split",
    "EdgeTransformerOptions": "planner.api.edge_transformer",
    "EdgeTransformerResult": "planner.api.edge_transformer",
    "ErrorBand": "planner.validate.bands",
    "ExportResult": "planner.api.export",
    "FCPartitionScheme": "planner.api.edge_modnn",
    "FLHeteroFLOptions": "planner.api.fl_heterofl",
    "FLHeteroFLResult": "planner.api.fl_heterofl",
    "FLNoniidOptions": "planner.api.fl_noniid",
    "FLNoniidResult": "planner.api.fl_noniid",
    "FLRoundOptions": "planner.api.fl_round",
    "FLRoundResult": "planner.api.fl_round",
    "FLSelectOptions": "planner.api.fl_select",
    "FLSelectResult": "planner.api.fl_select",
    "FleetSummary": "planner.api.fl_common",
    "FleetsResult": "planner.api.fl_fleets",
    "HardwareListResult": "planner.api.catalog",
    "HardwareResult": "planner.api.catalog",
    "HardwareShowOptions": "planner.api.catalog",
    "LLMExportOptions": "planner.api.export",
    "LLMOptions": "planner.api.llm",
    "LLMPlanResult": "planner.api.llm",
    "LLMRecommendation": "planner.api.plan",
    "LROptions": "planner.api.lr",
    "LRScheduleResult": "planner.api.lr",
    "LocalTraining": "planner.api.fl_common",
    "MoDNNPartition": "planner.api.edge_modnn",
    "ModelResult": "planner.api.catalog",
    "ModelShowOptions": "planner.api.catalog",
    "ModelSummary": "planner.api.fl_common",
    "ModelsListResult": "planner.api.catalog",
    "PartitionOptions": "planner.api.partition",
    "PartitionResult": "planner.api.partition",
    "PipelineExportOptions": "planner.api.export",
    "PlanOptions": "planner.api.plan",
    "ResolvedTraining": "planner.api.training",
    "ScheduleOptions": "planner.api.pipeline",
    "ScheduleResult": "planner.api.pipeline",
    "SchemaResult": "planner.api.schema",
    "SpecdecAlphaOptions": "planner.api.specdec",
    "SpecdecAlphaResult": "planner.api.specdec",
    "SpecdecModelsOptions": "planner.api.specdec_models",
    "SpecdecModelsResult": "planner.api.specdec_models",
    "SpecdecSimulateOptions": "planner.api.specdec",
    "SpecdecSimulateResult": "planner.api.specdec",
    "SpecdecSpeedupOptions": "planner.api.specdec",
    "SpecdecSpeedupResult": "planner.api.specdec",
    "SpecdecTreeOptions": "planner.api.specdec_tree",
    "SpecdecTreeResult": "planner.api.specdec_tree",
    "SplitChoice": "planner.api.edge_split",
    "SplitObjective": "planner.api.edge_split",
    "StrategyPlanResult": "planner.api.plan",
    "TrainingOptions": "planner.api.training",
    "ValidateOptions": "planner.api.validate",
    "ValidationResult": "planner.api.validate",
    "VerifyCost": "planner.api.specdec_tree",
    "allreduce_comparison": "planner.api.comm",
    "calibrate_machine": "planner.api.calibrate",
    "data_parallel": "planner.api.dp",
    "edge_adcnn": "planner.api.edge_adcnn",
    "edge_exits": "planner.api.edge_exits",
    "edge_modnn": "planner.api.edge_modnn",
    "edge_split": "planner.api.edge_split",
    "edge_transformer": "planner.api.edge_transformer",
    "error_band": "planner.validate.bands",
    "export_dp": "planner.api.export",
    "export_llm": "planner.api.export",
    "export_pipeline": "planner.api.export",
    "export_plan": "planner.api.export_plan",
    "fl_fleets": "planner.api.fl_fleets",
    "fl_heterofl": "planner.api.fl_heterofl",
    "fl_noniid": "planner.api.fl_noniid",
    "fl_round": "planner.api.fl_round",
    "fl_select": "planner.api.fl_select",
    "hardware_list": "planner.api.catalog",
    "hardware_show": "planner.api.catalog",
    "llm_parallel": "planner.api.llm",
    "load_cluster": "planner.api.inputs",
    "load_device": "planner.api.inputs",
    "load_llm": "planner.api.inputs",
    "load_model": "planner.api.inputs",
    "load_training_model": "planner.api.inputs",
    "lr_schedule": "planner.api.lr",
    "model_show": "planner.api.catalog",
    "models_list": "planner.api.catalog",
    "pipeline_bubble": "planner.api.pipeline",
    "pipeline_partition": "planner.api.partition",
    "pipeline_schedule": "planner.api.pipeline",
    "plan_llm": "planner.api.plan",
    "plan_strategies": "planner.api.plan",
    "resolve_training": "planner.api.training",
    "schema": "planner.api.schema",
    "specdec_alpha": "planner.api.specdec",
    "specdec_models": "planner.api.specdec_models",
    "specdec_simulate": "planner.api.specdec",
    "specdec_speedup": "planner.api.specdec",
    "specdec_tree": "planner.api.specdec_tree",
    "validate": "planner.api.validate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """The API's names, each imported from its module when first asked for (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
