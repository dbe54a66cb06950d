"""Training recurrent models: losses, models, the run's config, problems, the Trainer, sampling.

One file per job: `losses`, `models`, `config` (TrainConfig), `problems` (a task with its loss
and metrics, and `build`), `trainer` (the loop, clipping, validation, checkpoints) and
`sampling`. The names below are the public ones.
"""

from rnn.training.config import DEFAULT_SEQ_LEN, DTYPES, TASKS, TrainConfig
from rnn.training.losses import mse_loss, sequence_cross_entropy
from rnn.training.models import CharModel, RegressionModel, make_model, model_from_checkpoint
from rnn.training.problems import (
    AddingProblem,
    CopyProblem,
    Problem,
    ReberProblem,
    TextProblem,
    build,
    regression_mse,
)
from rnn.training.sampling import check_sample_args, generate, sample
from rnn.training.trainer import (
    Trainer,
    TrainingError,
    TrainingInterrupted,
    make_optimizer,
    run_steps,
    train,
)

__all__ = [
    "DEFAULT_SEQ_LEN", "DTYPES", "TASKS", "TrainConfig",
    "mse_loss", "sequence_cross_entropy",
    "CharModel", "RegressionModel", "make_model", "model_from_checkpoint",
    "AddingProblem", "CopyProblem", "Problem", "ReberProblem", "TextProblem", "build",
    "regression_mse",
    "check_sample_args", "generate", "sample",
    "Trainer", "TrainingError", "TrainingInterrupted", "make_optimizer", "run_steps",
    "train",
]
