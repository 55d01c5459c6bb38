"""The figure standard (zfkeras.figures.style): sizes, nearest-neighbour integer zoom, colour
bars, the one mosaic, and figures that carry nothing but matplotlib's own state."""

import io

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from zfkeras import figures  # noqa: E402
from zfkeras.experiments import evolution, probes  # noqa: E402
from zfkeras.experiments.invariance import InvarianceCurves  # noqa: E402
from zfkeras.figures import style  # noqa: E402
from zfkeras.methods.mining import Top9Tiles  # noqa: E402
from zfkeras.methods.occlusion import OcclusionResult  # noqa: E402

RNG = np.random.default_rng(0)


def _occlusion_result(h=32, p=8, s=4, layer=True, n=2):
    rows = cols = np.arange(0, h - p + 1, s)
    prob = np.ones((n, len(rows), len(cols)), np.float32)
    prob[:, 2, 3] = 0.2
    extra = {}
    if layer:
        extra = dict(
            activation=RNG.random(prob.shape).astype(np.float32),
            channels=np.full(n, 3),
            base_activation=np.ones(n, np.float32),
            layer="conv5",
        )
    return OcclusionResult(
        probability=prob,
        top_class=np.zeros(prob.shape, int),
        top_probability=prob,
        rows=rows,
        cols=cols,
        class_index=np.zeros(n, int),
        base_probability=np.ones(n, np.float32),
        patch_size=p,
        stride=s,
        **extra,
    )


def _invariance():
    amounts = np.arange(5.0)
    return InvarianceCurves(
        kind="translation",
        amounts=amounts,
        layers=("conv1",),
        distance={"conv1": RNG.random((5, 2))},
        relative={"conv1": RNG.random((5, 2))},
        probability=RNG.random((5, 2)),
        prediction=np.zeros((5, 2), int),
        class_index=np.zeros(2, int),
    )


def _tiles(h):
    return Top9Tiles(
        "conv1",
        np.array([0, 1]),
        RNG.normal(size=(2, 9, h, h, 3)).astype("float32"),
        RNG.integers(0, 255, (2, 9, h, h, 3), dtype=np.uint8),
    )


def _snapshots():
    layer = evolution.LayerSnapshot(np.array([0, 1]), RNG.normal(size=(2, 24, 24, 3)))
    kernel = RNG.normal(size=(7, 7, 3, 8))
    return {e: evolution.Snapshot(kernel, {"conv1": layer}) for e in (1, 2)}


img32 = RNG.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
heat = RNG.random((4, 6, 6)).astype(np.float32)
kernel = RNG.normal(size=(7, 7, 3, 32)).astype(np.float32)

# name -> (call, multi-panel, draws images that must be nearest-neighbour, has a heatmap)
CASES = {
    "image_grid": (lambda: figures.image_grid(img32, list("abcd"), ncols=4), True, True, False),
    "filters_grid": (lambda: figures.filters_grid(kernel, title="t"), True, True, False),
    "learning_curves": (
        lambda: figures.learning_curves(
            [{"epoch": 1, "loss": 1.0, "accuracy": 0.5}, {"epoch": 2, "loss": 0.5, "accuracy": 0.7}]
        ),
        True,
        False,
        False,
    ),
    "confusion_matrix": (
        lambda: figures.confusion_matrix(np.eye(3) * 5 + 1, list("abc")),
        False,
        False,
        True,
    ),
    "channel_grids": (
        lambda: figures.channel_grids(
            {"conv1": RNG.random((12, 12, 8)), "conv5": RNG.random((3, 3, 8))}, image=img32[0]
        ),
        True,
        True,
        True,
    ),
    "gradcam_figure": (
        lambda: figures.gradcam_figure(
            img32, heat, list("abcd"), guided=RNG.normal(size=(4, 32, 32, 3))
        ),
        True,
        True,
        True,
    ),
    "rules_figure": (
        lambda: figures.rules_figure(np.eye(3) - 0.5, np.ones((3, 3))),
        True,
        True,
        True,
    ),
    "patterns_figure": (
        lambda: figures.patterns_figure(
            {"w": np.moveaxis(kernel[..., :4], -1, 0), "p": RNG.random((4, 32, 32, 3))}
        ),
        True,
        True,
        False,
    ),
    "top9_figure": (lambda: figures.top9_figure(_tiles(7)), True, True, False),
    "units_figure": (
        lambda: figures.units_figure(
            {"plain": RNG.random((2, 128, 128, 3)), "Lucid": RNG.random((2, 128, 128, 3))},
            _tiles(139).patches,
            ["conv5 unit 3\nwheel", "conv5 unit 7\nmug"],
        ),
        True,
        True,
        False,
    ),
    "occlusion_figure": (
        lambda: figures.occlusion_figure(
            img32[:2], _occlusion_result(), projections=img32[:2], class_names=["a", "b"]
        ),
        True,
        True,
        True,
    ),
    "evolution_figure": (lambda: figures.evolution_figure(_snapshots()), True, True, False),
    "compare_figure": (
        lambda: figures.compare_figure({"a": kernel, "b": kernel}),
        True,
        True,
        False,
    ),
    "bands_figure": (lambda: figures.bands_figure({"a": RNG.random((4, 3))}), False, False, False),
    "invariance_figure": (
        lambda: figures.invariance_figure([_invariance()], names=["x", "y"]),
        True,
        False,
        False,
    ),
    "probe_figure": (
        lambda: figures.probe_figure({"conv1": 0.5, "fc7": 0.8}, chance=0.2),
        False,
        False,
        False,
    ),
    "generalization_figure": (
        lambda: figures.generalization_figure(
            [
                probes.FewShot(per_class=1, frozen=0.3, fine_tuned=0.4, scratch=0.2),
                probes.FewShot(per_class=5, frozen=0.5, fine_tuned=0.6, scratch=0.3),
            ]
        ),
        False,
        False,
        False,
    ),
}


def _all_axes(fig):
    out, todo = [], list(fig.axes)
    while todo:
        ax = todo.pop()
        out.append(ax)
        todo.extend(ax.child_axes)
    return out


@pytest.fixture(scope="module")
def plain_keys():
    fig = plt.figure()
    keys = set(vars(fig))
    plt.close(fig)
    return keys


@pytest.mark.parametrize("name", list(CASES))
def test_figure_standard(name, plain_keys):
    call, multi, images, heatmap = CASES[name]
    fig = call()
    try:
        width_px = fig.get_figwidth() * fig.dpi
        assert fig.dpi == style.DPI
        assert width_px >= (1000 if multi else 800), f"{name}: {width_px:.0f} px wide"
        axes = _all_axes(fig)
        shown = [im for ax in axes for im in ax.images]
        if images:
            assert shown and all(im.get_interpolation() == "nearest" for im in shown), name
        assert any(hasattr(ax, "_colorbar") for ax in axes) == heatmap, name
        texts = [
            t
            for ax in axes
            for t in [
                ax.title,
                ax.xaxis.label,
                ax.yaxis.label,
                *ax.texts,
                *ax.get_xticklabels(),
                *ax.get_yticklabels(),
            ]
            if t.get_text()
        ]
        texts += [t for t in fig.texts if t.get_text()]
        assert all(t.get_fontsize() >= 8 for t in texts), [
            (t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < 8
        ]
        assert set(vars(fig)) <= plain_keys, set(vars(fig)) - plain_keys
    finally:
        plt.close(fig)


def test_tile_mosaic_known_answer():
    tiles = np.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]], np.int32)
    # three 2x2 tiles, two per row, 1-px separators of 0, a frame; the empty cell is filled
    want = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0],
            [0, 1, 2, 0, 5, 6, 0],
            [0, 3, 4, 0, 7, 8, 0],
            [0, 0, 0, 0, 0, 0, 0],
            [0, 9, 10, 0, 0, 0, 0],
            [0, 11, 12, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0],
        ]
    )
    np.testing.assert_array_equal(figures.tile_mosaic(tiles, 0, ncols=2), want)
    # zoom 2, no frame, 1-px separators of -1: each pixel becomes a 2x2 block
    got = figures.tile_mosaic(tiles[:2], -1, ncols=2, zoom=2, border=False)
    want = np.array(
        [
            [1, 1, 2, 2, -1, 5, 5, 6, 6],
            [1, 1, 2, 2, -1, 5, 5, 6, 6],
            [3, 3, 4, 4, -1, 7, 7, 8, 8],
            [3, 3, 4, 4, -1, 7, 7, 8, 8],
        ]
    )
    np.testing.assert_array_equal(got, want)
    # colour tiles with a colour separator; NaN separators for float tiles
    rgb = figures.tile_mosaic(
        np.zeros((2, 1, 1, 3), np.uint8), [255, 0, 0], ncols=2, sep=1, border=False
    )
    np.testing.assert_array_equal(rgb[0, 1], [255, 0, 0])
    assert np.isnan(figures.tile_mosaic(np.ones((2, 1, 1)), np.nan, border=False)[0, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tiles=np.zeros((2, 2))), "tiles must be"),
        (dict(tiles=np.zeros((1, 2, 2)), zoom=0), "zoom must be"),
        (dict(tiles=np.zeros((1, 2, 2)), sep=-1), "sep must be"),
        (dict(tiles=np.zeros((1, 2, 2), np.uint8), fill=np.nan), "fill NaN"),
    ],
)
def test_tile_mosaic_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.tile_mosaic(**kwargs)


def test_images_are_drawn_pixel_exact():
    """A 4x4 checkerboard in image_grid is stored as k x k blocks (a scanline through it has
    runs of exactly k pixels between the white gaps)."""
    board = (60 + np.indices((4, 4)).sum(0) % 2 * 120).astype(np.uint8)
    img = np.repeat(board[..., None], 3, -1)
    fig = figures.image_grid(np.stack([img, img]), ncols=2)
    k = style.fit_zoom(4, 2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)  # as stored, before the tight crop
    plt.close(fig)
    arr = np.asarray(Image.open(buf).convert("L"))
    row = arr[arr.shape[0] // 2]  # a scanline through the tiles: runs of exactly k pixels
    runs = np.diff(np.flatnonzero(np.diff(row.astype(int)) != 0))
    inner = runs[(runs > 1) & (runs != style.GAP)]
    assert len(inner) and set(inner.tolist()) == {k}, (k, sorted(set(runs.tolist())))


def test_integer_zoom_and_width():
    assert style.fit_zoom(7, 16, gap=3) * 7 * 16 + 16 * 3 <= style.MAX_PX
    assert style.fit_zoom(32, 8) == 4  # CIFAR images, 8 per row: 4 x 32 = 128 px each
    assert style.fit_zoom(139, 4) == 2 and style.fit_zoom(139, 4, at_least=4.0) == 3
    np.testing.assert_array_equal(style.zoom(np.array([[1, 2]]), 2), [[1, 1, 2, 2], [1, 1, 2, 2]])


def test_occlusion_classes_of_a_large_label_set():
    from zfkeras.figures.occlusion import _class_codes

    names = [f"c{i}" for i in range(1000)]
    codes, labels = _class_codes(np.array([[967, 5], [967, 999]]), names)
    assert labels == ["c5", "c967", "c999"] and codes.tolist() == [[1, 0], [1, 2]]
    many = np.arange(30).repeat(np.arange(30, 0, -1))  # class k occurs 30 - k times
    codes, labels = _class_codes(many, names, most=5)
    assert labels == ["c0", "c1", "c2", "c3", "other"] and codes.max() == 4
    assert (codes[many >= 4] == 4).all()
    codes, labels = _class_codes(np.array([1, 2]), ["a", "b", "c"])
    assert labels == ["a", "b", "c"] and codes.tolist() == [1, 2]


def test_occlusion_figure_rows():
    """A batch of N images gives one row each."""
    res = _occlusion_result(layer=False, n=3)
    fig = figures.occlusion_figure(img32[:3], res, class_names=["a"])
    assert len(fig.axes) >= 3 * 3
    plt.close(fig)
    with pytest.raises(ValueError, match="masks must hold one entry per image"):
        figures.occlusion_figure(img32[:3], res, masks=[None])


def test_top9_figure_widths():
    """conv1-sized patches are enlarged by a large integer factor, conv5-sized ones not."""
    for h, lo in ((7, 1000), (75, 900)):
        fig = figures.top9_figure(_tiles(h))
        assert fig.get_figwidth() * fig.dpi >= lo
        plt.close(fig)


def test_as_image_keeps_uint8_and_scales_the_rest():
    from zfkeras.figures import as_image

    u = np.array([[[0, 128, 255]]], np.uint8)
    assert as_image(u) is not None and as_image(u).dtype == np.uint8
    np.testing.assert_array_equal(as_image(u), u)
    f = np.array([[[-2.0, 0.0, 2.0]]], np.float32)  # min -> 0, max -> 1 (one image)
    np.testing.assert_allclose(as_image(f), [[[0.0, 0.5, 1.0]]])


def test_units_figure_labels_and_pixels():
    """Columns are titled with the versions and the patches, rows with the units; pictures are
    enlarged by the zoom, the 3x3 patch block drawn 1:1 (10-px patches, white 6-px gaps), the
    white margin beyond the image trimmed."""
    versions = {"plain": RNG.random((2, 8, 8, 3)), "regularized": RNG.random((2, 8, 8, 3))}
    patches = RNG.integers(0, 250, (2, 9, 12, 12, 3), dtype=np.uint8)
    patches[:, :, :, -2:] = 255  # every patch runs 2 px past the image's right edge
    patches[:, :, :1] = 255  # and 1 px past its top
    patches[0, 4, 1:4, :3] = 255  # white inside the image stays (another patch reaches there)
    fig = figures.units_figure(versions, patches, ["unit 3: wheel", "unit 7: mug"], zoom=3)
    try:
        axes = fig.axes
        assert len(axes) == 2 * 3
        titles = [ax.get_title() for ax in axes]
        assert titles == ["plain", "regularized", "top-9 dataset patches", "", "", ""]
        assert [axes[0].get_ylabel(), axes[3].get_ylabel()] == ["unit 3: wheel", "unit 7: mug"]
        assert axes[0].images[0].get_array().shape[:2] == (24, 24)
        block = axes[5].images[0].get_array()
        gap = style.GAP
        assert block.shape[:2] == (3 * 11 + 2 * gap, 3 * 10 + 2 * gap)
        # row 1, column 2 of unit 2's block: patch 5 without its white top row and right columns
        np.testing.assert_array_equal(
            block[11 + gap : 22 + gap, 20 + 2 * gap :], patches[1, 5, 1:, :10]
        )
        assert (block[:, 10 : 10 + gap] == 255).all()  # white gaps between patches
        first = axes[2].images[0].get_array()
        np.testing.assert_array_equal(
            first[11 + gap : 22 + gap, 10 + gap : 20 + gap], patches[0, 4, 1:, :10]
        )
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="one entry per unit"):
        figures.units_figure(versions, patches[:1], ["a", "b"])
    with pytest.raises(ValueError, match="zoom must be"):
        figures.units_figure(versions, patches, ["a", "b"], zoom=0)
    with pytest.raises(TypeError, match="versions must be"):
        figures.units_figure([], patches, ["a", "b"])


def test_a_given_zoom_sets_the_cell_size():
    """image_grid and patterns_figure take a fixed integer zoom instead of the standard's."""
    fig = figures.image_grid(img32, list("abcd"), ncols=2, zoom=2)
    assert fig.axes[0].images[0].get_array().shape[:2] == (64, 64)
    assert [ax.get_title() for ax in fig.axes] == list("abcd")
    plt.close(fig)
    fig = figures.patterns_figure({"w": RNG.random((3, 7, 7, 3)), "p": img32}, zoom=1)
    assert fig.axes[0].images[0].get_array().shape[:2] == (28, 28)  # 7x7 fills a 32-px cell
    assert fig.axes[4].images[0].get_array().shape[:2] == (32, 32)  # row 2, first image
    plt.close(fig)
    for call in (figures.image_grid, lambda x, zoom: figures.patterns_figure({"a": x}, zoom=zoom)):
        with pytest.raises(ValueError, match="zoom must be"):
            call(img32, zoom=1.5)
