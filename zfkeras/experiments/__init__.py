"""The paper's experiments, one module per section: feature evolution, its snapshots and their
stability (Fig. 4), invariance (Fig. 5), architecture diagnostics (Fig. 6) and the seed study of
the two first layers (architecture, Fig. 6), correspondence and its part occlusion (Fig. 8),
ablation and its variants (Table 3), probes, few_shot, transfer and its source_target split
(Tables 4-7); renorm and conv1_activity: dead filters with and without the filter
renormalization (Fig. 6); filter_spectra: first-layer edges and size-free frequency bands
(Fig. 6); patches: top-9 patch similarity against random patches (Fig. 2); method_checks: the
deconvnet, occlusion and ten other explanation methods judged on data with known answers
(chapter 11)."""

import importlib


def __getattr__(name: str):
    # the modules load on first use, so that ``python -m zfkeras.experiments.<name>`` runs a
    # module no import has loaded before (its command line starts TensorFlow quietly)
    if name in __all__:
        return importlib.import_module(f"zfkeras.experiments.{name}")
    raise AttributeError(f"module 'zfkeras.experiments' has no attribute {name!r}")


__all__ = [
    "ablation",
    "architecture",
    "conv1_activity",
    "correspondence",
    "diagnostics",
    "evolution",
    "few_shot",
    "filter_spectra",
    "invariance",
    "method_checks",
    "part_occlusion",
    "patches",
    "probes",
    "renorm",
    "seed_study",
    "snapshots",
    "source_target",
    "stability",
    "transfer",
    "variants",
]
