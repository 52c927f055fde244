"""VGG-SS (Chen et al. 2021): VGGSound clips with the VGG-SS boxes (normalised, one or more per clip) -> sslprop jobs."""

from __future__ import annotations

import re
from pathlib import Path

from sslprop.data.annotations import read_vggss
from sslprop.data.importers.common import (
    DEFAULT_SPLIT,
    MISSING,
    FrameAnn,
    ImportOptions,
    ImportReport,
    Job,
    clamp_box,
    index_media,
    media_root,
    problem_lines,
    safe_name,
)
from sslprop.errors import SSLPropError


def vggsound_clip_name(file: str) -> str | None:
    """VGG-SS ``<ytid>_<start>`` (start in s, six digits) -> the ``<ytid>_<start ms>_<end ms>`` name of its 10 s clip."""
    m = re.fullmatch(r"(.{11})_(\d+)", file)
    if m is None:
        return None
    start = int(m.group(2))
    return f"{m.group(1)}_{start * 1000}_{(start + 10) * 1000}"


def plan_vggss(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per vggss.json entry: the annotated middle frame of the 10 s clip and its audio.

    SRC is a folder holding vggss.json (or the file itself). Media, found by file name under
    the media folder: LVS's pre-extracted ``frames/<file>.jpg`` + ``audio/<file>.wav`` (used
    when both exist; the frame sits in the middle of the audio), else the clip video
    ``<file>.mp4`` or ``<ytid>_<start ms>_<end ms>.mp4`` (any video extension), whose middle
    frame (duration / 2) is taken, as VGG-SS annotates the centre frame. Boxes are clamped
    to [0, 1] as the reference does (max(v, 0)); a box left inverted by a garbage value is
    dropped, as it adds nothing to the reference's ground truth, and reported.
    """

    ann_file = src / "vggss.json" if src.is_dir() else src
    if not ann_file.is_file():
        raise SSLPropError(f"{src}: no vggss.json here (expected VGG-SS: vggss.json with frames/audio or videos)")
    anns, problems = read_vggss(ann_file)
    report.warnings.extend(problem_lines(problems))
    index = index_media(media_root(src, opts), exclude=[out])
    split = opts.split or DEFAULT_SPLIT["vggss"]
    jobs = []
    for fid, ann in anns.items():
        m = re.fullmatch(r"(.{11})_(\d+)", fid)
        job = Job(id=fid, video_id=m.group(1) if m else fid, split=split, media_key=safe_name(fid),
                  classes=[ann.label] if ann.label else [], meta={"class": ann.label})
        boxes = []
        for j, b in enumerate(ann.boxes):
            c = clamp_box(b)
            if c is None:
                report.warnings.append(f"{ann_file.name} {fid} box {j}: {list(b)} is empty after clamping to [0, 1]; dropped")
            else:
                boxes.append(c)
        if not boxes:
            report.warnings.append(f"{ann_file.name} {fid}: no box left; kept with one annotator and no box (the reference scores it 0)")
        job.annotations = [FrameAnn(annotators=[boxes], onscreen=True)]
        image, audio = index.find("images", fid), index.find("audio", fid)
        clip = vggsound_clip_name(fid)
        video = index.find("videos", fid, *([clip] if clip else []))
        if image is not None and audio is not None:
            job.images, job.audio = [image], audio
        elif video is not None:
            job.video, job.timing = video, "middle"
        else:
            job.problem = (MISSING, f"{index.root}: no frames/{fid}.jpg + audio/{fid}.wav and no video {fid}.mp4" + (f" or {clip}.mp4" if clip else ""))
        jobs.append(job)
    return jobs
