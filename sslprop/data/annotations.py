"""Readers of the real benchmarks' NATIVE annotation files, numbers kept exactly as written.

Four formats, each read into per-id records plus a list of `Problem`s (odd values that the
reference evaluation code tolerates, reported instead of silently dropped):

==========================  ==============================================================
format                      what a record holds
==========================  ==============================================================
Flickr-SoundNet (`flickr`)  a folder of ``<id>.xml``; every ``<bbox>`` element found two
                            levels under the root: its first child is skipped, the next four
                            are xmin, ymin, xmax, ymax in pixels of the 256x256 frame
                            (`FlickrAnn`, integer pixels)
VGG-SS (`vggss`)            ``vggss.json``: ``[{file, class, bbox: [[x1, y1, x2, y2], ...]}]``
                            normalised to [0, 1]; 12 real entries hold a garbage value of about
                            -2.88e16 (`VggssAnn`, floats as stored, garbage included)
MUSIC solo/duet (`music`)   DSOL's ``solotest.json`` / ``duettest.json``:
                            ``{key: {bbox: [{box: [x, y, w, h] px, normbox: [x/W, y/H, w/W, h/H],
                            category_id}], wdith: W, height: H}}`` (sic ``wdith``); some entries
                            have no box (`MusicAnn`)
AudioSet-instrument         DSOL's ``audioset_box.json``: ``{"ytid/sec": {bbox: [{category,
(`audioset-instrument`)     normbox: [x, y, w, h]}]}}`` normalised, no frame size (`AudiosetAnn`)
==========================  ==============================================================

Nothing here rescales, clamps or reorders a coordinate: the protocols in `sslprop.evaluation.metrics`
apply each paper's own rule (``int(224*v/256)``, ``int(224*max(v,0))``, ``normbox*224`` ...)
to these numbers. Input that cannot be parsed at all raises `SSLPropError` naming the file
and the entry.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslprop.errors import SSLPropError

FLICKR_FRAME = 256  # Flickr-SoundNet test frames are 256x256; the XML boxes are pixels of that frame

FORMATS = ("flickr", "vggss", "music", "audioset-instrument")
_XYXY = ("x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class Problem:
    """Something odd in an annotation file that the reference code tolerates.

    where: file and entry, e.g. ``"vggss.json entry 17 (Db6Hjt0x28k_000056)"``
    kind:  short machine-readable class, e.g. ``"coordinate_out_of_range"``, ``"no_boxes"``
    what:  one-line human-readable description, saying how the reference code handles it
    """

    where: str
    kind: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class FlickrAnn:
    """One Flickr-SoundNet test image: every annotated box, as written in its XML file.

    boxes:  [(xmin, ymin, xmax, ymax), ...] integer pixels of the 256x256 frame, in file order
    fields: text of the skipped first child of each <bbox> (kept for reference, never used)
    groups: index of the root child that holds each box (the XML does not name annotators;
            the reference consensus sums every box whatever its group)
    """

    id: str
    boxes: list[tuple[int, int, int, int]]
    fields: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    width: int = FLICKR_FRAME
    height: int = FLICKR_FRAME


@dataclass(frozen=True)
class VggssAnn:
    """One VGG-SS test entry: normalised (x1, y1, x2, y2) boxes exactly as stored (garbage kept)."""

    id: str
    label: str
    boxes: list[tuple[float, float, float, float]]


@dataclass(frozen=True)
class MusicBox:
    """One DSOL MUSIC box: pixels ``(x, y, w, h)``, normalised ``(x/W, y/H, w/W, h/H)``, category id."""

    box: tuple[float, float, float, float]
    normbox: tuple[float, float, float, float]
    category: int


@dataclass(frozen=True)
class MusicAnn:
    """One MUSIC solo/duet test frame (key ``"<ytid>_0_1000/frame_NNN/NNNNN.jpg"``) and its boxes."""

    id: str
    width: int
    height: int
    boxes: list[MusicBox]


@dataclass(frozen=True)
class AudiosetBox:
    """One AudioSet-instrument box: normalised ``(x, y, w, h)`` and its category id."""

    normbox: tuple[float, float, float, float]
    category: int


@dataclass(frozen=True)
class AudiosetAnn:
    """One AudioSet-instrument test frame (key ``"<ytid>/<second>"``); no frame size is stored."""

    id: str
    boxes: list[AudiosetBox]


def _number(value: Any, where: str) -> float:
    """A JSON number (int or float, not bool) or an SSLPropError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SSLPropError(f"{where}: expected a number, got {value!r}")
    return float(value)


def load_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SSLPropError(f"{path}: no such annotation file")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise SSLPropError(f"{path}: does not parse as JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise SSLPropError(f"{path}: is not UTF-8 text") from None


def read_flickr_xml(path: str | os.PathLike) -> tuple[FlickrAnn, list[Problem]]:
    """One Flickr-SoundNet XML file -> its boxes, read as the LVS / EZ-VSL / SSPL code reads them.

    For every child of the root, every ``<bbox>`` child of it contributes one box: its first
    child is skipped and the next four children are ``int(text)``. The id is the file name
    up to its first dot (EZ-VSL's ``filename.split('.')[0]``). A ``<bbox>`` with more than
    four values after the first keeps the first four (a Problem); a non-``<bbox>`` element at
    that depth, which the reference code would turn into an empty box and crash on, is
    skipped (a Problem).
    """
    path = Path(path)
    problems: list[Problem] = []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SSLPropError(f"{path}: does not parse as XML ({e})") from None
    except OSError as e:
        raise SSLPropError(f"{path}: cannot be read ({e.strerror})") from None
    boxes, fields, groups = [], [], []
    for g, child in enumerate(root):
        for k, elem in enumerate(child):
            where = f"{path} <{child.tag}>[{g}] child {k}"
            if elem.tag != "bbox":
                problems.append(Problem(where, "not_a_bbox", f"<{elem.tag}> where a <bbox> was expected; skipped"))
                continue
            values = list(elem)
            if len(values) < 5:
                raise SSLPropError(f"{where}: <bbox> has {len(values)} children, needs a label and xmin, ymin, xmax, ymax")
            if len(values) > 5:
                problems.append(Problem(where, "extra_values", f"<bbox> has {len(values) - 1} values after its first child; the first four are used"))
            coords = []
            for ch in values[1:5]:
                text = (ch.text or "").strip()
                try:
                    coords.append(int(text))
                except ValueError:
                    raise SSLPropError(f"{where}: <{ch.tag}> is {text!r}, not an integer") from None
            boxes.append(tuple(coords))
            fields.append((values[0].text or "").strip())
            groups.append(g)
            x1, y1, x2, y2 = coords
            if x2 <= x1 or y2 <= y1:
                problems.append(Problem(where, "empty_box", f"box {coords} has no area; it adds nothing to the ground truth"))
            if min(coords) < 0 or max(coords) > FLICKR_FRAME:
                problems.append(Problem(where, "coordinate_out_of_range", f"box {coords} leaves the 256x256 frame; numpy slicing clips it"))
    ann = FlickrAnn(id=path.name.split(".")[0], boxes=boxes, fields=fields, groups=groups)
    if not boxes:
        problems.append(Problem(str(path), "no_boxes", "no <bbox> element"))
    return ann, problems


def read_flickr_xml_dir(path: str | os.PathLike) -> tuple[dict[str, FlickrAnn], list[Problem]]:
    """A folder of Flickr-SoundNet ``<id>.xml`` files -> ({id: FlickrAnn}, problems), ids sorted."""
    path = Path(path)
    if not path.is_dir():
        raise SSLPropError(f"{path}: not a folder (Flickr-SoundNet annotations are a folder of <id>.xml files)")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
    if not files:
        raise SSLPropError(f"{path}: no .xml files in this folder")
    anns: dict[str, FlickrAnn] = {}
    problems: list[Problem] = []
    for f in files:
        ann, probs = read_flickr_xml(f)
        if ann.id in anns:
            raise SSLPropError(f"{f}: id {ann.id!r} also comes from another file in {path}")
        anns[ann.id] = ann
        problems.extend(probs)
    return anns, problems


def read_vggss(path: str | os.PathLike) -> tuple[dict[str, VggssAnn], list[Problem]]:
    """``vggss.json`` -> ({file: VggssAnn}, problems); coordinates are kept as stored.

    A coordinate outside [0, 1] (the real file has 12 entries with about -2.88e16) is a
    Problem: the LVS / SSPL code clamps it with ``int(224 * max(v, 0))``, EZ-VSL with
    ``clip(v, 0, 1)``, which in the real file turns each garbage x2 or y2 into 0 and so
    empties that box. A repeated file id keeps its last entry (the reference builds a dict).
    """
    data = load_json(path)
    name = Path(path).name
    if not isinstance(data, list):
        raise SSLPropError(f"{path}: expected a JSON list of {{file, class, bbox}} entries, got {type(data).__name__}")
    anns: dict[str, VggssAnn] = {}
    problems: list[Problem] = []
    for i, entry in enumerate(data):
        where = f"{name} entry {i}"
        if not isinstance(entry, dict) or "file" not in entry or "bbox" not in entry:
            raise SSLPropError(f"{path} entry {i}: expected an object with 'file' and 'bbox'")
        fid = str(entry["file"])
        where = f"{name} entry {i} ({fid})"
        if not isinstance(entry["bbox"], list):
            raise SSLPropError(f"{path} entry {i} ({fid}): 'bbox' must be a list of [x1, y1, x2, y2]")
        boxes = []
        for j, box in enumerate(entry["bbox"]):
            if not isinstance(box, list) or len(box) != 4:
                raise SSLPropError(f"{path} entry {i} ({fid}) box {j}: expected [x1, y1, x2, y2], got {box!r}")
            b = tuple(_number(v, f"{path} entry {i} ({fid}) box {j}") for v in box)
            if not all(math.isfinite(v) for v in b):
                raise SSLPropError(f"{path} entry {i} ({fid}) box {j}: non-finite coordinate {box!r}")
            bad = [k for k, v in enumerate(b) if not 0.0 <= v <= 1.0]
            if bad:
                problems.append(Problem(
                    f"{where} box {j}", "coordinate_out_of_range",
                    f"coordinate(s) {', '.join(f'{_XYXY[k]}={b[k]:.6g}' for k in bad)} outside [0, 1]; "
                    "LVS and SSPL take int(224 * max(v, 0)), EZ-VSL int(224 * clip(v, 0, 1)): a negative x2 or y2 empties the box",
                ))
            boxes.append(b)
        if not boxes:
            problems.append(Problem(where, "no_boxes", "entry has no box"))
        if fid in anns:
            problems.append(Problem(where, "duplicate_id", "file id seen before; the later entry is kept"))
        anns[fid] = VggssAnn(id=fid, label=str(entry.get("class", "")), boxes=boxes)
    return anns, problems


def _read_dict_json(path: str | os.PathLike, what: str) -> dict[str, Any]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise SSLPropError(f"{path}: expected a JSON object {{key: {what}}}, got {type(data).__name__}")
    return data


def _quad(value: Any, where: str, what: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        raise SSLPropError(f"{where}: '{what}' must be [x, y, w, h], got {value!r}")
    q = tuple(_number(v, f"{where} {what}") for v in value)
    if not all(math.isfinite(v) for v in q):
        raise SSLPropError(f"{where}: '{what}' has a non-finite value {value!r}")
    return q  # type: ignore[return-value]


def _check_normbox(nb: tuple[float, float, float, float], where: str, problems: list[Problem]) -> None:
    x, y, w, h = nb
    if min(nb) < 0 or x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        problems.append(Problem(where, "coordinate_out_of_range", f"normbox {list(nb)} leaves the unit square; numpy slicing clips it"))
    if w <= 0 or h <= 0:
        problems.append(Problem(where, "empty_box", f"normbox {list(nb)} has no area"))


def read_music(path: str | os.PathLike) -> tuple[dict[str, MusicAnn], list[Problem]]:
    """DSOL's MUSIC ``solotest.json`` / ``duettest.json`` -> ({key: MusicAnn}, problems).

    The frame width is read from ``wdith`` (the files' spelling) or ``width``. An entry with
    no box is kept (empty `boxes`) and listed as a ``no_boxes`` Problem: DSOL's evaluation
    skips it (``if len(gt[k]['bbox']) == 0: continue``).
    """
    data = _read_dict_json(path, "{bbox, wdith, height}")
    name = Path(path).name
    anns: dict[str, MusicAnn] = {}
    problems: list[Problem] = []
    for key, entry in data.items():
        where = f"{path} entry {key!r}"
        if not isinstance(entry, dict) or "bbox" not in entry:
            raise SSLPropError(f"{where}: expected an object with 'bbox'")
        wkey = "wdith" if "wdith" in entry else "width"
        if wkey not in entry or "height" not in entry:
            raise SSLPropError(f"{where}: missing the frame size ('wdith' or 'width', and 'height')")
        width, height = _number(entry[wkey], where), _number(entry["height"], where)
        if width <= 0 or height <= 0 or width != int(width) or height != int(height):
            raise SSLPropError(f"{where}: frame size {entry[wkey]!r} x {entry['height']!r} is not a positive integer size")
        if not isinstance(entry["bbox"], list):
            raise SSLPropError(f"{where}: 'bbox' must be a list")
        boxes = []
        for j, b in enumerate(entry["bbox"]):
            bw = f"{where} box {j}"
            if not isinstance(b, dict) or "normbox" not in b:
                raise SSLPropError(f"{bw}: expected an object with 'normbox' (and 'box', 'category_id')")
            nb = _quad(b["normbox"], bw, "normbox")
            px = _quad(b["box"], bw, "box") if "box" in b else (nb[0] * width, nb[1] * height, nb[2] * width, nb[3] * height)
            cat = b.get("category_id", -1)
            if isinstance(cat, bool) or not isinstance(cat, int):
                raise SSLPropError(f"{bw}: category_id must be an integer, got {cat!r}")
            _check_normbox(nb, f"{name} entry {key!r} box {j}", problems)
            boxes.append(MusicBox(box=px, normbox=nb, category=cat))
        if not boxes:
            problems.append(Problem(f"{name} entry {key!r}", "no_boxes", "entry has no box; DSOL's evaluation skips it"))
        anns[str(key)] = MusicAnn(id=str(key), width=int(width), height=int(height), boxes=boxes)
    return anns, problems


def read_audioset_instrument(path: str | os.PathLike) -> tuple[dict[str, AudiosetAnn], list[Problem]]:
    """DSOL's ``audioset_box.json`` -> ({"ytid/sec": AudiosetAnn}, problems); normboxes as stored."""
    data = _read_dict_json(path, "{bbox}")
    name = Path(path).name
    anns: dict[str, AudiosetAnn] = {}
    problems: list[Problem] = []
    for key, entry in data.items():
        where = f"{path} entry {key!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("bbox"), list):
            raise SSLPropError(f"{where}: expected an object with a 'bbox' list")
        boxes = []
        for j, b in enumerate(entry["bbox"]):
            bw = f"{where} box {j}"
            if not isinstance(b, dict) or "normbox" not in b:
                raise SSLPropError(f"{bw}: expected an object with 'normbox' and 'category'")
            nb = _quad(b["normbox"], bw, "normbox")
            cat = b.get("category", -1)
            if isinstance(cat, bool) or not isinstance(cat, int):
                raise SSLPropError(f"{bw}: category must be an integer, got {cat!r}")
            _check_normbox(nb, f"{name} entry {key!r} box {j}", problems)
            boxes.append(AudiosetBox(normbox=nb, category=cat))
        if not boxes:
            problems.append(Problem(f"{name} entry {key!r}", "no_boxes", "entry has no box"))
        anns[str(key)] = AudiosetAnn(id=str(key), boxes=boxes)
    return anns, problems


READERS: dict[str, Callable[[str | os.PathLike], tuple[dict[str, Any], list[Problem]]]] = {
    "flickr": read_flickr_xml_dir,
    "vggss": read_vggss,
    "music": read_music,
    "audioset-instrument": read_audioset_instrument,
}


def read_annotations(path: str | os.PathLike, fmt: str) -> tuple[dict[str, Any], list[Problem]]:
    """Dispatch on the format name (one of `FORMATS`) -> ({id: record}, problems)."""
    if fmt not in READERS:
        raise SSLPropError(f"--format {fmt}: unknown annotation format (one of {', '.join(FORMATS)})")
    return READERS[fmt](path)


def summarise_problems(problems: list[Problem], examples: int = 3) -> dict[str, Any]:
    """{kind: {"count": n, "examples": [first few as strings]}} for reports."""
    out: dict[str, Any] = {}
    for p in problems:
        slot = out.setdefault(p.kind, {"count": 0, "examples": []})
        slot["count"] += 1
        if len(slot["examples"]) < examples:
            slot["examples"].append(str(p))
    return out


# dropped from the ids of a test list
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".mp4", ".mkv", ".webm", ".avi", ".wav", ".mp3", ".flac", ".xml", ".npy", ".h5")
ID_HEADERS = ("id", "ids", "file", "filename", "file_name", "name", "video", "video_id", "videoid", "ytid", "youtube_id", "key", "image")
_ID_FIELDS = ("file", "id", "video_id", "name", "key")  # where a json entry keeps its id, first found wins
_CLIP_START = re.compile(r"^(?P<ytid>.+)_(?P<start>\d{1,7})$")  # VGGSound clip ids: <ytid>_<start second, zero-padded>


def _strip_media_suffix(token: str) -> str:
    token = token.strip().strip('"').strip("'").strip()
    for suffix in MEDIA_SUFFIXES:
        if token.lower().endswith(suffix):
            return token[: -len(suffix)]
    return token


def _ids_from_json(p: Path, data: Any) -> list[str]:
    def one(entry: Any, where: str) -> str:
        if isinstance(entry, str):
            return entry
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            return str(entry)
        if isinstance(entry, dict):
            for k in _ID_FIELDS:
                if isinstance(entry.get(k), (str, int)):
                    return str(entry[k])
        raise SSLPropError(f"{p}: {where} is neither an id nor an entry with a \"file\" key")

    if isinstance(data, list):
        return [one(e, f"entry {i}") for i, e in enumerate(data)]
    if isinstance(data, dict):
        if len(data) == 1 and isinstance(next(iter(data.values())), list):  # {"test": [...]}
            return _ids_from_json(p, next(iter(data.values())))
        # {id: entry}: the entry's own "file" when it has one, else the key
        return [one(v, f"entry {k!r}") if isinstance(v, dict) and any(f in v for f in _ID_FIELDS) else str(k) for k, v in data.items()]
    raise SSLPropError(f"{p}: a JSON id list must be a list or an object, not {type(data).__name__}")


def read_id_list(path: str | os.PathLike) -> list[str]:
    """A test list in its native format -> ids in file order, media suffixes dropped.

    Text lists: the first comma-, tab- or space-separated field of each line (quotes, a BOM and CRLF
    line ends allowed), a header line such as ``file,class`` or ``video_id`` skipped. This reads
    LVS / EZ-VSL's ``flickr_test.csv`` (``10000130166,202``), SLAVC's 250-id ``flickr_test.csv``,
    Senocak's ``test_list.txt`` (``2432219254.png``), SSPL's ``vggss_test_4692.csv``
    (``zpWuikVorYg_000032``), SSL-TIE's ``test_vggss_4911.txt`` (``nqd6uO6hDSo_000030.jpg``) and
    plain id lists alike. JSON lists: a list of ids, a list of entries with a ``"file"`` key (VGG-SS's
    ``vggss.json`` itself), an object keyed by id, or ``{"name": [...]}``. Ids stay as written
    otherwise (a VGGSound ``_000030`` start suffix is kept); `match_ids` maps them onto the
    annotation keys. `sslprop eval --ids` and `sslprop import --ids` both read lists with it.
    """
    p = Path(path)
    if not p.is_file():
        raise SSLPropError(f"{p}: no such id list")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SSLPropError(f"{p}: the id list is not UTF-8 text (one id per line, a csv or a json list)") from None
    if "\x00" in text:
        raise SSLPropError(f"{p}: the id list is binary, not text (one id per line, a csv or a json list)")
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SSLPropError(f"{p}: the id list does not parse as JSON ({e.msg}, line {e.lineno})") from None
        raw = _ids_from_json(p, data)
    else:
        raw = []
        for n, line in enumerate(text.splitlines()):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            token = re.split(r"[,;\t ]+", line)[0].strip().strip('"').strip("'")
            if not raw and n == 0 and token.lower().replace(" ", "_") in ID_HEADERS:
                continue  # a header line
            raw.append(token)
    ids = [t for t in (_strip_media_suffix(r) for r in raw) if t]
    if not ids:
        raise SSLPropError(f"{p}: the id list is empty")
    return ids


def match_ids(ids: list[str], keys: set[str] | list[str]) -> tuple[list[str], int]:
    """Listed ids -> the annotation keys they name, and how many needed more than an exact match.

    An id that is a key stays; otherwise a VGGSound clip id and a bare YouTube id are matched either
    way round when unambiguous (``abc_000030`` <-> ``abc``); anything else stays as written (and is
    then reported as ``no_annotation``).
    """
    keys = set(keys)
    by_ytid: dict[str, list[str]] = {}
    for k in keys:
        m = _CLIP_START.match(k)
        if m:
            by_ytid.setdefault(m["ytid"], []).append(k)
    out, mapped = [], 0
    for i in ids:
        if i in keys:
            out.append(i)
            continue
        m = _CLIP_START.match(i)
        if m and m["ytid"] in keys:
            out.append(m["ytid"])
            mapped += 1
        elif m and m["ytid"] in by_ytid and len(by_ytid[m["ytid"]]) == 1 and int(_CLIP_START.match(by_ytid[m["ytid"]][0])["start"]) == int(m["start"]):
            out.append(by_ytid[m["ytid"]][0])  # the same start second, padded differently
            mapped += 1
        elif i in by_ytid and len(by_ytid[i]) == 1:
            out.append(by_ytid[i][0])
            mapped += 1
        else:
            out.append(i)
    return out, mapped
