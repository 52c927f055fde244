"""AVE (Tian et al. 2018): 10 s clips with per-second event labels -> sslprop jobs (on/off-screen frames)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sslprop.data.importers.common import (
    DEFAULT_SPLIT,
    ImportOptions,
    ImportReport,
    Job,
    index_media,
    media_root,
    safe_name,
)
from sslprop.errors import SSLPropError

AVE_CLIP_SECONDS = 10.0  # every AVE video is a 10 s clip


@dataclass(frozen=True)
class AveRow:
    """One row of AVE's Annotations.txt: an audio-visual event [start, end) s in a 10 s video."""

    category: str
    video_id: str
    quality: str
    start: int
    end: int
    line: int


def read_ave_annotations(path: str | os.PathLike) -> tuple[list[AveRow], list[str]]:
    """Parse AVE's ``Category&VideoID&Quality&StartTime&EndTime`` rows (a header line is optional).

    Returns the rows that parse and one line per problem (``<path>:<line>: ...``): a row
    without five fields, non-integer times, times outside [0, 10] or end < start. A
    zero-length event (start == end) parses; its video has no on-screen frame.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SSLPropError(f"{p}: cannot read AVE annotations ({type(e).__name__})") from None
    rows, problems = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [x.strip() for x in line.split("&")]
        if lineno == 1 and parts[:2] == ["Category", "VideoID"]:
            continue
        if len(parts) != 5:
            problems.append(f"{p}:{lineno}: expected 5 '&'-separated fields, got {len(parts)}")
            continue
        try:
            start, end = int(parts[3]), int(parts[4])
        except ValueError:
            problems.append(f"{p}:{lineno}: start/end times {parts[3]!r}, {parts[4]!r} are not integers")
            continue
        if not (0 <= start <= end <= AVE_CLIP_SECONDS):
            problems.append(f"{p}:{lineno}: event [{start}, {end}) is not inside the 10 s clip")
            continue
        rows.append(AveRow(parts[0], parts[1], parts[2], start, end, lineno))
    return rows, problems


def _ave_split_files(folder: Path) -> dict[tuple[str, int, int], str]:
    """(VideoID, start, end) -> split from AVE's trainSet/valSet/testSet.txt where they exist (val -> train)."""
    out: dict[tuple[str, int, int], str] = {}
    for name, split in (("trainSet.txt", "train"), ("valSet.txt", "train"), ("testSet.txt", "test")):
        if (folder / name).is_file():
            rows, _ = read_ave_annotations(folder / name)
            out.update({(r.video_id, r.start, r.end): split for r in rows})
    return out


def plan_ave(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per row of Annotations.txt: frames of the video at `fps`, on-screen inside the event.

    SRC is the AVE folder (holding Annotations.txt, or annotations.txt) or the file itself;
    videos are `<VideoID>.mp4` anywhere under the media folder (AVE ships them in AVE/).
    A video annotated by several rows (AVE has 45 such) gives one sample per row, ids
    `<VideoID>`, `<VideoID>_2`, ...; they share the media files.
    """
    ann = src
    if src.is_dir():
        ann = next((src / n for n in ("Annotations.txt", "annotations.txt") if (src / n).is_file()), src / "Annotations.txt")
    if not ann.is_file():
        raise SSLPropError(f"{src}: no Annotations.txt here (expected AVE: Annotations.txt and AVE/<VideoID>.mp4)")
    rows, problems = read_ave_annotations(ann)
    if not rows and problems:
        raise SSLPropError(f"{ann}: no row parses as Category&VideoID&Quality&StartTime&EndTime ({problems[0]})")
    report.warnings.extend(problems)
    splits = _ave_split_files(ann.parent)
    index = index_media(media_root(src, opts), exclude=[out])
    seen: dict[str, int] = {}
    jobs = []
    for r in rows:
        seen[r.video_id] = seen.get(r.video_id, 0) + 1
        sid = r.video_id if seen[r.video_id] == 1 else f"{r.video_id}_{seen[r.video_id]}"
        if seen[r.video_id] == 2:
            report.warnings.append(f"{ann}:{r.line}: video {r.video_id} is annotated by more than one row; one sample per row")
        if r.start == r.end:
            report.warnings.append(f"{ann}:{r.line}: zero-length event [{r.start}, {r.end}) in {r.video_id}: every frame is off-screen")
        split = opts.split or splits.get((r.video_id, r.start, r.end), DEFAULT_SPLIT["ave"])
        jobs.append(
            Job(
                id=sid,
                video_id=r.video_id,
                split=split,
                media_key=safe_name(r.video_id),
                video=index.find("videos", r.video_id) or index.root / "AVE" / f"{r.video_id}.mp4",
                timing="fps",
                event=(float(r.start), float(r.end)),
                classes=[r.category],
                meta={"category": r.category, "event": [r.start, r.end], "quality": r.quality, "row": r.line},
            )
        )
    return jobs
