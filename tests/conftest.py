import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_CIFAR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                            "datasets", "cifar10"))


@pytest.fixture(scope="session")
def cifar_dir():
    """The offline CIFAR-10 folder: $ZFKERAS_CIFAR10, else ../shared/datasets/cifar10."""
    path = os.environ.get("ZFKERAS_CIFAR10") or SHARED_CIFAR
    if not os.path.isdir(os.path.join(path, "test")):
        pytest.fail(f"CIFAR-10 folder not found at {path}: set ZFKERAS_CIFAR10")
    return path
