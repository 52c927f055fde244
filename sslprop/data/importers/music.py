"""MUSIC (Zhao et al. 2018): solo and duet videos with DSOL's box annotations -> sslprop jobs."""

from __future__ import annotations

import re
from pathlib import Path

from sslprop.data.annotations import read_music
from sslprop.data.importers.common import (
    ANNOTATION,
    DEFAULT_SPLIT,
    MISSING,
    FrameAnn,
    ImportOptions,
    ImportReport,
    Job,
    NormBox,
    index_media,
    media_root,
    problem_lines,
    safe_name,
)
from sslprop.errors import SSLPropError

# DSOL's MUSIC category ids (eval.py / test_stage_two.py `duetkeys`): the detector's classes.
MUSIC_CATEGORIES = {1: "cello", 3: "acoustic_guitar", 8: "saxophone", 10: "trumpet", 11: "violin", 12: "flute", 13: "accordion"}


def _music_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    names = ("solotest.json", "duettest.json", "music_solotest.json", "music_duettest.json")
    found = [src / n for n in names if (src / n).is_file()]
    if not found:
        raise SSLPropError(f"{src}: no solotest.json or duettest.json here (expected DSOL's MUSIC test boxes with the videos)")
    return found


def plan_music(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per annotated frame of DSOL's solotest.json / duettest.json (a folder may hold both).

    A key ``<video>/frame_<s>/<i>.jpg`` names frame number i (0-based, decode order) of
    ``<video>.mp4``, as DSOL's cut_videos.py extracted it. With the video under the media
    folder the frame is decoded at (i + 0.5) / fps and the audio is the video's track (or
    ``<video>.flac`` / ``.wav`` beside it); without it, DSOL's extracted frame
    ``video_frames/<key>`` (or ``<key>``) is used with the audio file, at time s + 0.5 (DSOL
    pairs frame_<s> with audio second s). Each box (normbox x, y, w, h) becomes a sounding
    object named by DSOL's category list and one annotator's box. Entries without a box are
    skipped and reported (DSOL's evaluation skips them too). Jobs are ordered by video, then frame.
    """

    files = _music_files(src)
    root = media_root(src, opts)
    index = index_media(root, exclude=[out])
    split = opts.split or DEFAULT_SPLIT["music"]
    keyed = []
    for f in files:
        anns, problems = read_music(f)
        report.warnings.extend(problem_lines(p for p in problems if p.kind != "no_boxes"))
        subset = "duet" if "duet" in f.name else "solo" if "solo" in f.name else f.stem
        keyed.extend((f, subset, key, ann) for key, ann in anns.items())
    parsed = []
    for f, subset, key, ann in keyed:
        m = re.fullmatch(r"(?P<video>[^/]+)/frame_(?P<sec>\d+)/(?P<idx>\d+)\.\w+", key)
        parsed.append(((m.group("video"), int(m.group("idx"))) if m else (key, -1), f, subset, key, ann, m))
    parsed.sort(key=lambda t: t[0])
    jobs = []
    for (video, idx), f, subset, key, ann, m in parsed:
        sid = f"{video}_f{idx:05d}" if m else safe_name(key)
        job = Job(id=sid, video_id=video, split=split, media_key=f"{safe_name(video)}/{idx:05d}", meta={"key": key, "subset": subset, "annotation": f.name})
        if m is None:
            job.problem = (ANNOTATION, f"{f} entry {key!r}: key is not <video>/frame_<s>/<i>.jpg")
            jobs.append(job)
            continue
        if not ann.boxes:
            job.problem = (ANNOTATION, f"{f} entry {key!r}: no box (DSOL's evaluation skips it)")
            jobs.append(job)
            continue
        boxes: list[NormBox] = [(b.normbox[0], b.normbox[1], b.normbox[0] + b.normbox[2], b.normbox[1] + b.normbox[3]) for b in ann.boxes]
        names = [MUSIC_CATEGORIES.get(b.category, str(b.category)) for b in ann.boxes]
        job.annotations = [FrameAnn(annotators=[boxes], objects=[(b, n, True) for b, n in zip(boxes, names)], onscreen=True)]
        job.classes = sorted(set(names))
        job.meta["native_size"] = [ann.width, ann.height]
        video_file = index.find("videos", video)
        audio_file = index.find("audio", video)
        still = next((p for p in (root / "video_frames" / key, root / key) if p.is_file()), None)
        if video_file is not None:
            job.video, job.audio, job.timing, job.frame_indices = video_file, audio_file, "index", [idx]
        elif still is not None:
            job.images, job.times, job.audio = [still], [int(m.group("sec")) + 0.5], audio_file or root / "audio" / f"{video}.flac"
        else:
            job.problem = (MISSING, f"{root}: no video {video}.mp4 and no extracted frame video_frames/{key}")
        jobs.append(job)
    return jobs
