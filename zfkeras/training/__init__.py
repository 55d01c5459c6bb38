"""Training ZFNet and its AlexNet-style variant (paper section 3), at CPU size.

Python: :func:`train` (to a bundle on disk, resumable) and :func:`fit` (in memory, the one
training loop). Command line: ``python -m zfkeras.train --help``. Modules: ``recipe`` (what
defines a run: the :class:`Recipe`, the model it builds and compiles), ``pipeline`` (the
recipe's images, the augmented ``tf.data`` pipelines, accuracy), ``loop`` (:func:`fit`),
``bundle`` (:func:`train`: the run written to disk), ``resume`` and ``optimizer``.
"""

from zfkeras.training.bundle import Trained, train
from zfkeras.training.loop import Fitted, fit
from zfkeras.training.optimizer import LayerwiseSGD
from zfkeras.training.pipeline import (
    batch_seeds,
    confusion_counts,
    evaluate,
    load_dataset,
    make_datasets,
    steps_for,
)
from zfkeras.training.recipe import (
    DATASETS,
    STRATEGIES,
    Recipe,
    build_model,
    compile_model,
    make_strategy,
)
from zfkeras.training.resume import Backup, Checkpoint, History, read_backup

__all__ = [
    "DATASETS",
    "STRATEGIES",
    "Backup",
    "Checkpoint",
    "Fitted",
    "History",
    "LayerwiseSGD",
    "Recipe",
    "Trained",
    "batch_seeds",
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
