"""The main job: train an SNN, quantize it, deploy it on Lava, and compare the three oracles.

:mod:`.config` holds the run configuration (``pipeline.json``, checked field by field);
:mod:`.stages` the stages on a run directory and :func:`run_pipeline`; :mod:`.imported` the run
directories of imported snnTorch / SpikingJelly models (``lavabridge import``), which the same
quantize / export / verify stages take; :mod:`.nirrun` those of NIR graphs (``lavabridge import
--from nir``) and ``lavabridge export --to nir``.
"""

from lavabridge.pipeline.config import CONFIG_FILE, PipelineConfig, load_config, save_config
from lavabridge.pipeline.stages import (
    PipelineResult,
    build_model,
    calibration_input,
    deployed_input,
    encoded_test_split,
    run_pipeline,
    stage_export,
    stage_quantize,
    stage_train,
    stage_verify,
    train_model,
    verify_run,
)

__all__ = [
    "CONFIG_FILE",
    "PipelineConfig",
    "PipelineResult",
    "build_model",
    "calibration_input",
    "deployed_input",
    "encoded_test_split",
    "load_config",
    "run_pipeline",
    "save_config",
    "stage_export",
    "stage_quantize",
    "stage_train",
    "stage_verify",
    "train_model",
    "verify_run",
]
