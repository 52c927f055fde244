"""`python -m sslprop localize VIDEO ... --out DIR`: the sounding object in your own videos, box by box over time.

No import, no proposals command, no annotation: each video is decoded (any size PyAV reads),
sampled at `--fps`, every sampled frame localised with the audio clip centred on it (the video's
own soundtrack, or `--audio FILE` to swap it), and per video ``DIR/<video name>/`` receives:

    boxes.json     per frame: time, the best box with d_on, the top K with d_k, the on/off-screen
                   decisions (d_on, m_on, their OR) and the two best non-overlapping boxes; boxes in
                   the video's own pixels (x1, y1, x2, y2)
    coco.json      the top K of every frame as COCO detection results (image_id = frame index,
                   bbox = x, y, w, h, category 1 "sound source"), with the frame index -> time table
    annotated.mp4  the sampled frames with the best box, its d_on and an on/off-screen mark, and the
                   soundtrack that was localised
    timeline.png   d_on and the two tracked boxes' confidences over time (the paper's Figs. 3 and 4;
                   the tracks, `box_tracks`, are also in boxes.json)

Without `--run` the shipped checkpoint is used (`sslprop/weights/ours_scenes.pt`, card beside it):
the cpu profile's main `ours` run of `make reproduce`. It knows the embedded benchmark's 72 object
classes on photo backgrounds, not real-world sound sources: on real videos its boxes show what the
method does, not what a model trained on real data would find. A run trained with `sslprop train`
(either profile, e.g. the paper's VGG16 + VGGish on a GPU) works with the same command.

Frames are searched for proposals with their longer side at `--max-side` (default 224,
`sslprop.data.proposals.SEARCH_SIDE`: where Selective Search gives bags of the paper's size, hundreds of
proposals, on real photos) and the boxes mapped back to the video's pixels, so a 1024 px video costs
about what a stored 224 px frame does. m_on needs a threshold: with several videos it is calibrated on
them as `sslprop predict` does; with one, the run's own (`m_on_threshold` of the shipped card or of
`--m-threshold`) or none, and then the OR is d_on alone (boxes.json says which).

`--fps` above a video's own frame rate is capped at that rate (one line says so), and frames past the
end of the sound are localised with silence (one line says how many). A video that cannot be read
does not stop the others: their outputs are written, each bad one is named on its own line, and the
command ends with exit status 2 (`VideoFailures`).
"""

from __future__ import annotations

import argparse
import fractions
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from matplotlib.figure import Figure
from torchvision.ops import box_iou
from tqdm.auto import tqdm

from sslprop.argtypes import positive_int
from sslprop.data.audio import audio_patch, clip_at, load_audio
from sslprop.data.proposals import SEARCH_SIDE, selective_search
from sslprop.data.video import aligned_audio, frame_times, probe_video, read_frames, write_video
from sslprop.engine.checkpoint import load_run
from sslprop.errors import SSLPropError
from sslprop.models.inference import D_ON_THRESHOLD, calibrate_m_on, onscreen_decisions
from sslprop.models.losses import common_space
from sslprop.models.weights import WEIGHTS_DIR, card_path
from sslprop.ops.boxes import cap_proposals, map_box, rescale_boxes, two_sources
from sslprop.utils import atomic_write_bytes, atomic_write_json, resolve_device

SHIPPED_RUN = "ours_scenes.pt"  # in sslprop/weights/, with ours_scenes.json (its card)
TOP_K_KEPT = 5  # boxes per frame written to boxes.json's "top" and to coco.json
RESUME = "the outputs written so far are kept; run the same command again (localize starts over)"


# --------------------------------------------------------------------------------------- the model


def shipped_run() -> Path:
    """The shipped checkpoint (the cpu profile's main `ours` run), or a one-line error naming the missing file."""

    path = WEIGHTS_DIR / SHIPPED_RUN
    if not path.is_file():
        raise SSLPropError(f"{path}: the shipped checkpoint is missing (reinstall sslprop, or pass --run RUN)")
    return path


def load_model(run: str | os.PathLike | None, device: torch.device, log: Callable[[str], None] = lambda m: None):
    """(method, model in eval mode, config, card or {}) of a run folder, an exported file, or the shipped checkpoint."""

    path = shipped_run() if run is None else Path(run)
    if not path.exists():
        raise SSLPropError(f"{path}: no run folder or exported checkpoint here")
    method, model, cfg, _ = load_run(path, device, log)
    card_file = card_path(path)
    card = json.loads(card_file.read_text(encoding="utf-8")) if path.is_file() and card_file.is_file() else {}
    return method, model, cfg, card


# --------------------------------------------------------------------------------------- one video


@dataclass
class Track:
    """What the model said about the sampled frames of one video."""

    video: str
    width: int
    height: int
    times: list[float]
    frames: list[np.ndarray]  # (H, W, 3) uint8 RGB, the video's own size
    audio: torch.Tensor  # float32 Tensor[T] at 16 kHz: the soundtrack that was localised
    boxes: list[np.ndarray] = field(default_factory=list)  # per frame (K, 5): x1, y1, x2, y2, d_k, best first
    d_on: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)  # |f_v - f_s| in the loss's space (m_on)
    f_v: list[torch.Tensor] = field(default_factory=list)  # per frame Tensor[d], in the loss's space
    f_s: list[torch.Tensor] = field(default_factory=list)
    fps: float = 2.0  # the rate the frames were sampled at (--fps, at most the video's own)


def _frames_and_audio(path: Path, fps: float, audio: str | os.PathLike | None, sample_rate: int,
                      log: Callable[[str], None] = lambda m: None):
    """(info, times, frames, waveform, rate): `fps` is capped at the video's own rate; a sound shorter than the
    picture is said in one line."""

    info = probe_video(path)
    if audio is None and not info.has_audio:
        raise SSLPropError(f"{path}: no audio track (give the sound with --audio FILE)")
    if fps > info.fps:  # more would only repeat frames
        log(f"{path}: --fps {fps:g} is above the video's own {info.fps:g} fps: sampling at {info.fps:g} fps")
        fps = info.fps
    times = frame_times(info.duration, fps)
    frames = read_frames(path, times)
    wave = load_audio(audio, sample_rate) if audio is not None else aligned_audio(path, sample_rate)
    heard = len(wave) / sample_rate
    silent = sum(t >= heard for t in times)
    if silent:
        log(f"{path}: the sound{f' ({audio})' if audio is not None else ''} ends at {heard:.2f} s, the picture at "
            f"{info.duration:.2f} s: the last {silent} of {len(times)} frames are localised with silence")
    return info, times, frames, wave, fps


def _batch(frames: Sequence[np.ndarray], patches: Sequence[torch.Tensor], proposals: Sequence[torch.Tensor],
           size: int, videos: Sequence[str]) -> dict[str, Any]:
    """Frames as a collated batch of one-frame clips (what `SSLDataset` + `collate` give)."""

    x = [torch.from_numpy(cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)).permute(2, 0, 1).float() / 255.0
         for f in frames]
    n = len(frames)
    return {"frames": torch.stack(x)[:, None], "audio": torch.stack(list(patches))[:, None], "proposals": list(proposals),
            "index": torch.arange(n), "keys": [str(i) for i in range(n)], "sample_id": list(videos), "video_id": list(videos)}


@dataclass
class FrameResult:
    """One localised frame: boxes (K, 5) x1, y1, x2, y2, d_k in the frame's pixels, best first; d_on; f_v, f_s or None."""

    boxes: np.ndarray
    d_on: float
    f_v: torch.Tensor | None
    f_s: torch.Tensor | None


def frame_proposals(frame: np.ndarray, cfg: Any, max_side: int | None = None) -> torch.Tensor:
    """Selective Search boxes of one frame (its longer side searched at `max_side`, default `SEARCH_SIDE`), in its pixels."""

    boxes = torch.from_numpy(selective_search(frame, max_side=max_side or SEARCH_SIDE))
    return cap_proposals(boxes, cfg.model.max_proposals) if len(boxes) else boxes


def localize_frames(method: Any, model: torch.nn.Module, cfg: Any, frames: Sequence[np.ndarray], waves: Sequence[torch.Tensor],
                    times: Sequence[float], proposals: Sequence[torch.Tensor], videos: Sequence[str]) -> list[FrameResult]:
    """Run `model` on frames, frame i with the clip of `waves[i]` centred on `times[i]` and its `proposals[i]`."""

    d, S = cfg.data, cfg.data.frame_size
    patches = [audio_patch(clip_at(w, d.sample_rate, t, d.clip_seconds), d.sample_rate, d.audio_features, d.n_mels)
               for w, t in zip(waves, times)]
    props = [rescale_boxes(b if method.needs_proposals else torch.zeros(0, 4), f.shape[:2], (S, S)) for f, b in zip(frames, proposals)]
    inf = method.infer(model, _batch(frames, patches, props, S, videos), cfg)
    out = []
    for j, frame in enumerate(frames):
        keep = inf.mask[j].cpu()
        b, s = inf.boxes[j].cpu()[keep].float(), inf.scores[j].cpu()[keep].float()
        if len(b) == 0:  # a map-based run, or a frame without proposals: the box around the map
            b, s = map_box(inf.maps[j].cpu(), 0.5)[None], inf.maps[j].max().cpu().float()[None]
        order = torch.sort(s, descending=True, stable=True).indices
        b = rescale_boxes(b[order], (S, S), frame.shape[:2])
        fv = fs = None
        if inf.f_v is not None:
            fv = common_space(inf.f_v[j].float(), cfg.train.normalize).cpu()
            fs = common_space(inf.f_s[j].float(), cfg.train.normalize).cpu()
        d_on = float(inf.d_on[j]) if inf.d_on is not None else float(s.max())
        out.append(FrameResult(torch.cat([b, s[order, None]], dim=1).numpy(), d_on, fv, fs))
    return out


def localize_video(path: str | os.PathLike, method: Any, model: torch.nn.Module, cfg: Any, fps: float = 2.0,
                   audio: str | os.PathLike | None = None, max_side: int | None = None, batch_size: int = 16,
                   progress: bool = True, log: Callable[[str], None] = lambda m: None) -> Track:
    """Run `model` on the frames of one video sampled at `fps` (at most its own rate), each with the audio clip
    centred on it; `log` hears of a capped rate and of frames past the end of the sound."""
    path = Path(path)
    info, times, frames, wave, fps = _frames_and_audio(path, fps, audio, cfg.data.sample_rate, log)
    track = Track(path.name, info.width, info.height, times, frames, wave, fps=fps)
    bar = tqdm(total=len(frames), desc=f"localize {path.name}", disable=not progress, leave=False)
    for start in range(0, len(frames), batch_size):
        chunk = frames[start : start + batch_size]
        props = [frame_proposals(f, cfg, max_side) for f in chunk]
        for r in localize_frames(method, model, cfg, chunk, [wave] * len(chunk), times[start : start + len(chunk)], props,
                                 [path.name] * len(chunk)):
            track.boxes.append(r.boxes)
            track.d_on.append(r.d_on)
            if r.f_v is not None:
                track.distance.append(float(torch.linalg.vector_norm(r.f_v - r.f_s)))
                track.f_v.append(r.f_v)
                track.f_s.append(r.f_s)
        bar.update(len(chunk))
    bar.close()
    return track


def swap_sounds(method: Any, model: torch.nn.Module, cfg: Any, frame: np.ndarray, sounds: dict[str, torch.Tensor],
                time: float, max_side: int | None = None) -> dict[str, FrameResult]:
    """One frame localised with each of several sounds (16 kHz waveforms; the clip centred on `time`): {name: result}."""
    if not sounds:
        raise SSLPropError("swap_sounds: give at least one sound")
    props = frame_proposals(frame, cfg, max_side)
    names = list(sounds)
    results = localize_frames(method, model, cfg, [frame] * len(names), [sounds[n] for n in names], [time] * len(names),
                              [props] * len(names), names)
    return dict(zip(names, results))


# --------------------------------------------------------------------------------------- outputs


def calibrate(tracks: Sequence[Track], seed: int = 0) -> float | None:
    """The m_on threshold from several videos' frames, as `sslprop predict` calibrates it, or None with fewer than two.

    Mean of the medians of the positive distances |f_v - f_s| and of negative ones, a frame's f_v
    with the f_s of a frame of another video (drawn with `seed`); no labels are used.
    """
    if len(tracks) < 2 or any(not t.f_v for t in tracks):
        return None
    ids = [t.video + f"#{i}" for i, t in enumerate(tracks) for _ in t.f_v]
    _, threshold = calibrate_m_on(torch.stack([v for t in tracks for v in t.f_v]),
                                  torch.stack([s for t in tracks for s in t.f_s]), ids, seed)
    return threshold


def frame_decisions(track: Track, d_threshold: float, m_threshold: float | None) -> list[dict[str, Any]]:
    """Per frame, by the paper's rule (`models.inference.onscreen_decisions`): on_d = d_on > d_threshold,
    on_m = distance < m_threshold (None without a threshold: the OR is then on_d alone), on_or."""
    n = len(track.d_on)
    has_m = m_threshold is not None and bool(track.distance)
    on_m = torch.tensor(track.distance, dtype=torch.float64) < m_threshold if has_m else torch.zeros(n, dtype=torch.bool)
    dec = onscreen_decisions(torch.tensor(track.d_on, dtype=torch.float64), on_m, d_threshold)
    return [{"on_d": bool(dec["on_d"][i]), "on_m": bool(on_m[i]) if has_m else None, "on_or": bool(dec["on_or"][i])}
            for i in range(n)]


def _box(row: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in row[:4]]


def boxes_record(track: Track, run: str, d_threshold: float, m_threshold: float | None, m_source: str) -> dict[str, Any]:
    """boxes.json of one video (see the module docstring)."""

    frames = []
    for i, (t, rows, dec) in enumerate(zip(track.times, track.boxes, frame_decisions(track, d_threshold, m_threshold))):
        pick = two_sources(torch.from_numpy(rows[:, :4])) if len(rows) else []
        frames.append({
            "index": i, "time": round(t, 4),
            "best": _box(rows[0]) if len(rows) else None, "d_on": round(track.d_on[i], 6),
            "top": [_box(r) + [round(float(r[4]), 6)] for r in rows[:TOP_K_KEPT]],
            "two_sources": [_box(rows[r]) + [round(float(rows[r][4]), 6)] for r in pick],
            "distance": round(track.distance[i], 6) if track.distance else None,
            "onscreen": dec,
        })
    return {"video": track.video, "width": track.width, "height": track.height, "run": run,
            "box_format": "x1, y1, x2, y2 in the video's pixels", "d_on_threshold": d_threshold,
            "m_on_threshold": m_threshold, "m_on_threshold_from": m_source, "frames": frames,
            "tracks": box_tracks(track)}


def coco_results(track: Track) -> dict[str, Any]:
    """The top boxes of every frame as COCO detection results, with the images and the one category they refer to."""
    dets = [{"image_id": i, "category_id": 1, "bbox": [round(float(r[0]), 2), round(float(r[1]), 2),
                                                      round(float(r[2] - r[0]), 2), round(float(r[3] - r[1]), 2)],
             "score": round(float(r[4]), 6)}
            for i, rows in enumerate(track.boxes) for r in rows[:TOP_K_KEPT]]
    images = [{"id": i, "file_name": f"{track.video}@{t:.3f}s", "width": track.width, "height": track.height}
              for i, t in enumerate(track.times)]
    return {"images": images, "categories": [{"id": 1, "name": "sound source"}], "annotations": dets}


def annotate(frame: np.ndarray, rows: np.ndarray, d_on: float, onscreen: bool) -> np.ndarray:
    """The frame with the best box (orange), its d_on and an on/off-screen mark drawn on it."""

    img = np.ascontiguousarray(frame.copy())
    h, w = img.shape[:2]
    thick = max(1, round(min(h, w) / 160))
    if len(rows):
        x1, y1, x2, y2 = (int(round(v)) for v in rows[0][:4])
        cv2.rectangle(img, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), (255, 127, 14), thick)
    label = f"{'ON' if onscreen else 'OFF'}-screen  d_on {d_on:.2f}"
    scale = max(0.35, min(h, w) / 400)
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(img, (0, 0), (tw + 6, th + 8), (0, 0, 0), -1)
    cv2.putText(img, label, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (44, 160, 44) if onscreen else (200, 200, 200), 1, cv2.LINE_AA)
    return img


def box_tracks(track: Track, iou: float = 0.5, count: int = 2) -> list[dict[str, Any]]:
    """Up to `count` places the best box visits most often, each with its confidence in every frame.

    The frames' best boxes are grouped greedily (a box joins the first group whose first box it
    overlaps with IoU >= `iou`); the largest groups become tracks, placed at the median of their
    boxes. A track's confidence in a frame is the largest d_k of that frame's kept boxes that
    overlap the track's box with IoU >= `iou` (0 when none does): in a clip where two sources take
    turns (Fig. 4) the two curves should alternate, and with one source (Fig. 3) one curve carries it.
    Returns [{"box": [x1, y1, x2, y2], "frames": n best boxes in the group, "confidence": [per frame]}].
    """

    groups: list[list[np.ndarray]] = []
    for rows in track.boxes:
        if not len(rows):
            continue
        b = rows[0, :4]
        for g in groups:
            if float(box_iou(torch.tensor(b[None]), torch.tensor(g[0][None]))[0, 0]) >= iou:
                g.append(b)
                break
        else:
            groups.append([b])
    groups.sort(key=len, reverse=True)
    out = []
    for g in groups[:count]:
        box = np.median(np.stack(g), axis=0)
        conf = []
        for rows in track.boxes:
            if not len(rows):
                conf.append(0.0)
                continue
            overlap = box_iou(torch.tensor(box[None]), torch.tensor(rows[:, :4]))[0].numpy()
            hits = rows[overlap >= iou, 4]
            conf.append(float(hits.max()) if len(hits) else 0.0)
        out.append({"box": [round(float(v), 2) for v in box], "frames": len(g), "confidence": [round(c, 6) for c in conf]})
    return out


def timeline_figure(track: Track, record: dict[str, Any]) -> Any:
    """d_on over time with its threshold, and the confidences of the (up to two) tracked boxes (the paper's Figs. 3 and 4).

    Returns a `matplotlib.figure.Figure` made without pyplot: drawing it never touches the caller's backend
    (a notebook keeps its inline figures). d_on is the thick black line underneath; a track's confidence
    equals d_on wherever its box is the best one, so the tracks are drawn on top, thinner, each with its
    own dash and marker; the legend sits below the axes, off the data.
    """

    t = [f["time"] for f in record["frames"]]
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(t, [f["d_on"] for f in record["frames"]], color="black", lw=2.6, alpha=0.45, marker="o", ms=5,
            label="d_on (best box)", zorder=2)
    for colour, style, marker, tr in zip(("#ff7f0e", "#1f77b4"), ("--", "-."), ("s", "^"), record["tracks"]):
        x1, y1, x2, y2 = (int(round(v)) for v in tr["box"])
        ax.plot(t, tr["confidence"], color=colour, ls=style, lw=1.2, marker=marker, ms=3.5, mfc="none", zorder=3,
                label=f"box ({x1}, {y1})-({x2}, {y2}), best in {tr['frames']} frames")
    ax.axhline(record["d_on_threshold"], color="grey", lw=0.8, ls=":", label=f"d_on threshold {record['d_on_threshold']}")
    off = [f["time"] for f in record["frames"] if not f["onscreen"]["on_or"]]
    if off:
        ax.scatter(off, [0.0] * len(off), marker="x", color="black", s=14, label="called off-screen", zorder=4)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("confidence", fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.tick_params(labelsize=7)
    ax.set_title(track.video, fontsize=9)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=7, frameon=False)
    return fig


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A figure as PNG bytes, stable from run to run (no software metadata, white background), as `lab.viz.save_figure`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def write_outputs(track: Track, record: dict[str, Any], out: Path, fps: float) -> dict[str, Path]:
    """The four files of one video into `out` (see the module docstring); returns their paths."""

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "boxes.json", record)
    atomic_write_json(out / "coco.json", coco_results(track))
    frames = [annotate(f, rows, d, rec["onscreen"]["on_or"])
              for f, rows, d, rec in zip(track.frames, track.boxes, track.d_on, record["frames"])]
    h, w = frames[0].shape[:2]
    frames = [f[: h - h % 2, : w - w % 2] for f in frames]  # H.264 wants even sides
    n = int(round(len(frames) / fps * 16000))
    audio = np.resize(track.audio.numpy(), n) if len(track.audio) else np.zeros(n, np.float32)
    write_video(out / "annotated.mp4", frames, audio, fps=fractions.Fraction(fps).limit_denominator(1000))
    atomic_write_bytes(out / "timeline.png", figure_png(timeline_figure(track, record)))
    return {"boxes": out / "boxes.json", "coco": out / "coco.json", "video": out / "annotated.mp4", "timeline": out / "timeline.png"}


def _out_name(path: Path, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem) or "video"
    base, k = name, 1
    while name in taken:
        k += 1
        name = f"{base}-{k}"
    taken.add(name)
    return name


class VideoFailures(SSLPropError):
    """Videos of a `localize` call that could not be localised, after the others' outputs were written.

    failures: {video as given: its one-line problem}; results: what `localize` returns for the others. With one
    video and no result the message is that video's problem.
    """

    def __init__(self, failures: dict[str, str], results: dict[str, dict[str, Any]], out: str | os.PathLike):
        self.failures, self.results = failures, results
        first = next(iter(failures.values()))
        total = len(failures) + len(results)
        super().__init__(first if total == 1 else f"{len(failures)} of {total} videos could not be localised "
                         f"(first: {first}); the outputs of the other {len(results)} are in {out}")


def localize(videos: Sequence[str | os.PathLike], out: str | os.PathLike, run: str | os.PathLike | None = None,
             fps: float = 2.0, audio: str | os.PathLike | None = None, max_side: int | None = None,
             m_threshold: float | None = None, device: str | None = None, progress: bool = True,
             log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Localise the sounding object in each video; returns {output folder name: boxes.json record}.

    A video that cannot be read does not stop the others: their outputs are written, then `VideoFailures`
    names every bad one.
    """

    if not videos:
        raise SSLPropError("localize: give at least one video")
    if not fps > 0 or not np.isfinite(fps):
        raise SSLPropError(f"--fps {fps}: must be a positive number")
    dev = resolve_device(device)
    method, model, cfg, card = load_model(run, dev)
    run_name = str(run) if run is not None else f"shipped: {SHIPPED_RUN}"
    good, tracks, failures = [], [], {}
    for v in videos:
        try:
            tracks.append(localize_video(v, method, model, cfg, fps, audio, max_side, progress=progress, log=log))
            good.append(v)
        except SSLPropError as e:
            failures[str(v)] = str(e)
    if m_threshold is not None:
        m_thr, source = float(m_threshold), "--m-threshold"
    elif (calibrated := calibrate(tracks, cfg.train.seed)) is not None:
        m_thr, source = calibrated, f"calibrated on these {len(tracks)} videos"
    elif card.get("m_on_threshold") is not None:
        m_thr, source = float(card["m_on_threshold"]), "the checkpoint's card (calibrated on its test split)"
    else:
        m_thr, source = None, "none (one video and no threshold given): the OR is d_on alone"
    results, taken = {}, set()
    out = Path(out)
    for v, track in zip(good, tracks):
        name = _out_name(Path(v), taken)
        record = boxes_record(track, run_name, D_ON_THRESHOLD, m_thr, source)
        write_outputs(track, record, out / name, track.fps)
        on = sum(f["onscreen"]["on_or"] for f in record["frames"])
        log(f"{v}: {len(track.times)} frames at {track.fps:g} fps, sounding object on-screen in {on}; "
            f"{track.width}x{track.height} boxes -> {out / name}")
        results[name] = record
    if failures:
        raise VideoFailures(failures, results, out)
    return results


# --------------------------------------------------------------------------------------- CLI


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (any format PyAV reads)")
    p.add_argument("--out", required=True, help="output folder: one subfolder per video")
    p.add_argument("--run", help="a run folder or an exported checkpoint (default: the shipped cpu-profile checkpoint)")
    p.add_argument("--fps", type=_positive_float, default=2.0, help="frames localised per second (default 2)")
    p.add_argument("--audio", help="localise with this sound instead of each video's own soundtrack")
    p.add_argument("--max-side", type=positive_int, help="longer side at which frames are searched for proposals (default 224: "
                   "bags of the paper's size, hundreds of proposals)")
    p.add_argument("--m-threshold", type=_positive_float, help="m_on threshold on |f_v - f_s| (default: calibrated on several videos, or the checkpoint's)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    try:
        localize(args.videos, args.out, args.run, args.fps, args.audio, args.max_side, args.m_threshold, args.device,
                 progress=not args.no_progress)
    except VideoFailures as e:  # one line per bad video, after the others' outputs
        for problem in e.failures.values():
            print(f"error: {problem}", file=sys.stderr)
        return 2
    return 0
