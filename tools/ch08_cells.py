"""New cells for chapter 08 (filter patterns): plain ascent, regularized ascent and a
Lucid-style visualization of the same concept-model units beside their top-9 patches; the
activation each reaches relative to the unit's strongest natural activation; robustness to
held-out random transforms; a class-model visualization per concept class.

    python tools/ch08_cells.py            # print the cells
    python tools/ch08_cells.py --insert   # insert them before "## The paper found / we found"

The cells use the vocabulary of the refactored package (``model`` first, ``images`` second:
``top_activations(model, images, layer, ...)``, ``dissect(model, images, layer, ...)``); check
the names against the merged package before inserting. Nothing is executed here: re-execute
the chapter afterwards.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "08_filter_patterns.ipynb"
ANCHOR = "## The paper found / we found"

CELLS = [
    (
        "markdown",
        """## Three recipes, one question: does the "wheel" unit's picture show wheels?

The patterns above cannot be checked: nobody knows what a CIFAR-10 filter *should* look like.
The concept model of chapter 06 was trained on images whose parts are labelled, and network
dissection gave many of its conv5 units a concept. Here the same units get three pictures:
plain ascent, the regularized ascent above, and the recipe of Distill's "Feature
Visualization" (Olah et al., 2017): the image is optimized in Fourier space with a 1/f
spectrum, its colours are decorrelated with the colour covariance *of the training images*,
and every step sees it padded, jittered, scaled and rotated at random. Beside them: the
unit's nine strongest image patches (chapter 05).""",
    ),
    (
        "code",
        """concept_bundle = zfkeras.pretrained("zfnet-concepts")
concept_model = concept_bundle.model
cdata = zfkeras.data.concepts(zfkeras.config.pick(1000, 200), seed=2)
cx = concept_bundle.preprocess(cdata["images"])
dissection = zfkeras.dissect(
    concept_model, cx, "conv5", cdata["concept_maps"],
    concept_names=cdata["concept_names"], verbose=0,
)
ranked = np.argsort([-iou for _, _, iou in dissection.best])
units = [int(k) for k in ranked[: zfkeras.config.pick(6, 3)]]
labels = {k: f"unit {k}: {dissection.best[k][1]}" for k in units}
for k in units:
    category, concept, iou = dissection.best[k]
    print(f"{labels[k]:28s} ({category}, IoU {iou:.3f})")""",
    ),
    (
        "code",
        """steps = zfkeras.config.pick(512, 48)
versions = {
    "plain": zfkeras.visualize_filters(concept_model, "conv5", units, recipe="plain"),
    "regularized": zfkeras.visualize_filters(concept_model, "conv5", units, recipe="regularized"),
    "Lucid-style": zfkeras.visualize_units(
        concept_model, cx, "conv5", units, steps=steps, verbose=0
    ).images,
}
top = zfkeras.top_activations(concept_model, cx, "conv5", k=9, channels=units, verbose=0)
tiles = zfkeras.top9_tiles(zfkeras.Deconvnet(concept_model), cx, top, channels=units)
fig = zfkeras.figures.patterns_figure(versions, title="conv5 units of the concept model")""",
    ),
    (
        "code",
        """fig = zfkeras.figures.patterns_figure(
    {labels[k]: tiles.patches[i] for i, k in enumerate(units)},
    title="the same units: their nine strongest patches in the data",
)""",
    ),
    (
        "markdown",
        """## How far does each picture drive its unit, and does it survive a nudge?

Two numbers per recipe: the unit's mean activation on its picture, as a share of its strongest
mean activation on any natural image of the sample; and how much of that activation is left
after held-out random transforms (shifts, scales and rotations drawn with a seed the
optimization never saw). A picture that only works pixel-exact is an adversarial pattern, not
a feature.""",
    ),
    (
        "code",
        """from zfkeras.methods.parameterization import random_draws, transforms

conv5_model = zfkeras.activation_model(concept_model, ["conv5"])


def unit_means(batch):
    a = conv5_model.predict(batch, verbose=0)["conv5"]
    return a[np.arange(len(batch)), :, :, units].mean(axis=(1, 2))


natural = conv5_model.predict(cx, verbose=0)["conv5"][..., units].mean(axis=(1, 2)).max(axis=0)
held_out = np.random.default_rng(12345)
n_draws = zfkeras.config.pick(16, 4)
size = cx.shape[1]
reached, kept = {}, {}
for name, pictures in versions.items():
    own = unit_means(pictures)
    moved = []
    for _ in range(n_draws):
        draws = random_draws(held_out, len(units), size)
        moved.append(unit_means(transforms(tf.constant(pictures), draws, size).numpy()))
    reached[name] = float(np.mean(own / natural))
    kept[name] = float(np.mean(np.mean(moved, axis=0) / np.maximum(own, 1e-6)))
zfkeras.figures.findings(
    [[name, f"{reached[name]:.2f}", f"{kept[name]:.2f}"] for name in versions],
    header=["recipe", "activation / strongest natural", "kept under held-out transforms"],
)""",
    ),
    (
        "markdown",
        """## Class models

The same recipe with the class score (before the softmax) as the objective is Simonyan et al.'s
class-model visualization (2014): one picture per concept class, from the model's point of
view.""",
    ),
    (
        "code",
        """class_pictures = zfkeras.visualize_classes(concept_model, cx, steps=steps, verbose=0)
fig = zfkeras.figures.patterns_figure(
    {name: class_pictures.images[i : i + 1] for i, name in enumerate(concept_bundle.class_names)},
    title="class models of the concept model (Lucid-style)",
)""",
    ),
]


def cell(kind: str, text: str) -> dict:
    lines = text.splitlines(keepends=True)
    if kind == "markdown":
        return {"cell_type": "markdown", "metadata": {}, "source": lines}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": lines,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--insert", action="store_true", help=f"insert into {CHAPTER.name}")
    args = p.parse_args()
    if not args.insert:
        for kind, text in CELLS:
            print(f"# --- {kind} ---\n{text}\n")
        return
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if "".join(c["source"]).startswith(ANCHOR))
    nb["cells"][at:at] = [cell(kind, text) for kind, text in CELLS]
    CHAPTER.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"inserted {len(CELLS)} cells before {ANCHOR!r} in {CHAPTER}")


if __name__ == "__main__":
    main()
