#!/usr/bin/env bash
# Reproduce the shipped weights in data/ (the commands recorded in data/<name>.json).
# Measured on a 2-core machine (about 175 images/s at 96x96): about 90 minutes for each synthetic
# model (128x128), 2.7 hours for each CIFAR-10 first run (25 epochs) and 30 minutes for its
# restart; the experiment files of chapters 12, 14 and 16 then take about an hour. A GPU or a
# faster CPU (550 images/s has been seen) divides that.
# Interrupted? Rerun the same line: training resumes from its last completed epoch (backup/ in
# --out), and a finished run is not trained again; add --fresh to start that model over.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZFKERAS_DATA="$PWD/data"   # --install writes the shipped bundles into data/
PY=${PY:-.venv/bin/python}
: "${ZFKERAS_CIFAR10:?set ZFKERAS_CIFAR10 to a CIFAR-10 folder (train/ and test/, one folder per class)}"
$PY -m zfkeras.train --arch zfnet --dataset shapes --image-size 128 --lr 0.01 --epochs 12 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 0.3 --out runs/zfnet-shapes --install zfnet-shapes --verbose 2
# then two warm restarts of the whole network (README, Shipped weights), conv1 at the common
# learning rate: Hide-and-Seek (Singh & Lee 2017: each 16-px square of a training image hidden with
# probability 0.5), so that Grad-CAM's peak moves from the edges of the shapes onto the objects;
# then 2 epochs without hiding and with label smoothing 0.1, so that occluding the object shows in
# the probabilities again (occlusion, chapter 10)
$PY -m zfkeras.train --arch zfnet --dataset shapes --image-size 128 --lr 0.01 --epochs 6 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 0.3 --hide 0.5 --hide-patch 16 --conv1-lr 1 --init-from runs/zfnet-shapes/model.keras --out runs/zfnet-shapes-hide16 --install zfnet-shapes --verbose 2
$PY -m zfkeras.train --arch zfnet --dataset shapes --image-size 128 --lr 0.003 --epochs 2 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 0.3 --conv1-lr 1 --label-smoothing 0.1 --init-from runs/zfnet-shapes-hide16/model.keras --out runs/zfnet-shapes-smooth --install zfnet-shapes --verbose 2
# the concept world: every image blurred by the 9-tap binomial (two passes) so that conv1 is not
# left fitting the pixel-sharp edges of the drawn textures (issue 17)
$PY -m zfkeras.train --arch zfnet --dataset concepts --image-size 128 --lr 0.01 --epochs 12 --train-size 20000 --test-size 2000 --colour-jitter 0.2 --noise 0.1 --blur 1.0 --blur-passes 2 --out runs/zfnet-concepts-blur --install zfnet-concepts --verbose 2
# CIFAR-10 in two runs: the first with He-normal conv1 at one learning rate (the recipe before
# issue 17), then conv1 alone starts afresh (1% of He-normal, 10x learning rate) and the whole
# network trains on, every other layer from its trained weights: a warm restart.
$PY -m zfkeras.train --arch zfnet --dataset cifar10 --epochs 25 --conv1-init 1 --conv1-lr 1 --out runs/zfnet-cifar10-stage1 --verbose 2
$PY -m zfkeras.train --arch zfnet --dataset cifar10 --epochs 6 --lr 0.01 --init-from runs/zfnet-cifar10-stage1/model.keras --reinit conv1 --out runs/zfnet-cifar10-stage2 --install zfnet-cifar10 --verbose 2
$PY -m zfkeras.train --arch alexnet --dataset cifar10 --epochs 25 --conv1-init 1 --conv1-lr 1 --out runs/alexnet-cifar10-stage1 --verbose 2
$PY -m zfkeras.train --arch alexnet --dataset cifar10 --epochs 5 --lr 0.01 --init-from runs/alexnet-cifar10-stage1/model.keras --reinit conv1 --out runs/alexnet-cifar10-stage2 --install alexnet-cifar10 --verbose 2
# chapter 14: both first layers, three seeds each, on 6,000 images for 6 epochs
$PY -m zfkeras.experiments.architecture --out data/architecture-cifar10.npz --train-size 6000 --epochs 6 --seeds 0 1 2
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
# chapter 11: twelve explanation methods, four checks on ground truth, with the shipped models
# (about 22 minutes on 2 shared CPU cores, 13 of CPU time)
$PY -m zfkeras.experiments.method_checks --out data/method-checks.json
