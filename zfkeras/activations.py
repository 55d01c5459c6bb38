"""Intermediate activations: a multi-output model over any Keras CNN, and the channel grids.

Course material beside the paper (``zfnet-paper.md`` section 10, "Intermediate activations"):
a model whose outputs are the outputs of several layers; every channel of each is drawn as an
image ("what each filter sees").

Nested models (a ``Sequential`` holding ``keras.applications.VGG16`` plus a head, a Functional
model calling another model) are handled by re-running the graph op by op on fresh
``keras.Input`` tensors and descending into every nested Functional or Sequential model, so a
layer deep inside is reachable by its name (or by a path ``"vgg16/block5_conv3"``). The layers
are called again, not copied: the new model shares the original weights. :func:`trace` is the
machinery; :mod:`zfkeras.filters` and :mod:`zfkeras.cam` use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
         keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
         keras.layers.Conv2DTranspose)
_POOL = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)

Entry = tuple[str, object, object]  # (path, layer or op, output tensor)


def _is_graph_model(op) -> bool:
    return isinstance(op, keras.Sequential) or (
        isinstance(op, keras.Model) and hasattr(op, "_run_through_graph")
        and hasattr(op, "_nodes_by_depth"))


def _check_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        model.inputs  # noqa: B018 - unbuilt Sequential models raise here
    except (AttributeError, ValueError) as err:
        raise ValueError(f"model must have defined inputs (build it on keras.Input), got an "
                         f"unbuilt {type(model).__name__} {model.name!r}") from err
    if not model.inputs:
        raise ValueError(f"model must have defined inputs (build it on keras.Input), got "
                         f"{type(model).__name__} {model.name!r} without inputs")


def walk(model: keras.Model, inputs, hook: Callable | None = None, entries: list | None = None,
         prefix: str = ""):
    """Run ``model`` on ``inputs`` (Keras or real tensors) op by op, descending into nested
    Functional and Sequential models. ``hook(op, args, kwargs)`` computes each leaf op (default:
    ``op(*args, **kwargs)``); every output is appended to ``entries`` as ``(path, op, output)``.
    Returns the model's output."""
    entries = [] if entries is None else entries
    hook = hook or (lambda op, args, kwargs: op(*args, **kwargs))

    def run(op, *args, **kwargs):
        if _is_graph_model(op):
            x = args[0] if args else kwargs["inputs"]
            out = walk(op, x, hook, entries, prefix + op.name + "/")
        else:
            out = hook(op, args, kwargs)
        entries.append((prefix + op.name, op, out))
        return out

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = run(layer, x)
        return x
    flat = model._standardize_inputs(inputs)
    out = model._run_through_graph(flat, operation_fn=lambda op: lambda *a, **k: run(op, *a, **k))
    return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out


def trace(model: keras.Model, input_shape: Sequence | None = None):
    """Re-run ``model`` on fresh ``keras.Input`` tensors.

    Args:
        model: a built Sequential or Functional model (nested models allowed).
        input_shape: optional ``(rows, cols, channels)`` replacing the input shape of a
            single-input model (``None`` dims allowed), for fully convolutional sub-graphs.

    Returns:
        ``(inputs, output, entries)``: the new inputs, the model output on them and the ordered
        list of ``(path, layer, output)`` of every op that ran.
    """
    _check_model(model)
    if input_shape is not None and len(model.inputs) != 1:
        raise ValueError(f"input_shape needs a single-input model, got {len(model.inputs)} inputs")
    shapes = [tuple(input_shape)] if input_shape is not None else [
        tuple(t.shape[1:]) for t in model.inputs]
    inputs = [keras.Input(s, dtype=t.dtype) for s, t in zip(shapes, model.inputs)]
    entries: list[Entry] = []
    output = walk(model, inputs[0] if len(inputs) == 1 else inputs, entries=entries)
    return (inputs[0] if len(inputs) == 1 else inputs), output, entries


def find(entries: list[Entry], name: str, argument: str = "layer") -> Entry:
    """The entry named ``name``: a full path (``"vgg16/block1_conv1"``) or a layer name that
    occurs once. Raises ``ValueError`` naming ``argument``, the choices and what was given."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a layer name (str), got {type(name).__name__}")
    hits = [e for e in entries if e[0] == name]
    if not hits:
        hits = [e for e in entries if e[0].rsplit("/", 1)[-1] == name]
        if len({e[0] for e in hits}) > 1:
            raise ValueError(f"{argument} {name!r} is ambiguous: give one of the paths "
                             f"{sorted({e[0] for e in hits})}")
    if not hits:
        names = [e[0] for e in entries if isinstance(e[1], keras.layers.Layer)]
        raise ValueError(f"{argument} must name a layer of the model, got {name!r}; layers: "
                         f"{', '.join(names[:40])}{' ...' if len(names) > 40 else ''}")
    return hits[-1]


def _short_names(entries: list[Entry]) -> dict[str, str]:
    """Path -> the layer name when it is unique, else the path."""
    count: dict[str, int] = {}
    for path, _, _ in entries:
        leaf = path.rsplit("/", 1)[-1]
        count[leaf] = count.get(leaf, 0) + 1
    return {p: (p.rsplit("/", 1)[-1] if count[p.rsplit("/", 1)[-1]] == 1 else p)
            for p, _, _ in entries}


def build(inputs, outputs, name: str | None = None) -> keras.Model:
    """``keras.Model(inputs, outputs)`` on traced tensors, explaining the one case that cannot be
    built: two layers of the same name (in different nested models) both on the path."""
    try:
        return keras.Model(inputs, outputs, name=name)
    except ValueError as err:
        if "should be unique" not in str(err):
            raise
        raise ValueError(f"layers: the requested outputs need two layers of the same name from "
                         f"different nested models ({err}); ask for them in separate calls"
                         ) from err


def default_layers(model: keras.Model) -> list[str]:
    """Names of every convolution and pooling layer with an image-shaped (4-D) output, in the
    order they run (nested models included)."""
    _, _, entries = trace(model)
    short = _short_names(entries)
    return [short[p] for p, op, out in entries
            if isinstance(op, _CONV + _POOL) and len(out.shape) == 4]


def activation_model(model: keras.Model, layers: Sequence[str] | str | None = None) -> keras.Model:
    """A multi-output model returning the outputs of the named layers.

    Args:
        model: a built Sequential, Functional or nested Keras model.
        layers: layer names (or paths ``"outer/inner"`` into nested models); default: every
            convolution and pooling layer with a 4-D output, in order.

    Returns:
        A ``keras.Model`` with the model's input(s) and a dict output ``{name: (N, ...)}``
        (keys in the order given); it shares the model's weights.

    Raises:
        TypeError: ``model`` is not a Keras model or ``layers`` is not names.
        ValueError: a name is unknown or ambiguous, or no layer was selected.
    """
    inputs, _, entries = trace(model)
    if layers is None:
        layers = default_layers(model)
        if not layers:
            raise ValueError(f"model {model.name!r} has no convolution or pooling layer with a "
                             f"4-D output: pass layers=[...] explicitly")
    elif isinstance(layers, str):
        layers = [layers]
    elif not isinstance(layers, Sequence) or not layers:
        raise TypeError(f"layers must be a non-empty list of layer names or None, got {layers!r}")
    outputs = {name: find(entries, name, "layers")[2] for name in layers}
    return build(inputs, outputs, name=f"{model.name}_activations")


def _mosaic(act: np.ndarray, channels: int, ncols: int) -> tuple[np.ndarray, int, int]:
    """Tile the first ``channels`` channels of ``(H, W, C)``, each scaled by its own maximum
    absolute value (0 stays black; a dead channel is black). Returns (mosaic, shown, dead)."""
    h, w, c = act.shape
    n = min(channels, c)
    peak = np.abs(act).max(axis=(0, 1))
    dead = int(np.sum(peak == 0))
    scaled = np.divide(np.abs(act), peak, out=np.zeros_like(act), where=peak > 0)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan, np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        out[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = scaled[..., i]
    return out, n, dead


def channel_grids(activations: dict, image=None, channels: int = 32, ncols: int = 16,
                  width: float = 11.0, cmap: str = "viridis"):
    """Draw every channel of several layers' activations for one image.

    Args:
        activations: ``{layer name: (H, W, C) or (1, H, W, C)}`` as returned by an
            :func:`activation_model` (the first image of a batch is drawn).
        image: optional ``(H, W, 3)`` image drawn first (uint8, or floats scaled for display).
        channels: at most this many channels per layer (the first ones).
        ncols: channels per row.
        width: figure width in inches.
        cmap: colour map; each channel is scaled by its own maximum, so 0 is the same colour
            everywhere and a channel that is zero on the whole image (dead here) stays dark.

    Returns:
        The matplotlib Figure; titles give the layer, its shape and how many channels are zero.
    """
    if not isinstance(activations, dict) or not activations:
        raise TypeError(f"activations must be a non-empty dict name -> array, got "
                        f"{type(activations).__name__}")
    tiles = []
    for name, act in activations.items():
        act = np.asarray(act, np.float32)
        act = act[0] if act.ndim == 4 else act
        if act.ndim != 3:
            raise ValueError(f"activations[{name!r}] must be (H, W, C) or (N, H, W, C), got "
                             f"shape {np.shape(activations[name])}")
        tiles.append((name, act.shape) + _mosaic(act, channels, ncols))
    heights = [t[2].shape[0] / t[2].shape[1] for t in tiles]
    extra = 1 if image is not None else 0
    ratios = ([0.16] if extra else []) + heights
    fig, axes = plt.subplots(len(tiles) + extra, 1, squeeze=False,
                             figsize=(width, width * sum(ratios) * 1.08 + 0.35 * len(tiles)),
                             gridspec_kw={"height_ratios": ratios})
    axes = axes[:, 0]
    if extra:
        from zfkeras.plot import to_display

        img = np.asarray(image)
        axes[0].imshow(img if img.dtype == np.uint8 else to_display(img))
        axes[0].set_title("input", fontsize=9)
        axes[0].axis("off")
    for ax, (name, shape, mosaic, shown, dead) in zip(axes[extra:], tiles):
        ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{name}  {shape[0]}x{shape[1]}x{shape[2]}  (first {shown} channels; "
                     f"{dead} of {shape[2]} zero on this image)", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig
