import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_CIFAR = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "cifar10")
)


@pytest.fixture(scope="session")
def cifar_dir():
    """The offline CIFAR-10 folder: $ZFKERAS_CIFAR10, else ../shared/datasets/cifar10."""
    path = os.environ.get("ZFKERAS_CIFAR10") or SHARED_CIFAR
    if not os.path.isdir(os.path.join(path, "test")):
        pytest.fail(f"CIFAR-10 folder not found at {path}: set ZFKERAS_CIFAR10")
    return path


@pytest.fixture(scope="session")
def tiny_model():
    """Factory of tiny CNN classifiers for argument and error tests:
    ``make(ending="dense", input_shape=(12, 12, 3), classes=4, seed=0)`` builds
    image -> conv1 (4, relu) -> conv2 (6, relu) -> global average -> fc7 (5, relu) -> the
    output, which is ``Dense(classes, activation="softmax")`` (``ending="dense"``), a Dense then
    ``Activation("softmax")`` (``"activation"``), a Dense then ``keras.layers.Softmax()``
    (``"softmax"``) or the plain logits (``"none"``)."""
    import keras

    def make(ending="dense", input_shape=(12, 12, 3), classes=4, seed=0):
        keras.utils.set_random_seed(seed)
        x = keras.Input(input_shape, name="image")
        h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(x)
        h = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(h)
        h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
        h = keras.layers.Dense(5, activation="relu", name="fc7")(h)
        if ending == "dense":
            return keras.Model(
                x, keras.layers.Dense(classes, activation="softmax", name="predictions")(h)
            )
        z = keras.layers.Dense(classes, name="predictions")(h)
        if ending == "activation":
            z = keras.layers.Activation("softmax", name="softmax")(z)
        elif ending == "softmax":
            z = keras.layers.Softmax(name="softmax")(z)
        elif ending != "none":
            raise ValueError(f"ending must be dense, activation, softmax or none, got {ending!r}")
        return keras.Model(x, z)

    return make


@pytest.fixture(scope="session")
def tiny_train_args():
    """Factory of ``python -m zfkeras.train`` arguments for a tiny run on the shapes (seconds on
    a CPU): ``make(**options)`` gives a 0.125-width ZFNet with 16 fc units at 64x64, batch 16,
    64 training and 32 test images, 1 epoch of 2 steps, silent; each keyword overrides or adds
    a flag (``epochs=3`` -> ``--epochs 3``, ``strategy="mirrored"`` -> ``--strategy mirrored``)."""
    base = {
        "dataset": "shapes",
        "epochs": 1,
        "steps_per_epoch": 2,
        "train_size": 64,
        "test_size": 32,
        "width": 0.125,
        "fc_units": 16,
        "image_size": 64,
        "batch_size": 16,
        "verbose": 0,
    }

    def make(**options) -> list[str]:
        args = []
        for name, value in {**base, **options}.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        return args

    return make
