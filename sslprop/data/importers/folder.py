"""A folder of one's own videos (or image + audio pairs), no annotation -> sslprop jobs (split train unless --split says otherwise)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sslprop.data.importers.common import (
    DEFAULT_SPLIT,
    VIDEO_EXTS,
    ImportOptions,
    ImportReport,
    Job,
    index_media,
    safe_name,
)
from sslprop.errors import SSLPropError


def plan_folder(src: Path, opts: ImportOptions, report: ImportReport, out: Path) -> list[Job]:
    """One unannotated job per video file under SRC (mp4, webm, avi, mkv, mov; subfolders too), frames at `fps`."""
    if not src.is_dir():
        raise SSLPropError(f"{src}: not a folder (`import folder` reads every video under a folder)")
    index = index_media(src, exclude=[out])
    videos = sorted((p for paths in index.videos.values() for p in paths), key=lambda p: str(p.relative_to(src)))
    if not videos:
        raise SSLPropError(f"{src}: no video files here ({', '.join(VIDEO_EXTS)})")
    jobs, used = [], set()
    for p in videos:
        rel = p.relative_to(src)
        key = safe_name("_".join(rel.with_suffix("").parts))
        if key in used:  # two files differing only in extension or unsafe characters
            key = f"{key}_{hashlib.sha1(str(rel).encode()).hexdigest()[:8]}"
        used.add(key)
        jobs.append(Job(id=key, video_id=key, split=opts.split or DEFAULT_SPLIT["folder"], media_key=key, video=p, timing="fps", meta={"file": str(rel)}))
    return jobs
