"""The test-set versions users meet, side by side: ids, who uses them, annotated ids, floors.

Papers on the same benchmark do not always score the same images: Flickr-SoundNet comes as a
249-id list (LVS, EZ-VSL, SSPL, SSL-TIE) and as 250-id lists (Senocak's original; SLAVC's, whose
extra id differs from Senocak's), VGG-SS as 5,158 clips (LVS, EZ-VSL, SLAVC), 4,911 (SSL-TIE) and
4,692 (SSPL). `version_table` reads each list in its native format (`read_id_list`), counts its
ids and how many the annotation file we have covers, compares the lists of one benchmark with
each other, and scores the model-free floors (`sslprop.evaluation.floors`) on each version under
the protocols that its papers use. `markdown` prints it; the command regenerates the table of
docs/test-sets.md from the files:

    python -m sslprop.evaluation.testsets --vggss vggss.json [--flickr Annotations/] \\
        --lists vggss-5158=vggss_test.csv vggss-4911=test_vggss_4911.txt ...

A NAME among `VERSIONS` brings its users and protocols; any other name is taken as a new
version of the benchmark its ids look like (all digits: Flickr-SoundNet, else VGG-SS).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslprop.argtypes import nonnegative_int
from sslprop.data.annotations import match_ids, read_annotations, read_id_list
from sslprop.errors import SSLPropError
from sslprop.evaluation.evaluate import evaluate
from sslprop.evaluation.floors import FLOORS


@dataclass(frozen=True)
class Version:
    """A known test-set version: its benchmark, its size, who uses it, where each copy lives."""

    dataset: str  # "flickr" | "vggss"
    size: int
    users: str
    sources: str
    protocols: tuple[str, ...]


VERSIONS: dict[str, Version] = {
    "flickr-249": Version(
        "flickr", 249, "LVS, EZ-VSL, FNAC, SSPL, SSL-TIE",
        "hche11/Localizing-Visual-Sounds-the-Hard-Way and stoneMo/EZ-VSL metadata/flickr_test.csv; "
        "zjsong/SSPL metadata/flickr_test249_in5k.csv; jinxiang-liu/SSL-TIE metadata/test_flick.csv "
        "and metadata/test_flickr_250.txt (249 ids despite its name)", ("lvs", "ezvsl", "sspl")),
    "flickr-250-senocak": Version(
        "flickr", 250, "Senocak et al. (original list); reported as the 250-id version by ACL-SSL, SSL-align",
        "ardasnck/learning_to_localize_sound_source test_list.txt", ("lvs",)),
    "flickr-250-slavc": Version(
        "flickr", 250, "SLAVC", "stoneMo/SLAVC metadata/flickr_test.csv", ("ezvsl",)),
    "vggss-5158": Version(
        "vggss", 5158, "LVS, EZ-VSL, FNAC, SLAVC",
        "hche11/Localizing-Visual-Sounds-the-Hard-Way metadata/vggss.json and vggss_test.csv; "
        "stoneMo/EZ-VSL, stoneMo/SLAVC metadata/vggss_test.csv; zjsong/SSPL metadata/vggss_test_5158.json "
        "(annotations only)", ("lvs", "ezvsl")),
    "vggss-4911": Version(
        "vggss", 4911, "SSL-TIE", "jinxiang-liu/SSL-TIE metadata/test_vggss_4911.txt", ("lvs",)),
    "vggss-4692": Version(
        "vggss", 4692, "SSPL", "zjsong/SSPL metadata/vggss_test_4692.csv", ("lvs", "sspl")),
}

DATASETS = ("flickr", "vggss")
NO_FLICKR = "not computable here: no Flickr-SoundNet XML annotations (give --flickr DIR)"


def guess_dataset(ids: Sequence[str]) -> str:
    """Flickr-SoundNet ids are Flickr photo numbers; VGG-SS ids are ``<ytid>_<start>`` clips."""
    return "flickr" if sum(i.isdigit() for i in ids) > len(ids) / 2 else "vggss"


def _annotation_keys(path: str | os.PathLike, fmt: str) -> set[str]:
    anns, _ = read_annotations(path, fmt)
    return set(anns)


def version_table(lists: Mapping[str, str | os.PathLike], vggss: str | os.PathLike | None = None,
                  flickr: str | os.PathLike | None = None, floors: Sequence[str] = FLOORS, seed: int = 0,
                  protocols: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """{name: list path} -> {"versions": [...], "overlaps": [...]}.

    versions: one dict per list: name, dataset, ids (as listed), unique, users, sources, annotated (ids
    with an entry in the annotation file, None without one), floors: [{protocol, n, floor: {ciou@0.5,
    auc}}] (empty, with `why`, when the benchmark's annotations were not given).
    overlaps: one dict per pair of lists of one benchmark: a, b, common, only_a, only_b (sorted ids).
    protocols: {name: protocols} overrides the known versions' (and the default ("lvs",)).
    """
    annotations = {"vggss": vggss, "flickr": flickr}
    keys = {d: _annotation_keys(p, d) for d, p in annotations.items() if p is not None}
    rows, idsets = [], {}
    for name, path in lists.items():
        ids = read_id_list(path)
        known = VERSIONS.get(name)
        dataset = known.dataset if known else guess_dataset(ids)
        protos = tuple((protocols or {}).get(name) or (known.protocols if known else ("lvs",)))
        row: dict[str, Any] = {"name": name, "dataset": dataset, "path": str(path), "ids": len(ids), "unique": len(set(ids)),
                               "users": known.users if known else "", "sources": known.sources if known else "",
                               "expected": known.size if known else None, "annotated": None, "floors": [], "why": ""}
        if dataset in keys:
            matched, _ = match_ids(ids, keys[dataset])
            idsets[name] = (dataset, set(matched))
            row["annotated"] = len(set(matched) & keys[dataset])
            for proto in protos:
                entry: dict[str, Any] = {"protocol": proto, "n": None}
                for method in floors:
                    r = evaluate(annotations[dataset], proto, method=method, ids=path, seed=seed)
                    entry["n"] = r["n"]
                    entry[method] = {"ciou@0.5": r["ciou@0.5"], "auc": r["auc"]}
                row["floors"].append(entry)
        else:
            idsets[name] = (dataset, set(ids))
            row["why"] = NO_FLICKR if dataset == "flickr" else "not computable here: no vggss.json given (--vggss PATH)"
        rows.append(row)
    overlaps = []
    names = list(lists)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (da, sa), (db, sb) = idsets[a], idsets[b]
            if da == db:
                overlaps.append({"a": a, "b": b, "dataset": da, "common": len(sa & sb),
                                 "only_a": sorted(sa - sb), "only_b": sorted(sb - sa)})
    return {"versions": rows, "overlaps": overlaps, "floors": list(floors), "seed": seed}


def _ids_text(ids: list[str], limit: int = 3) -> str:
    if not ids:
        return "-"
    shown = ", ".join(f"`{i}`" for i in ids[:limit])
    return f"{len(ids)}: {shown}" + (", ..." if len(ids) > limit else "")


def markdown(table: Mapping[str, Any]) -> str:
    """The two Markdown tables: versions (one row per version and protocol) and overlaps."""
    floors = table["floors"]
    label = {"full-frame": "full frame", "center": "centre box", "random-box": f"random box (seed {table['seed']})"}
    head = ["version", "benchmark", "ids", "used by", "with annotation", "protocol", "n scored"]
    head += [f"{label.get(f, f)} cIoU@0.5 / AUC" for f in floors]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["versions"]:
        ids = f"{row['ids']}" + (f" ({row['unique']} unique)" if row["unique"] != row["ids"] else "")
        ann = "-" if row["annotated"] is None else f"{row['annotated']}"
        base = [f"`{row['name']}`", {"flickr": "Flickr-SoundNet", "vggss": "VGG-SS"}[row["dataset"]], ids, row["users"] or "-", ann]
        if not row["floors"]:
            lines.append("| " + " | ".join(base + ["-", "-"] + [row["why"]] + ["" for _ in floors[1:]]) + " |")
            continue
        for e in row["floors"]:
            cells = [f"{e[f]['ciou@0.5']:.4f} / {e[f]['auc']:.4f}" for f in floors]
            lines.append("| " + " | ".join(base + [e["protocol"], str(e["n"])] + cells) + " |")
    if table["overlaps"]:
        lines += ["", "| list A | list B | common ids | only in A | only in B |", "|---|---|---|---|---|"]
        for o in table["overlaps"]:
            lines.append(f"| `{o['a']}` | `{o['b']}` | {o['common']} | {_ids_text(o['only_a'])} | {_ids_text(o['only_b'])} |")
    return "\n".join(lines)


def _parse_lists(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SSLPropError(f"--lists {item}: give NAME=PATH (e.g. vggss-4692=vggss_test_4692.csv)")
        if name in out:
            raise SSLPropError(f"--lists: {name} given twice")
        out[name] = path
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sslprop.evaluation.testsets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vggss", metavar="PATH", help="VGG-SS annotations (vggss.json)")
    parser.add_argument("--flickr", metavar="DIR", help="Flickr-SoundNet annotations (the folder of <id>.xml)")
    parser.add_argument("--lists", metavar="NAME=PATH", nargs="+", required=True,
                        help=f"test lists; known names: {', '.join(VERSIONS)}")
    parser.add_argument("--floors", default=",".join(FLOORS), help="comma-separated floors (default: %(default)s)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random-box seed")
    args = parser.parse_args(argv)
    try:
        floors = [f for f in args.floors.split(",") if f]
        unknown = [f for f in floors if f not in FLOORS]
        if unknown:
            raise SSLPropError(f"--floors {','.join(unknown)}: unknown (one of {', '.join(FLOORS)})")
        for flag, p in (("--vggss", args.vggss), ("--flickr", args.flickr)):
            if p is not None and not Path(p).exists():
                raise SSLPropError(f"{flag} {p}: no such file or folder")
        table = version_table(_parse_lists(args.lists), vggss=args.vggss, flickr=args.flickr, floors=floors, seed=args.seed)
    except SSLPropError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
