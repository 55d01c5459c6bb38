"""Correspondence analysis (paper section 4.3, Fig. 8 / Table 1 of the ECCV version).

Does the network implicitly relate the same part across different images? Occlude one part (say
the left eye) in each of N images of a class, take at layer ``l`` the change of the feature
vector ``eps_i = x_i - x~_i`` and its sign, and compare the signs across images:

    Delta_l = 1 / (P * D) * sum_{i<j} H(sign(eps_i), sign(eps_j))

with ``H`` the Hamming distance (the number of entries whose sign differs), ``P = N(N-1)/2``
pairs and ``D`` the feature dimension, so Delta is the mean fraction of features whose change
differs in sign between two images (the paper reports it in this normalized form: about 0.07
at layer 5). Lower means the occlusion changed the representation the same way in every image.
The control occludes random regions of the same size on the object.

Python: :func:`hamming_score`, :func:`occlude`, :func:`sign_change_score`,
:func:`correspondence_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zfkeras.experiments.part_occlusion import align as align
from zfkeras.experiments.part_occlusion import occlude as occlude
from zfkeras.experiments.part_occlusion import random_centres as random_centres
from zfkeras.methods import checks
from zfkeras.methods.checks import BATCH_SIZE, SEED, VERBOSE


def hamming_score(eps, *, changed_only: bool = False) -> float:
    """The normalized sum of pairwise Hamming distances between the signs of ``eps``.

    A feature that an occluder leaves unchanged in both images of a pair (sign 0 in both, common
    after a ReLU, where a unit silent on the image stays silent on the occluded one) counts as
    *agreement*. With many such features the score is small whatever the changed features do:
    signs drawn at random among the changed features give 0.5 only when every feature changes.
    ``changed_only=True`` counts, in each pair, only the features that changed in at least one of
    the two images: then independent random signs (+1 or -1) score 0.5, identical changes 0.

    Args:
        eps: ``(N, D)`` feature changes of N >= 2 images (any shape ``(N, ...)`` is flattened).
        changed_only: count only the features nonzero in at least one image of each pair.

    Returns:
        ``sum_{i<j} #{d : sign(eps_i[d]) != sign(eps_j[d])} / sum_{i<j} D_ij`` in [0, 1], with
        ``D_ij = D`` (all features) or the number of features nonzero in ``eps_i`` or ``eps_j``;
        ``sign`` has three values (-1, 0, +1), so an unchanged feature differs from a changed
        one. 0 when no pair has a changed feature (``changed_only``).
    """
    s = np.sign(np.asarray(eps, np.float64).reshape(len(eps), -1)).astype(np.int8)
    n, d = s.shape
    if n < 2 or d < 1:
        raise ValueError(
            f"eps must hold at least 2 images of at least 1 feature, got shape {np.shape(eps)}"
        )
    total, counted = 0, 0
    for i in range(n - 1):
        total += int(np.sum(s[i + 1 :] != s[i]))
        counted += int(np.sum((s[i + 1 :] != 0) | (s[i] != 0))) if changed_only else d * (n - 1 - i)
    return total / counted if counted else 0.0


def _features(model: keras.Model, layers: Sequence[str], batch_size: int, argument: str):
    checks.check_model(model)
    layers = tuple(checks.layer_names(model, layers, argument))
    checks.batch_size(batch_size)
    probe = checks.layer_model(model, layers, argument)
    fn = checks.cached(
        model,
        ("features", layers),
        lambda: tf.function(lambda x: probe(x, training=False), reduce_retracing=True),
    )

    def run(x):
        parts = []
        for b in checks.batches(len(x), batch_size):
            out = fn(tf.constant(x[b]))
            out = out if isinstance(out, (list, tuple)) else [out]
            parts.append([o.numpy().reshape(len(o), -1) for o in out])
        return {n: np.concatenate([p[k] for p in parts]) for k, n in enumerate(layers)}

    return run


def sign_change_score(
    model: keras.Model,
    images,
    centres,
    patch_size,
    layer: str,
    *,
    fill: float = 0.0,
    changed_only: bool = False,
    batch_size: int = BATCH_SIZE,
) -> float:
    """Delta at ``layer`` (module docstring) for occluding ``centres`` in ``images``
    (model inputs ``(N, H, W, C)``, N >= 2); ``layer`` a name or an ``"outer/inner"`` path;
    ``changed_only`` as in :func:`hamming_score`.

    Raises:
        TypeError/ValueError: bad model, images, centres, patch_size, layer or batch_size.
    """
    run = _features(model, [layer], batch_size, "layer")
    x = checks.images(model, images)
    eps = run(x)[layer] - run(occlude(x, centres, patch_size, fill))[layer]
    return hamming_score(eps, changed_only=changed_only)


@dataclass(frozen=True)
class Correspondence:
    """The result of :func:`correspondence_table`.

    Attributes:
        rows: the occluded regions: the parts' names, then ``"random"``.
        layers: the layers compared.
        scores: ``{row: {layer: (draws,) array}}``, the Delta score of every draw.
        mean, std: ``{row: {layer: float}}``, over the draws.
    """

    rows: list[str]
    layers: list[str]
    scores: dict[str, dict[str, np.ndarray]]
    mean: dict[str, dict[str, float]]
    std: dict[str, dict[str, float]]

    def gap(self, layer: str) -> float:
        """``random`` minus the mean over the parts at ``layer``: positive when occluding a
        part changes the representation more consistently than a random region (the paper's
        finding at layer 5)."""
        parts = [r for r in self.rows if r != "random"]
        return self.mean["random"][layer] - float(np.mean([self.mean[p][layer] for p in parts]))


def correspondence_table(
    model: keras.Model,
    images,
    parts: Mapping[str, np.ndarray],
    masks,
    patch_size,
    layers: Sequence[str] = ("conv5", "fc7"),
    n_images: int = 5,
    draws: int = 10,
    fill: float = 0.0,
    *,
    changed_only: bool = False,
    batch_size: int = BATCH_SIZE,
    verbose: int | str = VERBOSE,
    seed: int = SEED,
) -> Correspondence:
    """Delta for every part and for random regions, at every layer, mean and std over draws.

    Every draw picks ``n_images`` images at random from the pool (the paper used 5 dogs), and
    for the control a random region of the same size on each image's object.

    Args:
        model: the classifier.
        images: model inputs ``(M, H, W, C)`` of one class, ``M >= n_images``.
        parts: name -> ``(M, 2)`` (row, col) part positions (for instance
            ``zfkeras.data.shapes(...).parts`` restricted to the faces).
        masks: bool ``(M, H, W)`` object masks (where random regions are drawn).
        patch_size: occluder side, an int or ``(M,)`` ints.
        layers: layer names (or ``"outer/inner"`` paths) compared (the paper: layers 5
            and 7).
        n_images, draws, seed: images per draw, number of draws, random seed.
        changed_only: score only the features that the occluder changed in at least one
            image of each pair (:func:`hamming_score`); the paper counts every feature.
        batch_size: images per forward pass; verbose: ``"auto"`` (a progress bar over the
            draws when the run looks longer than a few seconds), 0 or 1.

    Returns:
        A :class:`Correspondence` (rows ``[*parts, "random"]``).
    """
    checks.check_model(model)
    x = checks.images(model, images)
    checks.verbose(verbose)
    m = len(x)
    if not 2 <= n_images <= m:
        raise ValueError(f"n_images must be in [2, {m}] (the number of images), got {n_images}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws!r}")
    masks = np.asarray(masks, bool)
    if masks.shape != x.shape[:3]:
        raise ValueError(f"masks must be {x.shape[:3]}, got {masks.shape}")
    for name, pos in parts.items():
        if np.shape(pos) != (m, 2) or not np.all(np.isfinite(pos)):
            raise ValueError(
                f"parts[{name!r}] must be a finite ({m}, 2) array, got shape {np.shape(pos)}"
            )
    sizes = np.broadcast_to(np.asarray(patch_size), (m,)).astype(int)
    layers = tuple(layers) if not isinstance(layers, str) else layers
    run = _features(model, layers, batch_size, "layers")
    base = run(x)
    rng = np.random.default_rng(seed)
    rows = [*parts, "random"]
    occluded = {name: run(occlude(x, pos, sizes, fill)) for name, pos in parts.items()}
    scores = {r: {lay: np.zeros(draws) for lay in layers} for r in rows}
    bar = checks.Progress(draws, verbose=verbose, unit_name="draw")
    for d in range(draws):
        pick = np.sort(rng.choice(m, n_images, replace=False))
        rand = run(
            occlude(x[pick], random_centres(masks[pick], sizes[pick], rng), sizes[pick], fill)
        )
        for lay in layers:
            for name in parts:
                eps = base[lay][pick] - occluded[name][lay][pick]
                scores[name][lay][d] = hamming_score(eps, changed_only=changed_only)
            scores["random"][lay][d] = hamming_score(
                base[lay][pick] - rand[lay], changed_only=changed_only
            )
        bar.update(d + 1)
    return Correspondence(
        rows=rows,
        layers=list(layers),
        scores=scores,
        mean={r: {lay: float(scores[r][lay].mean()) for lay in layers} for r in rows},
        std={r: {lay: float(scores[r][lay].std()) for lay in layers} for r in rows},
    )
