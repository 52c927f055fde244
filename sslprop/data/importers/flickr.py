"""Flickr-SoundNet (Senocak et al. 2018): frames, their 10 s audio and the annotators' XML boxes -> sslprop jobs."""

from __future__ import annotations

from pathlib import Path

from sslprop.data.annotations import FLICKR_FRAME, read_flickr_xml
from sslprop.data.importers.common import (
    ANNOTATION,
    DEFAULT_SPLIT,
    FrameAnn,
    ImportOptions,
    ImportReport,
    Job,
    NormBox,
    clamp_box,
    find_dir,
    index_media,
    media_root,
    problem_lines,
    safe_name,
)
from sslprop.errors import SSLPropError


def plan_flickr(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One job per ``Annotations/<id>.xml``: the still frame ``<id>.jpg`` and the audio ``<id>.wav`` (or mp3, flac).

    SRC is the Flickr-SoundNet test folder; the frame and audio are found by file name
    anywhere under the media folder (shallowest first), which covers LVS / EZ-VSL's
    ``frames/<id>.jpg`` + ``audio/<id>.wav`` and the original ``Data/.../<id>.jpg`` +
    ``<id>.wav`` (or .mp3). The frame is stored resized to 256 x 256 so that the XML's pixels
    (of a 256 x 256 frame) are pixels of the stored frame; its time is the middle of the
    stored audio. Each box is stored as one annotator: the XML does not name its annotators
    (the index of the root child holding each box is kept in meta["box_groups"]), and the
    reference consensus sums every box, halves and clips at 1 whatever the grouping.
    """

    ann_dir = find_dir(src, "Annotations") if src.is_dir() else None
    if ann_dir is None:
        raise SSLPropError(f"{src}: no Annotations/ folder here (expected Flickr-SoundNet: Annotations/<id>.xml with frames and audio)")
    files = sorted(p for p in ann_dir.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
    if not files:
        raise SSLPropError(f"{ann_dir}: no <id>.xml files in this folder")
    index = index_media(media_root(src, opts), exclude=[out, ann_dir])
    split = opts.split or DEFAULT_SPLIT["flickr"]
    size = FLICKR_FRAME
    jobs = []
    for f in files:
        sid = f.name.split(".")[0]
        job = Job(id=sid, video_id=sid, split=split, media_key=safe_name(sid), resize=(size, size), meta={"annotation": f.name})
        try:
            ann, problems = read_flickr_xml(f)
        except SSLPropError as e:
            job.problem = (ANNOTATION, str(e))
            jobs.append(job)
            continue
        report.warnings.extend(problem_lines(problems))
        annotators: list[list[NormBox]] = []
        for box in ann.boxes:
            c = clamp_box(tuple(v / size for v in box))
            if c is None:
                report.warnings.append(f"{f}: box {list(box)} is inverted (empty in the reference's slicing); dropped")
            else:
                annotators.append([c])
        if not annotators:
            report.warnings.append(f"{f}: no usable box; kept with one annotator and no box (the reference scores it 0)")
        job.annotations = [FrameAnn(annotators=annotators or [[]], onscreen=True)]
        job.meta["box_groups"] = list(ann.groups)
        image = index.find("images", sid)
        job.images = [image or index.root / "frames" / f"{sid}.jpg"]
        job.audio = index.find("audio", sid) or index.root / "audio" / f"{sid}.wav"
        jobs.append(job)
    return jobs
