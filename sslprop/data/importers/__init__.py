"""`python -m sslprop import KIND SRC --out DIR`: read a real data set into the sslprop format (docs/design.md).

One module per source (`flickr`, `vggss`, `music`, `ave`, `folder`) plans its jobs, one per
sample to write, from the source's own layout and annotation files; `common` holds what every
source shares (options, the job and its report, decoding media, writing a sample, resuming).
This module runs the plan: finished samples are kept in ``DIR/.import`` and reused on the
next run, so an interrupted import resumes where it stopped."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from tqdm import tqdm

from sslprop.argtypes import nonnegative_int, positive_int
from sslprop.config import DataConfig
from sslprop.data.annotations import read_id_list
from sslprop.data.format import Sample, write_manifest
from sslprop.data.importers.ave import plan_ave
from sslprop.data.importers.common import (
    DEFAULT_AUDIO_SECONDS,
    DEFAULT_MAX_FRAME_SIDE,
    GT_RULES,
    KINDS,
    REPORT,
    ImportOptions,
    ImportReport,
    Job,
    Skipped,
    run_job,
)
from sslprop.data.importers.flickr import plan_flickr
from sslprop.data.importers.folder import plan_folder
from sslprop.data.importers.music import plan_music
from sslprop.data.importers.vggss import plan_vggss
from sslprop.errors import SSLPropError
from sslprop.utils import atomic_write_json, check_out_folder, folder_lock

PLANNERS: dict[str, Callable[[Path, ImportOptions, ImportReport, Path], list[Job]]] = {
    "flickr": plan_flickr,
    "vggss": plan_vggss,
    "music": plan_music,
    "ave": plan_ave,
    "folder": plan_folder,
}


def _check_options(kind: str, opts: ImportOptions) -> None:
    if kind not in KINDS:
        raise SSLPropError(f"import kind {kind!r}: choose from {', '.join(KINDS)}")
    if not opts.fps > 0:
        raise SSLPropError(f"--fps {opts.fps}: must be positive")
    if opts.max_samples is not None and opts.max_samples < 1:
        raise SSLPropError(f"--max-samples {opts.max_samples}: must be at least 1")
    if opts.split not in (None, "train", "test"):
        raise SSLPropError(f"--split {opts.split}: choose train or test")
    if opts.audio_seconds is not None and opts.audio_seconds < 0:
        raise SSLPropError(f"--audio-seconds {opts.audio_seconds}: must be >= 0 (0 keeps the whole track)")
    if opts.image_format not in ("jpg", "png"):
        raise SSLPropError(f"--image-format {opts.image_format}: choose jpg or png")
    if opts.workers < 1:
        raise SSLPropError(f"--workers {opts.workers}: must be at least 1")
    if opts.max_frame_side is not None and opts.max_frame_side != 0 and opts.max_frame_side < opts.min_frame_size:
        raise SSLPropError(f"--max-frame-side {opts.max_frame_side}: must be 0 (full size) or at least --min-frame-size {opts.min_frame_size}")


def plan(kind: str, src: str | os.PathLike, out: str | os.PathLike, opts: ImportOptions, report: ImportReport) -> list[Job]:
    """The jobs of an import (annotation files only; no media decoded), filtered by `ids` and `max_samples`."""
    src_p = Path(src)
    if not src_p.exists():
        raise SSLPropError(f"{src_p}: source not found")
    jobs = PLANNERS[kind](src_p, opts, report, Path(out))
    if opts.ids:
        keep = set(read_id_list(opts.ids))
        jobs = [j for j in jobs if j.id in keep or j.video_id in keep]
    if opts.max_samples is not None:
        jobs = jobs[: opts.max_samples]
    return jobs


def _iter_results(jobs: list[Job], out: Path, opts: ImportOptions) -> Iterator[tuple[Sample | None, Skipped | None, bool]]:
    if opts.workers == 1:
        for job in jobs:
            yield run_job(job, out, opts)
        return
    with ThreadPoolExecutor(max_workers=opts.workers) as pool:
        yield from pool.map(lambda j: run_job(j, out, opts), jobs)


def import_dataset(kind: str, src: str | os.PathLike, out: str | os.PathLike, opts: ImportOptions | None = None, progress: bool = True) -> ImportReport:
    """Import data set `src` of `kind` into folder `out`; return the report (also written to out/import_report.json).

    Samples whose media fail are skipped and listed in the report; a source that is not
    the expected layout at all raises `SSLPropError`. The manifest and dataset.json are
    written last, so an interrupted import leaves no manifest of a half-written set. `out` is
    locked while the import runs (`utils.folder_lock`): a second import into it is refused.
    """
    opts = opts or ImportOptions()
    _check_options(kind, opts)
    if opts.audio_seconds is None:
        opts = replace(opts, audio_seconds=DEFAULT_AUDIO_SECONDS[kind])
    if opts.max_frame_side is None:
        opts = replace(opts, max_frame_side=DEFAULT_MAX_FRAME_SIDE[kind])
    check_out_folder(out)
    with folder_lock(out, "import"):
        return _import(kind, src, Path(out), opts, progress)


def _import(kind: str, src: str | os.PathLike, out_p: Path, opts: ImportOptions, progress: bool) -> ImportReport:
    src_p = Path(src)
    report = ImportReport(kind=kind, source=str(src_p.resolve()), out=str(out_p))
    jobs = plan(kind, src_p, out_p, opts, report)
    report.planned = len(jobs)
    out_p.mkdir(parents=True, exist_ok=True)
    samples = []
    bar = tqdm(total=len(jobs), desc=f"import {kind}", unit="sample", disable=not progress)
    for sample, skipped, reused in _iter_results(jobs, out_p, opts):
        if sample is not None:
            samples.append(sample)
            report.written += 1
            report.reused += int(reused)
        else:
            assert skipped is not None
            report.skipped.append(skipped)
        bar.update(1)
    bar.close()
    atomic_write_json(out_p / REPORT, report.to_dict())
    info = {
        "name": out_p.name,
        "source": {"importer": kind, "path": str(src_p.resolve()), "media": str(Path(opts.media).resolve()) if opts.media else None},
        "options": {k: v for k, v in asdict(opts).items() if k != "workers"},
        "notes": f"imported by `python -m sslprop import {kind}`; {len(report.skipped)} samples skipped (see {REPORT})",
    }
    if kind in GT_RULES:
        info["gt_rule"] = GT_RULES[kind]
    write_manifest(out_p, samples, info)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `python -m sslprop import`."""
    parser.add_argument("kind", choices=KINDS, help="which data set SRC holds")
    parser.add_argument("src", help="the data set as distributed (a folder, or the annotation file itself)")
    parser.add_argument("--out", required=True, help="folder to write the sslprop data set into")
    parser.add_argument("--media", default=None, help="folder holding videos/frames/audio when not beside the annotations")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second sampled from videos (ave, folder; default 1)")
    parser.add_argument("--max-samples", type=positive_int, default=None, help="import at most this many samples (the first ones)")
    parser.add_argument("--split", choices=("train", "test"), default=None, help="put every sample in this split (default: per data set)")
    parser.add_argument("--ids", default=None, help="keep only the ids listed in this file (first column; e.g. flickr_test.csv)")
    parser.add_argument(
        "--audio-seconds", type=float, default=None,
        help="seconds of audio kept around the frames (0: whole track; default: whole track, MUSIC 3 s)",
    )
    parser.add_argument("--image-format", choices=("jpg", "png"), default="jpg", help="frame file format (jpg at quality 95, or png)")
    parser.add_argument("--min-frame-size", type=positive_int, default=DataConfig().min_frame_size, help="skip frames smaller than this on either side (px)")
    parser.add_argument("--workers", type=positive_int, default=1, help="samples decoded in parallel (threads)")
    parser.add_argument("--max-frame-side", type=nonnegative_int, default=None,
                        help="store frames with their longer side at most this (px; 0: full size; default 224, flickr its 256 x 256)")


def main(args: argparse.Namespace) -> int:
    """Run the import; print a one-line summary. Exit status 0 when at least one sample was written, else 1."""
    opts = ImportOptions(
        fps=args.fps,
        max_samples=args.max_samples,
        split=args.split,
        audio_seconds=args.audio_seconds,
        image_format=args.image_format,
        min_frame_size=args.min_frame_size,
        workers=args.workers,
        media=args.media,
        ids=args.ids,
        max_frame_side=args.max_frame_side,
    )
    report = import_dataset(args.kind, args.src, args.out, opts, progress=True)
    print(report.summary())
    return 0 if report.written else 1
