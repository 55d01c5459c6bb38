"""The files zfkeras ships, installed as the package ``zfkeras.shipped`` (pyproject.toml maps it to
this folder): the trained bundles ``<name>.keras`` + ``<name>.json`` + ``<name>.mean.npy`` read by
``zfkeras.pretrained``, and the chapters' experiment files. Resolve a file with
``zfkeras.config.shipped_file(name)``; ``tools/train_weights.sh`` regenerates them all.
"""
