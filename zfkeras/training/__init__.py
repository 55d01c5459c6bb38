"""Training ZFNet and its AlexNet-style variant (paper section 3), at CPU size.

Python: :func:`train` (to a bundle on disk, resumable) and :func:`fit` (in memory, the one
training loop). Command line: ``python -m zfkeras.train --help``.
"""

from zfkeras.training.optimizer import LayerwiseSGD
from zfkeras.training.resume import Backup, Checkpoint, read_backup
from zfkeras.training.trainer import (
    DATASETS,
    STRATEGIES,
    Fitted,
    History,
    Recipe,
    build_model,
    compile_model,
    confusion_counts,
    evaluate,
    fit,
    load_dataset,
    make_datasets,
    make_strategy,
    steps_for,
    train,
)

__all__ = [
    "DATASETS",
    "STRATEGIES",
    "Backup",
    "Checkpoint",
    "Fitted",
    "History",
    "LayerwiseSGD",
    "Recipe",
    "build_model",
    "compile_model",
    "confusion_counts",
    "evaluate",
    "fit",
    "load_dataset",
    "make_datasets",
    "make_strategy",
    "read_backup",
    "steps_for",
    "train",
]
