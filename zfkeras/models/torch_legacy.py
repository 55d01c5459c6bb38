"""A reader of PyTorch state dicts in the legacy (pre-zip, PyTorch < 1.6) serialization, written
with :mod:`pickle` and NumPy: no PyTorch needed.

The legacy file is five things one after the other: three small pickles (a magic number, the
protocol version, the system info), the pickled state dict whose tensors name their storages by
*persistent id*, a pickled list of storage keys, then for each key in that order an 8-byte
little-endian element count followed by the storage's raw little-endian bytes. A tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``: a strided view into
its storage.

Only what a state dict of float tensors needs is unpickled (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2``, ``torch.*Storage``): any other global is refused, so a
file cannot run code while it is read.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage:
    """One storage: its dtype and element count, its data once read."""

    def __init__(self, dtype, numel: int):
        self.dtype, self.numel, self.data = np.dtype(dtype), int(numel), None


class _Tensor:
    """A strided view into a storage, materialized once every storage is read."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def numpy(self) -> np.ndarray:
        data = self.storage.data
        if self.size and any(n > 0 for n in self.size):
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
            if self.offset < 0 or last >= data.size:
                raise ValueError(
                    f"tensor of size {self.size}, stride {self.stride}, offset {self.offset} "
                    f"runs past its storage of {data.size} elements"
                )
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=[s * data.itemsize for s in self.stride],
            writeable=False,
        )
        return np.array(view)  # a copy, C-contiguous


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, *args):
    return _Tensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    """Unpickles a legacy state dict, refusing every global it does not need."""

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key, _location, numel, view = pid
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(DTYPES[kind.name], numel)
        return self.storages[key]


def load_state_dict(path: str | Path) -> Mapping[str, np.ndarray]:
    """Read a PyTorch state dict saved in the legacy format into NumPy arrays.

    Args:
        path: the ``.pth``/``.pt`` file (``torch.save(..., _use_new_zipfile_serialization=False)``
            or any PyTorch before 1.6).

    Returns:
        a read-only mapping ``name -> array`` in the file's order, each array with the
        tensor's shape and dtype (e.g. a conv weight ``(out, in/groups, kh, kw)`` float32).

    Raises:
        TypeError: ``path`` is not a str or path.
        FileNotFoundError: no such file.
        ValueError: the file is in the zip format of PyTorch >= 1.6, is not a legacy PyTorch
            file, is truncated, or holds something other than a dict of tensors.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is in PyTorch's zip format (PyTorch >= 1.6); only the legacy format is read"
        )
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
            if magic != MAGIC:
                raise ValueError(f"{path} is not a legacy PyTorch file (bad magic number)")
            pickle.load(f)  # protocol version
            pickle.load(f)  # system info: byte order, type sizes
            state = _Unpickler(f, storages).load()
            keys = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, KeyError, AttributeError) as e:
            raise ValueError(f"{path} is not a readable legacy PyTorch state dict: {e}") from e
        for key in keys:
            storage = storages[key]
            head = f.read(8)
            if len(head) != 8:
                raise ValueError(f"{path} is truncated (storage {key!r} missing)")
            (numel,) = struct.unpack("<q", head)
            if numel != storage.numel:
                raise ValueError(
                    f"{path}: storage {key!r} holds {numel} elements, expected {storage.numel}"
                )
            raw = f.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise ValueError(f"{path} is truncated (storage {key!r} is short)")
            storage.data = np.frombuffer(raw, storage.dtype.newbyteorder("<"))
    if not isinstance(state, dict) or not all(isinstance(v, _Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return MappingProxyType({k: v.numpy() for k, v in state.items()})  # read-only, file order
