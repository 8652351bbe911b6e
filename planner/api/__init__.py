"""The Python API of planner: one function per question, the same answers the CLI prints.

Each function takes specs (or catalog names and file paths) and an options dataclass whose defaults are
defined there, once (the CLI reads its defaults from the same dataclass). It returns a typed result whose
`to_dict()` is exactly what `planner ... --format json` prints (less `schema_version`). Errors are
planner.errors types: SettingError (a setting out of range, named as the options field, e.g.
`base_batch`), SpecError (a bad file or catalog name: file, line, field), InfeasibleError (no answer).

    >>> from planner.api import LROptions, lr_schedule
    >>> result = lr_schedule(LROptions(batch=8192))
    >>> round(result.schedule.peak_lr, 6)
    3.2
"""

from planner.api.calibrate import CalibrateOptions, CalibrationResult, calibrate_machine
from planner.api.catalog import (
    HardwareListResult,
    HardwareResult,
    HardwareShowOptions,
    ModelResult,
    ModelShowOptions,
    ModelsListResult,
    hardware_list,
    hardware_show,
    model_show,
    models_list,
)
from planner.api.comm import CommOptions, CommResult, allreduce_comparison
from planner.api.dp import DPOptions, DPPlanResult, data_parallel
from planner.api.edge_adcnn import ADCNNSolver, EdgeADCNNOptions, EdgeADCNNResult, edge_adcnn
from planner.api.edge_exits import EdgeExitsOptions, EdgeExitsResult, edge_exits
from planner.api.edge_modnn import EdgeMoDNNOptions, EdgeMoDNNResult, MoDNNPartition, edge_modnn
from planner.api.edge_split import EdgeSplitOptions, EdgeSplitResult, SplitChoice, SplitObjective, edge_split
from planner.api.edge_transformer import EdgeTransformerOptions, EdgeTransformerResult, edge_transformer
from planner.api.export import (
    DPExportOptions,
    ExportResult,
    LLMExportOptions,
    PipelineExportOptions,
    export_dp,
    export_llm,
    export_pipeline,
)
from planner.api.export_plan import export_plan
from planner.api.fl_common import FleetSummary, LocalTraining, ModelSummary
from planner.api.fl_fleets import FleetsResult, fl_fleets
from planner.api.fl_heterofl import FLHeteroFLOptions, FLHeteroFLResult, fl_heterofl
from planner.api.fl_noniid import FLNoniidOptions, FLNoniidResult, fl_noniid
from planner.api.fl_round import FLRoundOptions, FLRoundResult, fl_round
from planner.api.fl_select import FLSelectOptions, FLSelectResult, fl_select
from planner.api.llm import LLMOptions, LLMPlanResult, llm_parallel
from planner.api.lr import LROptions, LRScheduleResult, lr_schedule
from planner.api.partition import PartitionOptions, PartitionResult, pipeline_partition
from planner.api.pipeline import (
    BubbleOptions,
    BubbleResult,
    ScheduleOptions,
    ScheduleResult,
    pipeline_bubble,
    pipeline_schedule,
)
from planner.api.plan import LLMRecommendation, PlanOptions, StrategyPlanResult, plan_llm, plan_strategies
from planner.api.schema import SchemaResult, schema
from planner.api.specdec import (
    SpecdecAlphaOptions,
    SpecdecAlphaResult,
    SpecdecSimulateOptions,
    SpecdecSimulateResult,
    SpecdecSpeedupOptions,
    SpecdecSpeedupResult,
    specdec_alpha,
    specdec_simulate,
    specdec_speedup,
)
from planner.api.specdec_models import SpecdecModelsOptions, SpecdecModelsResult, specdec_models
from planner.api.specdec_tree import SpecdecTreeOptions, SpecdecTreeResult, VerifyCost, specdec_tree
from planner.api.training import (
    DEFAULT_CNN_BATCH,
    ResolvedTraining,
    TrainingOptions,
    load_cluster,
    load_model,
    load_training_model,
    resolve_training,
)
from planner.api.validate import ValidateOptions, ValidationResult, validate

__all__ = [
    "DEFAULT_CNN_BATCH",
    "ADCNNSolver",
    "BubbleOptions",
    "BubbleResult",
    "CalibrateOptions",
    "CalibrationResult",
    "CommOptions",
    "CommResult",
    "DPExportOptions",
    "DPOptions",
    "DPPlanResult",
    "EdgeADCNNOptions",
    "EdgeADCNNResult",
    "EdgeExitsOptions",
    "EdgeExitsResult",
    "EdgeMoDNNOptions",
    "EdgeMoDNNResult",
    "EdgeSplitOptions",
    "EdgeSplitResult",
    "EdgeTransformerOptions",
    "EdgeTransformerResult",
    "ExportResult",
    "FLHeteroFLOptions",
    "FLHeteroFLResult",
    "FLNoniidOptions",
    "FLNoniidResult",
    "FLRoundOptions",
    "FLRoundResult",
    "FLSelectOptions",
    "FLSelectResult",
    "FleetSummary",
    "FleetsResult",
    "HardwareListResult",
    "HardwareResult",
    "HardwareShowOptions",
    "LLMExportOptions",
    "LLMOptions",
    "LLMPlanResult",
    "LLMRecommendation",
    "LROptions",
    "LRScheduleResult",
    "LocalTraining",
    "MoDNNPartition",
    "ModelResult",
    "ModelShowOptions",
    "ModelSummary",
    "ModelsListResult",
    "PartitionOptions",
    "PartitionResult",
    "PipelineExportOptions",
    "PlanOptions",
    "ResolvedTraining",
    "ScheduleOptions",
    "ScheduleResult",
    "SchemaResult",
    "SpecdecAlphaOptions",
    "SpecdecAlphaResult",
    "SpecdecModelsOptions",
    "SpecdecModelsResult",
    "SpecdecSimulateOptions",
    "SpecdecSimulateResult",
    "SpecdecSpeedupOptions",
    "SpecdecSpeedupResult",
    "SpecdecTreeOptions",
    "SpecdecTreeResult",
    "SplitChoice",
    "SplitObjective",
    "StrategyPlanResult",
    "TrainingOptions",
    "ValidateOptions",
    "ValidationResult",
    "VerifyCost",
    "allreduce_comparison",
    "calibrate_machine",
    "data_parallel",
    "edge_adcnn",
    "edge_exits",
    "edge_modnn",
    "edge_split",
    "edge_transformer",
    "export_dp",
    "export_llm",
    "export_pipeline",
    "export_plan",
    "fl_fleets",
    "fl_heterofl",
    "fl_noniid",
    "fl_round",
    "fl_select",
    "hardware_list",
    "hardware_show",
    "llm_parallel",
    "load_cluster",
    "load_model",
    "load_training_model",
    "lr_schedule",
    "model_show",
    "models_list",
    "pipeline_bubble",
    "pipeline_partition",
    "pipeline_schedule",
    "plan_llm",
    "plan_strategies",
    "resolve_training",
    "schema",
    "specdec_alpha",
    "specdec_models",
    "specdec_simulate",
    "specdec_speedup",
    "specdec_tree",
    "validate",
]
