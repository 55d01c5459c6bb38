#!/usr/bin/env bash
# Reproduce the shipped weights in data/ (the commands recorded in data/<name>.json).
# On 2 CPU cores: about 8 minutes for each synthetic model (zfnet-shapes, zfnet-concepts), 20-40
# minutes for each CIFAR-10 model, then about 45 minutes for the experiment files of chapters 12,
# 14 and 16.
# Interrupted? Rerun the same line: training resumes from its last completed epoch (backup/ in
# --out); add --fresh to start that model over.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZFKERAS_DATA="$PWD/data"   # --install writes the shipped bundles into data/
PY=${PY:-.venv/bin/python}
: "${ZFKERAS_CIFAR10:?set ZFKERAS_CIFAR10 to a CIFAR-10 folder (train/ and test/, one folder per class)}"
$PY -m zfkeras.train --arch zfnet --dataset shapes --image-size 128 --lr 0.01 --epochs 12 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 0.3 --out runs/zfnet-shapes --install zfnet-shapes --verbose 2
$PY -m zfkeras.train --arch zfnet --dataset concepts --image-size 128 --lr 0.01 --epochs 12 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 0.3 --out runs/zfnet-concepts --install zfnet-concepts --verbose 2
$PY -m zfkeras.train --arch zfnet --dataset cifar10 --epochs 25 --out runs/zfnet-cifar10 --install zfnet-cifar10 --verbose 2
$PY -m zfkeras.train --arch alexnet --dataset cifar10 --epochs 25 --out runs/alexnet-cifar10 --install alexnet-cifar10 --verbose 2
# The chapters' experiment files (shapes; minutes each):
$PY -m zfkeras.experiments.evolution --out data/evolution-shapes.npz
$PY -m zfkeras.experiments.probes --out data/generalization-shapes.json
$PY -m zfkeras.experiments.ablation --out data/ablation-shapes.json
# Issue 13's fair tests (shapes and CIFAR-10; about 15, 5 and 10 minutes on 2 CPU cores):
# every ablation variant to convergence (early stopping), chapter 16
$PY -m zfkeras.experiments.ablation --patience 4 --verbose 2 --out data/ablation-converged-shapes.json
# conv1 with and without the filter renormalization, 7x7/2 and 11x11/4, chapter 14
$PY -m zfkeras.experiments.renorm --out data/dead-filters-shapes.npz
# pretrain on 6 CIFAR-10 classes, transfer to the 4 held out, chapter 16
$PY -m zfkeras.experiments.transfer --out data/transfer-cifar10.json
