"""The prediction files' contract: what `sslprop predict` writes and `sslprop eval` reads, in one place.

A predictions folder holds (keys: `frame_key`, the sample id or ``<sample id>/<frame index>``):
    boxes.json        {key: [[x1, y1, x2, y2, score], ...]}  best first, absolute pixels of the stored frame
    two_sources.json  {key: [[...best], [...second]]}  the best box and the best one that does not overlap it
    maps.npz          {key: float32 (S, S)}  the location map on the model's input grid
    onscreen.json     {key: {d_on, distance, on_d, on_m, on_or, on_dc, on_orc}}  Table 1's criteria (on_dc, on_orc: d_on at its
                      label-free calibrated threshold, alone and with m_on)
    predictions.json  what was run, with the thresholds (`models.inference`: d_on's 0.2, the calibrated m_on), and
                      "files": {name: sha256} of the four files above, the stamp of one set
The four files and predictions.json are one set: a reader of one of them (`load_predictions`,
`read_onscreen`) refuses it when predictions.json beside it lists another sha256 (`check_member`),
i.e. when the folder mixes the files of two predict runs. Folders written before the stamp existed
(no "files") are read as they are. `load_predictions` also reads maps written by other code: an
.npz keyed by id or a folder of ``<key>.npy`` arrays."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sslprop.data.annotations import load_json
from sslprop.data.format import frame_key  # noqa: F401  (the prediction files' key, defined with the sample format)
from sslprop.errors import SSLPropError
from sslprop.utils import sha256_file

INFO = "predictions.json"
SET_FILES = ("boxes.json", "two_sources.json", "maps.npz", "onscreen.json")  # stamped in predictions.json's "files"


file_digest = sha256_file  # the stamp of each file of a set (predictions.json's "files")


def check_member(path: str | os.PathLike) -> None:
    """A one-line SSLPropError when `path`, one of `SET_FILES`, is not the file its folder's predictions.json lists.

    That is a folder holding files of two predict runs (one cut short by a kill or a full disk, or a file copied
    in by hand): scoring it would mix two runs. Nothing is checked for other files, or when predictions.json is
    absent, not predict's (not a JSON object), or has no "files" (written before the stamp).
    """
    path = Path(path)
    info_path = path.parent / INFO
    if path.name not in SET_FILES or not info_path.is_file():
        return
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    files = info.get("files") if isinstance(info, dict) else None
    if not isinstance(files, dict) or path.name not in files:
        return
    if file_digest(path) != files[path.name]:
        raise SSLPropError(f"{path}: not the {path.name} that {INFO} beside it lists: this folder mixes the files of two "
                           "predict runs (one cut short?); run `sslprop predict` into it again")


def read_onscreen(pred_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """onscreen.json of a predictions folder: {key: {"d_on", "distance", "on_d", "on_m", "on_or"}}.

    Raises a one-line `SSLPropError` when the file is missing or holds no record (a method
    without common-space features, or fewer than two videos to calibrate m_on).
    """
    path = Path(pred_dir) / "onscreen.json"
    if path.is_file():
        check_member(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SSLPropError(f"{path}: cannot read on/off-screen predictions ({e})") from None
    if not isinstance(records, dict) or not records:
        raise SSLPropError(f"{path}: no on/off-screen record (method without f_v/f_s, or one video only)")
    return records


@dataclass
class Predictions:
    """Loaded predictions: kind "maps" ({key: (H, W) or (S, H, W) float32}) or "boxes" ({key: (M, 5) by score})."""

    kind: str
    data: dict[str, np.ndarray]
    source: str


def _boxes_array(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, list):
        raise SSLPropError(f"{where}: expected a list of [x1, y1, x2, y2, score], got {type(value).__name__}")
    rows = []
    for j, b in enumerate(value):
        if not isinstance(b, list) or len(b) not in (4, 5) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in b):
            raise SSLPropError(f"{where} box {j}: expected [x1, y1, x2, y2, score] numbers, got {b!r}")
        row = [float(v) for v in b] + ([1.0] if len(b) == 4 else [])
        if not all(math.isfinite(v) for v in row):
            raise SSLPropError(f"{where} box {j}: non-finite value in {b!r}")
        if row[2] < row[0] or row[3] < row[1]:
            raise SSLPropError(f"{where} box {j}: {b!r} is not x1, y1, x2, y2 (x2 < x1 or y2 < y1)")
        rows.append(row)
    arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return arr[np.argsort(-arr[:, 4], kind="stable")]  # highest score first, ties in file order


def load_predictions(path: str | os.PathLike) -> Predictions:
    """A predictions file or folder (see the module docstring) -> Predictions."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.npy"))
        if not files:
            raise SSLPropError(f"{p}: no .npy files in this folder (expected <key>.npy maps)")
        data = {}
        for f in files:
            key = f.relative_to(p).with_suffix("").as_posix()
            try:
                data[key] = np.load(f, allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise SSLPropError(f"{f}: not a plain .npy array ({type(e).__name__}: {e or 'empty file'})") from None
        return Predictions("maps", _check_maps(data, str(p)), str(p))
    if not p.is_file():
        raise SSLPropError(f"{p}: no such predictions file")
    check_member(p)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (ValueError, OSError) as e:
            raise SSLPropError(f"{p}: not a readable .npz of plain arrays ({e})") from None
        return Predictions("maps", _check_maps(data, str(p)), str(p))
    if suffix == ".npy":
        raise SSLPropError(f"{p}: a single .npy cannot hold maps keyed by id without pickling; save them with np.savez (keys = ids) or as a folder of <id>.npy")
    if suffix == ".json":

        raw = load_json(p)
        if not isinstance(raw, dict):
            raise SSLPropError(f"{p}: expected a JSON object {{id: [[x1, y1, x2, y2, score], ...]}}")
        return Predictions("boxes", {str(k): _boxes_array(v, f"{p} entry {k!r}") for k, v in raw.items()}, str(p))
    raise SSLPropError(f"{p}: predictions must be .npz, a folder of .npy, or .json boxes")


def _check_maps(data: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    out = {}
    for k, v in data.items():
        if v.dtype.kind not in "fiub" or v.ndim not in (2, 3) or 0 in v.shape:
            raise SSLPropError(f"{where} key {k!r}: a map must be a numeric (H, W) or (S, H, W) array, got {v.dtype} {v.shape}")
        if not np.all(np.isfinite(v)):
            raise SSLPropError(f"{where} key {k!r}: the map holds NaN or infinite values")
        out[k] = v.astype(np.float32)
    return out
