"""The presets of the embedded benchmark: one sample (or, for `listening`, one frame's samples) from its own generator.

Presets mirror the paper's data (see docs/data.md, "The embedded benchmark"):

- ``solo`` (MUSIC-solo): one sounding object and 1-3 silent distractors of other classes, all of one size range;
  1 s of audio: an excerpt of the sounding stamp's recording plus light noise.
- ``mosaic`` (MUSIC-Synthetic): a 2x2 grid of four one-object tiles of four classes; the
  audio mixes two of them with jittered gains: two sounding and two silent objects.
- ``scenes`` (Flickr-SoundNet/SSL): 2-8 objects at several scales, overlapping and partly hidden, three
  simulated annotators with jittered boxes of the sounding object, about 20% off-screen sounds
  (the audio of a class not in view: ``onscreen=False``, no annotator boxes), and a
  co-occurrence bias (each class has a preferred background and a companion object,
  written to dataset.json; `sslprop.data.synth.assets.make_bias`) for Fig. 1's pathological-bias story.
  An off-screen sound is, by default, unrelated to its scene (as audio taken from another video would be).
- ``sequences`` (AVE-style, Fig. 3/4): 8 frames at 1 fps with 8 s of audio; either one
  object whose loudness follows its apparent size (distance) and that may leave the
  view, or two objects that take turns (one sounds in the first half, the other in the
  second), or both silent under an off-screen sound; per-frame on-screen and sounding flags.
- ``listening`` (the listening test's set): each frame of `scenes` kind played with each object's sound in turn,
  silence, noise and an off-screen sound (`build_listening`).

Every sample draws from its own generator seeded by ``(seed, preset, index)``, so a
sample does not depend on ``n`` and the same command gives byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sslprop.data.format import Frame, ObjectAnn, Sample
from sslprop.data.synth.assets import Bank, make_bias, pick_background, pick_classes, pick_stamp
from sslprop.data.synth.compose import (
    Placed,
    alpha_box,
    excerpt,
    finish_audio,
    fit_height,
    jitter_box,
    loop_to,
    place,
    place_cluttered,
    render,
    render_visible,
    resize_stamp,
)
from sslprop.errors import SSLPropError

PRESETS = ("solo", "mosaic", "scenes", "sequences")  # the paper's data sets' stand-ins
LISTENING = "listening"  # the listening test's set: each frame of `scenes` kind played with each object's sound in turn
PRESET_CODE = {"solo": 1, "mosaic": 2, "scenes": 3, "sequences": 4, LISTENING: 5}  # mixed into each sample's seed
LISTEN_NOISE = 0.1  # listening: std of the white noise played as "noise" (a loud sound of no object)
SINGLE_SECONDS = 1.0  # audio of single-frame samples; the frame sits at 0.5 s, so its 0.96 s clip fits
SEQ_FRAMES = 8  # frames per `sequences` clip, one per second
SEQ_SECONDS = 8.0  # audio of a `sequences` clip
OFFSCREEN_SHARE = 0.2  # scenes whose sound comes from a class not in view
# Salience that needs the audio: sounding and silent objects are drawn from one size range, so the sounding
# one is the largest in view in about 1 / (objects in view) of the frames (`generator.salience_shares`).
SOLO_HEIGHT = (0.2, 0.5)  # solo: every object's height, a fraction of the frame (log-uniform)
MOSAIC_HEIGHT = (0.3, 0.55)  # mosaic: the object's height, a fraction of its tile (log-uniform)
SCENE_OBJECTS = (2, 8)  # scenes: objects in view, both included
SCENE_HEIGHT = (0.15, 0.55)  # scenes: every object's height, a fraction of the frame (log-uniform)
SEQ_MODES = ("distance", "turns", "offscreen")  # sequences: clip kinds (offscreen: the sound's source is not in view)
SEQ_MODE_P = (0.3, 0.3, 0.4)  # their chances: 40 % offscreen clips keep at least 30 % of a test split's frames off-screen
NUM_ANNOTATORS = 3  # scenes: simulated annotators, as in Flickr-SoundNet/SSL


@dataclass
class Built:
    """One generated sample before it is written: its manifest row, pixels, audio and masks.

    images: frame path -> uint8 array (H, W, 3), RGB
    audio:  float32 array (T,) at 16 kHz in [-1, 1]
    masks:  masks[n][j] is the bool (H, W) alpha > 0 mask of frames[n].objects[j]
    """

    sample: Sample
    images: dict[str, np.ndarray]
    audio: np.ndarray
    masks: list[list[np.ndarray]]


def _frame_path(sample_id: str, n: int, n_frames: int) -> str:
    return f"frames/{sample_id}.png" if n_frames == 1 else f"frames/{sample_id}/{n:02d}.png"


def _placed_meta(placed: list[Placed]) -> list[dict[str, Any]]:
    return [{"stamp": p.stamp.name, "height": int(p.patch.shape[0]), "flip": p.flip, "sounding": p.sounding} for p in placed]


def build_solo(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """MUSIC-solo: one sounding object and 1-3 silent distractors of other classes, all of one size range; 1 s of its sound.

    Every object (sounding or not) is drawn at SOLO_HEIGHT of the frame, so the sounding one is the largest
    in about 1 / (objects in view) of the frames: size does not give the answer away.
    """
    labels = pick_classes(rng, bank, 2 + int(rng.integers(0, 3)))
    bg, bg_meta = pick_background(rng, bank, size)
    placed: list[Placed] = []
    visible: list[np.ndarray] = []
    for i in [int(j) for j in rng.permutation(len(labels))]:  # paint order: the sounding object is hidden as often as any
        got = place_cluttered(rng, pick_stamp(rng, bank, labels[i]), size, SOLO_HEIGHT, placed, visible, i == 0,
                              tries=30 if i else 300)
        if got is not None:
            placed.append(got[0])
            visible.append(got[1])
    if not any(p.sounding for p in placed):
        raise SSLPropError(f"{sample_id}: no place for the sounding object in a frame of {size} px (use a larger --size)")
    img, objects, _ = render(bg, placed)
    for obj, shown in zip(objects, visible):
        obj.box = alpha_box(shown)
    source = next(i for i, p in enumerate(placed) if p.sounding)
    n = int(SINGLE_SECONDS * 16000)
    gain = float(rng.uniform(0.6, 1.0))
    clip, start = excerpt(placed[source].stamp.sound, n, rng)
    audio, noise, scale = finish_audio(gain * clip, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, [[list(objects[source].box)]], objects, True)
    meta = {"background": bg_meta, "objects": _placed_meta(placed), "gain": round(gain, 6), "excerpt_start": start,
            "noise_std": round(noise, 6), "scale": round(scale, 6)}
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [labels[0]], meta)
    return Built(sample, {path: img}, audio, [visible])


def build_mosaic(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """MUSIC-Synthetic: a 2x2 grid of four one-object tiles (four classes); audio mixes two of them."""
    tile = size // 2
    labels = pick_classes(rng, bank, 4)
    sounding = sorted(int(i) for i in rng.choice(4, size=2, replace=False))
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    objects, masks, tiles = [], [], []
    for t, label in enumerate(labels):
        bg, bg_meta = pick_background(rng, bank, tile)
        p = place(rng, pick_stamp(rng, bank, label), tile, MOSAIC_HEIGHT, [], t in sounding)
        assert p is not None  # the first object on an empty tile always fits
        ox, oy = (t % 2) * tile, (t // 2) * tile
        img, objs, ms = render(bg, [p], offset=(ox, oy))
        canvas[oy : oy + tile, ox : ox + tile] = img
        full = np.zeros((size, size), dtype=bool)
        full[oy : oy + tile, ox : ox + tile] = ms[0]
        objects += objs
        masks.append(full)
        tiles.append({"background": bg_meta, **_placed_meta([p])[0]})
    n = int(SINGLE_SECONDS * 16000)
    mix = np.zeros(n, dtype=np.float32)
    gains, starts = [], []
    for t in sounding:
        g = float(rng.uniform(0.5, 1.0))
        clip, start = excerpt(bank.stamps[tiles[t]["stamp"]].sound, n, rng)
        mix += np.float32(g) * clip
        gains.append(round(g, 6))
        starts.append(start)
    audio, noise, scale = finish_audio(mix, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, [[list(objects[t].box) for t in sounding]], objects, True)
    meta = {"tiles": tiles, "sounding_tiles": sounding, "gains": gains, "excerpt_starts": starts,
            "noise_std": round(noise, 6), "scale": round(scale, 6)}
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [labels[t] for t in sounding], meta)
    return Built(sample, {path: canvas}, audio, [masks])


def scene_layout(rng: np.random.Generator, bank: Bank, labels: Sequence[str], size: int, source: int | None,
                 sample_id: str, keep: int = 1) -> tuple[list[Placed], list[np.ndarray]]:
    """One stamp of each of `labels`, painted in a random order over each other (`place_cluttered`, SCENE_HEIGHT).

    `source`: the index in `labels` of the sounding object, which must find a place (None: every object is silent);
    `keep`: at least this many objects must be placed. Returns the placements in paint order and the bool (size, size)
    mask of what each still shows.
    """
    stamps = [pick_stamp(rng, bank, label) for label in labels]
    order = [int(i) for i in rng.permutation(len(labels))]  # paint order: the sounding object is hidden as often as any
    placed: list[Placed] = []
    visible: list[np.ndarray] = []
    for i in order:
        must = i == source or len(placed) + (len(order) - order.index(i)) <= keep
        got = place_cluttered(rng, stamps[i], size, SCENE_HEIGHT, placed, visible, i == source)
        if got is None and must:  # the sounding object (or one needed to keep `keep` in view) must be placed: try longer
            got = place_cluttered(rng, stamps[i], size, SCENE_HEIGHT, placed, visible, i == source, tries=300)
        if got is not None:
            placed.append(got[0])
            visible.append(got[1])
    if (source is not None and not any(p.sounding for p in placed)) or len(placed) < keep:
        raise SSLPropError(f"{sample_id}: no place for every object that must be in view in a frame of {size} px "
                           f"(use a larger --size)")
    return placed, visible


def build_scenes(rng: np.random.Generator, bank: Bank, sample_id: str, size: int, bias: dict[str, Any]) -> Built:
    """Flickr/SSL: 2-8 objects in view drawn from one size range, overlapping and partly hidden; ~20% off-screen sounds.

    The objects are painted in a random order, each over the earlier ones while every object keeps at least
    SCENE_MIN_VISIBLE of its pixels (`place_cluttered`); every box is the tight box of what the object still
    shows, and the three simulated annotators jitter the sounding object's. The sounding object is one of the
    objects in view (none in an off-screen scene, whose sound is of a class not in view), as large as any other
    on average. Every object's stamp (so its recording) is in ``meta["objects"]``; an off-screen scene's sound
    in ``meta["sound_stamp"]``. The co-occurrence bias (habitat background, companion object) as before.
    """
    onscreen = bool(rng.random() >= OFFSCREEN_SHARE)
    k = int(rng.integers(SCENE_OBJECTS[0], SCENE_OBJECTS[1] + 1))
    sound_label = pick_classes(rng, bank, 1)[0]
    if onscreen:
        labels = [sound_label]
        companion = bool(rng.random() < bias["companion_prob"])
        if companion:
            labels.append(bias["companion"][sound_label])
        labels += pick_classes(rng, bank, k - len(labels), exclude=tuple(labels))
    else:
        companion = False
        labels = pick_classes(rng, bank, k, exclude=(sound_label,))
    chance = bias["habitat_prob"] if onscreen else bias.get("offscreen_habitat_prob", bias["habitat_prob"])
    habitat = bool(rng.random() < chance)  # one draw either way: on-screen scenes do not depend on the off-screen chance
    bg, bg_meta = pick_background(rng, bank, size, bias["habitat"][sound_label] if habitat else None)
    placed, visible = scene_layout(rng, bank, labels, size, 0 if onscreen else None, sample_id)
    sound_stamp = next(p.stamp for p in placed if p.sounding) if onscreen else pick_stamp(rng, bank, sound_label)
    img, objects = render_visible(bg, placed, visible)
    sounding = [o for o in objects if o.sounding]
    annotators = [[jitter_box(rng, sounding[0].box, size)] for _ in range(NUM_ANNOTATORS)] if onscreen else []
    n = int(SINGLE_SECONDS * 16000)
    gain = float(rng.uniform(0.6, 1.0))
    clip, start = excerpt(sound_stamp.sound, n, rng)
    audio, noise, scale = finish_audio(gain * clip, rng)
    path = _frame_path(sample_id, 0, 1)
    frame = Frame(path, SINGLE_SECONDS / 2, size, size, annotators, objects, onscreen)
    meta = {
        "background": bg_meta,
        "habitat_background": habitat,
        "companion": companion,
        "drawn": len(labels),  # objects drawn for the scene; fewer are in view when one found no place
        "objects": [{**m, "visible": round(float(v.sum()) / float((p.patch[..., 3] > 0).sum()), 4)}
                    for m, v, p in zip(_placed_meta(placed), visible, placed)],
        "sound_stamp": sound_stamp.name,
        "gain": round(gain, 6),
        "excerpt_start": start,
        "noise_std": round(noise, 6),
        "scale": round(scale, 6),
    }
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", [frame], [sound_label], meta)
    return Built(sample, {path: img}, audio, [visible])


def _interp(a: float, b: float, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t


def build_sequences(rng: np.random.Generator, bank: Bank, sample_id: str, size: int) -> Built:
    """AVE-style clips of 8 frames at 1 fps and 8 s of audio.

    ``distance`` (Fig. 3): one object recedes, approaches, or goes away and comes back; its
    amplitude is proportional to its apparent height; in some clips it is out of view for
    the farthest frames (still audible: on-screen False). ``turns`` (Fig. 4): two objects
    in view, the first sounds for the first 4 s, the second for the last 4 s. ``offscreen``
    (Table 1): the same two objects in view, both silent, and 8 s of a third class's sound
    (every frame on-screen False). Their chances are `SEQ_MODE_P`.
    """
    sr, N = 16000, SEQ_FRAMES
    total = int(SEQ_SECONDS * sr)
    times = np.arange(N) + 0.5  # frame n is centred in second n
    t = np.linspace(0.0, 1.0, N)
    mode = SEQ_MODES[int(rng.choice(len(SEQ_MODES), p=SEQ_MODE_P))]
    bg, bg_meta = pick_background(rng, bank, size)
    frames_placed: list[list[Placed]] = []
    onscreen = [True] * N
    meta: dict[str, Any] = {"mode": mode, "background": bg_meta}
    if mode == "distance":
        labels = pick_classes(rng, bank, 2)
        stamp = pick_stamp(rng, bank, labels[0])
        path_kind = ["recede", "approach", "away_and_back"][int(rng.integers(0, 3))]
        near, far = rng.uniform(0.55, 0.75), rng.uniform(0.15, 0.25)
        if path_kind == "recede":
            hf = _interp(near, far, t)
        elif path_kind == "approach":
            hf = _interp(far, near, t)
        else:
            hf = far + (near - far) * np.abs(2.0 * t - 1.0)
        flip = bool(rng.random() < 0.5)
        x_from, x_to = rng.uniform(0.0, 1.0, size=2)
        ground, horizon = rng.uniform(0.8, 0.98) * size, rng.uniform(0.45, 0.6) * size
        hidden = path_kind == "away_and_back" and bool(rng.random() < 0.4)
        far_frames = set(np.nonzero(hf <= np.sort(hf)[1])[0].tolist()) if hidden else set()
        moving: list[Placed | None] = []
        for n in range(N):
            if n in far_frames:
                onscreen[n] = False
                moving.append(None)
                continue
            height = fit_height(stamp, hf[n] * size, 0.95 * size)
            patch = resize_stamp(stamp.image, height, flip)
            h, w = patch.shape[:2]
            bottom = horizon + (ground - horizon) * hf[n] / near
            y = int(np.clip(round(bottom - h), 0, size - h))
            x = int(round(_interp(x_from, x_to, t[n]) * (size - w)))
            moving.append(Placed(stamp, patch, x, y, flip, True))
        distractor = None
        if rng.random() < 0.5:  # a silent object out of the moving one's way (none if there is no room)
            path_boxes = [[m.x, m.y, m.x + m.patch.shape[1], m.y + m.patch.shape[0]] for m in moving if m is not None]
            distractor = place(rng, pick_stamp(rng, bank, labels[1]), size, (0.2, 0.35), path_boxes, False)
        for m in moving:
            frames_placed.append([p for p in (distractor, m) if p is not None])
        gains = hf / near  # amplitude proportional to apparent height (1 / distance)
        loud = loop_to(stamp.sound, total, rng)[:total]
        envelope = np.interp(np.arange(total) / sr, times, gains).astype(np.float32)
        mix = loud * envelope
        classes = [labels[0]]
        meta.update(path=path_kind, stamp=stamp.name, gains=[round(float(g), 6) for g in gains], hidden_frames=sorted(far_frames),
                    distractor=None if distractor is None else distractor.stamp.name)
    else:  # turns, or offscreen: the same two objects in view, silent, and the sound of a third class
        labels = pick_classes(rng, bank, 2 if mode == "turns" else 3)
        stamps = [pick_stamp(rng, bank, c) for c in labels[:2]]
        half = size // 2
        base = []
        for i, s in enumerate(stamps):
            height = fit_height(s, rng.uniform(0.35, 0.55) * size, 0.45 * size)
            flip = bool(rng.random() < 0.5)
            patch = resize_stamp(s.image, height, flip)
            h, w = patch.shape[:2]
            x = int(rng.integers(i * half, i * half + half - w + 1))
            y = int(rng.integers(0, size - h + 1))
            base.append((s, patch, x, y, flip))
        for n in range(N):
            placed = []
            for i, (s, patch, x, y, flip) in enumerate(base):
                h, w = patch.shape[:2]
                dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))  # a little wobble per frame
                xn = int(np.clip(x + dx, i * half, i * half + half - w))
                yn = int(np.clip(y + dy, 0, size - h))
                placed.append(Placed(s, patch, xn, yn, flip, mode == "turns" and (n < N // 2) == (i == 0)))
            frames_placed.append(placed)
    if mode == "offscreen":
        onscreen = [False] * N
        heard = pick_stamp(rng, bank, labels[2])
        gain = float(rng.uniform(0.6, 1.0))
        mix = np.float32(gain) * excerpt(heard.sound, total, rng)[0]
        classes = [labels[2]]
        meta.update(stamps=[s.name for s in stamps], sound_stamp=heard.name, gains=[round(gain, 6)])
    elif mode == "turns":
        gains = [float(rng.uniform(0.6, 1.0)) for _ in stamps]
        seg = total // 2
        parts = [np.float32(g) * excerpt(s.sound, seg, rng)[0] for g, s in zip(gains, stamps)]
        fade = int(0.05 * sr)
        ramp = np.linspace(1.0, 0.0, 2 * fade, dtype=np.float32)
        parts[0][seg - fade :] *= ramp[:fade]  # fade the first source out over the last 50 ms of its half
        parts[1][:fade] *= ramp[fade:][::-1]  # and the second in over the first 50 ms of its half
        mix = np.concatenate(parts)
        classes = list(labels)
        meta.update(stamps=[s.name for s in stamps], gains=[round(g, 6) for g in gains], switch_time=SEQ_SECONDS / 2)
    audio, noise, scale = finish_audio(mix.astype(np.float32), rng)
    images, frames, masks = {}, [], []
    for n, placed in enumerate(frames_placed):
        img, objects, ms = render(bg, placed)
        path = _frame_path(sample_id, n, N)
        sounding = [list(o.box) for o in objects if o.sounding]
        frames.append(Frame(path, float(times[n]), size, size, [sounding] if sounding else [], objects, onscreen[n]))
        images[path] = img
        masks.append(ms)
    meta.update(noise_std=round(noise, 6), scale=round(scale, 6), fps=1.0)
    sample = Sample(sample_id, sample_id, "train", f"audio/{sample_id}.wav", frames, classes, meta)
    return Built(sample, images, audio, masks)


def build_listening(rng: np.random.Generator, bank: Bank, frame_id: str, size: int) -> list[Built]:
    """The listening test's frame `frame_id`: 2-8 objects of different classes in view, as in `scenes`, and one sample
    per sound it is played with: each object's own recording in turn (``<frame_id>-o<j>``, that object sounding and
    annotated), "silence" (the noise floor alone), "noise" (loud white noise) and "offscreen" (the recording of a
    class not in view). Every sample of the frame shares its image and its video id (the frame), so negatives come
    from other frames. ``meta``: frame, played ("object", "silence", "noise", "offscreen"), object (its index in
    ``objects``, or None), stamp (what is heard).
    """
    k = int(rng.integers(SCENE_OBJECTS[0], SCENE_OBJECTS[1] + 1))
    labels = pick_classes(rng, bank, k + 1)
    heard_off = pick_stamp(rng, bank, labels[-1])  # a class not in view
    bg, bg_meta = pick_background(rng, bank, size)
    placed, visible = scene_layout(rng, bank, labels[:-1], size, None, frame_id, keep=2)
    img, objects = render_visible(bg, placed, visible)
    path = f"frames/{frame_id}.png"
    n = int(SINGLE_SECONDS * 16000)
    sounds: list[tuple[str, int | None, np.ndarray, str]] = []
    for j, p in enumerate(placed):
        clip, _ = excerpt(p.stamp.sound, n, rng)
        sounds.append((f"o{j}", j, np.float32(rng.uniform(0.6, 1.0)) * clip, p.stamp.name))
    sounds.append(("silence", None, np.zeros(n, np.float32), ""))
    sounds.append(("noise", None, rng.normal(0.0, LISTEN_NOISE, n).astype(np.float32), "white noise"))
    clip, _ = excerpt(heard_off.sound, n, rng)
    sounds.append(("offscreen", None, np.float32(rng.uniform(0.6, 1.0)) * clip, heard_off.name))
    out = []
    for tag, j, wave, heard in sounds:
        audio, noise, scale = finish_audio(wave, rng)
        objs = [ObjectAnn(list(o.box), o.label, i == j) for i, o in enumerate(objects)]
        annotators = [[list(objects[j].box)]] if j is not None else []
        played = "object" if j is not None else tag
        classes = [objects[j].label] if j is not None else ([heard_off.label] if tag == "offscreen" else [])
        frame = Frame(path, SINGLE_SECONDS / 2, size, size, annotators, objs, j is not None)
        meta = {"frame": frame_id, "played": played, "object": j, "stamp": heard, "background": bg_meta,
                "objects": _placed_meta(placed), "noise_std": round(noise, 6), "scale": round(scale, 6)}
        sample = Sample(f"{frame_id}-{tag}", frame_id, "train", f"audio/{frame_id}-{tag}.wav", [frame], classes, meta)
        out.append(Built(sample, {path: img} if not out else {}, audio, [visible]))
    return out


def is_test(index: int, test_fraction: float) -> bool:
    """Sample `index` is in the test split when floor((index + 1) f) > floor(index f).

    Test samples are evenly spread: any prefix of n samples has round-down(n f) of them.
    """
    return math.floor((index + 1) * test_fraction + 1e-9) > math.floor(index * test_fraction + 1e-9)


def build_group(preset: str, bank: Bank, seed: int, index: int, size: int, test_fraction: float = 0.25,
                bias: dict[str, Any] | None = None) -> list[Built]:
    """The samples of item `index` of `preset`: one sample, or for `listening` one per sound the frame is played with."""
    if preset != LISTENING:
        return [build_preset_sample(preset, bank, seed, index, size, test_fraction, bias)]
    rng = np.random.default_rng([seed, PRESET_CODE[preset], index])
    group = build_listening(rng, bank, f"{preset}-{index:06d}", size)
    for built in group:
        built.sample.split = "test" if is_test(index, test_fraction) else "train"
    return group


def build_preset_sample(preset: str, bank: Bank, seed: int, index: int, size: int, test_fraction: float = 0.25,
                        bias: dict[str, Any] | None = None) -> Built:
    """Sample `index` of `preset` for `seed`: drawn from its own generator, independent of every other sample."""
    rng = np.random.default_rng([seed, PRESET_CODE[preset], index])
    sample_id = f"{preset}-{index:06d}"
    if preset == "solo":
        built = build_solo(rng, bank, sample_id, size)
    elif preset == "mosaic":
        built = build_mosaic(rng, bank, sample_id, size)
    elif preset == "scenes":
        built = build_scenes(rng, bank, sample_id, size, bias if bias is not None else make_bias(bank, seed))
    else:
        built = build_sequences(rng, bank, sample_id, size)
    built.sample.split = "test" if is_test(index, test_fraction) else "train"
    return built
