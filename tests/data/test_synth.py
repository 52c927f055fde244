"""Tests for sslprop/data/synth/ (assets, compose, presets, generator)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from sslprop.cli import main as cli_main
from sslprop.data.audio import load_audio
from sslprop.data.format import read_info, read_manifest
from sslprop.data.synth import assets, compose, generator, presets
from sslprop.errors import SSLPropError


@pytest.fixture(scope="module")
def bank() -> assets.Bank:
    return assets.load_bank()


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_class_subsets_split_the_classes(bank):
    every = assets.class_subset(bank.classes, "all")
    even, odd = assets.class_subset(bank.classes, "even"), assets.class_subset(bank.classes, "odd")
    assert len(every) == len(bank.classes) and not set(even) & set(odd) and set(even) | set(odd) == set(every)
    with pytest.raises(SSLPropError, match="--classes"):
        assets.class_subset(bank.classes, "half")


def test_classes_deduplicated_by_recording(bank: assets.Bank) -> None:
    assert len(bank.stamps) == 75
    assert len(bank.classes) == 72  # 75 stamps; badger = beaver and goat = mountaingoat = ram by sound
    shared = {c: m for c, m in bank.members.items() if len(m) > 1}
    assert shared == {"badger": ("badger", "beaver"), "goat": ("goat", "mountaingoat", "ram")}
    assert bank.stamps["ram"].label == "goat" and bank.stamps["violin"].label == "violin"


def test_group_recordings_rule() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=1000)
    b = rng.normal(size=1000)
    sounds = {
        "a": a,
        "a_quiet_noisy": 0.5 * a + 0.1 * rng.normal(size=1000),  # correlation ~0.98: same recording
        "b": b,
        "a_short": a[:900],  # 10% shorter: a different cut, its own class
    }
    assert assets.group_recordings(sounds) == {"a": "a", "a_quiet_noisy": "a", "b": "b", "a_short": "a_short"}


def test_paste_box_and_blend_exact() -> None:
    stamp = np.zeros((4, 6, 4), dtype=np.float32)  # premultiplied RGBA, 4 rows x 6 columns
    stamp[1:3, 2:5] = [0.5, 0.5, 0.5, 0.5]  # white at alpha 0.5, premultiplied
    stamp[3, 1] = [1.0, 0.0, 0.0, 1.0]  # one opaque red pixel
    canvas = np.full((10, 10, 3), 0.2, dtype=np.float32)
    box, mask = compose.paste(canvas, stamp, 3, 2)
    # alpha > 0 at stamp rows 1..3, columns 1..4 -> canvas x 4..7, y 3..5
    assert box == [4.0, 3.0, 8.0, 6.0]
    assert mask.sum() == 7 and mask[5, 4] and not mask[2, 3]
    np.testing.assert_allclose(canvas[3, 5], [0.6, 0.6, 0.6])  # 0.2 * (1 - 0.5) + 0.5
    np.testing.assert_allclose(canvas[5, 4], [1.0, 0.0, 0.0])
    untouched = ~mask
    assert np.all(canvas[untouched] == np.float32(0.2))
    with pytest.raises(ValueError):
        compose.paste(canvas, stamp, 5, 0)  # 6 columns at x = 5 leave a 10-wide canvas


def test_split_rule() -> None:
    assert [i for i in range(12) if presets.is_test(i, 0.25)] == [3, 7, 11]
    assert [i for i in range(5) if presets.is_test(i, 0.0)] == []
    assert [i for i in range(3) if presets.is_test(i, 1.0)] == [0, 1, 2]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, bank: assets.Bank) -> None:
    a = generator.generate("scenes", 6, 7, tmp_path / "a", size=64, progress=False, bank=bank)
    b = generator.generate("scenes", 6, 7, tmp_path / "b", size=64, progress=False, bank=bank)
    c = generator.generate("scenes", 6, 8, tmp_path / "c", size=64, progress=False, bank=bank)
    ha, hb, hc = tree_hashes(a), tree_hashes(b), tree_hashes(c)
    assert len(ha) == 6 + 6 + 2  # 6 frames, 6 wavs, manifest.jsonl, dataset.json
    assert ha == hb
    assert set(ha) == set(hc)
    assert sum(ha[k] != hc[k] for k in ha) >= 12  # every frame and wav differs (dataset.json too)
    # a sample does not depend on n: the first 3 of a 3-sample run are the same files
    d = generator.generate("scenes", 3, 7, tmp_path / "d", size=64, progress=False, bank=bank)
    hd = tree_hashes(d)
    assert all(hd[k] == ha[k] for k in hd if k.startswith(("frames/", "audio/")))


@pytest.mark.parametrize("preset", presets.PRESETS)
def test_boxes_are_tight_alpha_boxes_inside_frame(preset: str, bank: assets.Bank) -> None:
    size = 64
    for index in range(6):
        built = presets.build_preset_sample(preset, bank, 3, index, size)
        for frame, masks in zip(built.sample.frames, built.masks):
            assert built.images[frame.path].shape == (size, size, 3)
            assert len(masks) == len(frame.objects)
            for obj, mask in zip(frame.objects, masks):
                x1, y1, x2, y2 = obj.box
                assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
                assert obj.box == compose.alpha_box(mask)
                assert mask[int(y1) : int(y2), int(x1) : int(x2)].sum() == mask.sum()
                assert obj.label in bank.classes


def test_files_readable(tmp_path: Path, bank: assets.Bank) -> None:
    out = generator.generate("solo", 4, 0, tmp_path / "solo", size=48, progress=False, bank=bank)
    samples = read_manifest(out)
    assert [s.id for s in samples] == ["solo-000000", "solo-000001", "solo-000002", "solo-000003"]
    assert [s.split for s in samples] == ["train", "train", "train", "test"]
    info = read_info(out)
    assert info["num_samples"] == 4 and info["splits"] == {"train": 3, "test": 1}
    assert info["num_classes"] == 72 and info["preset"] == "solo" and info["size"] == 48
    built = presets.build_preset_sample("solo", bank, 0, 2, 48)
    img = cv2.imread(str(out / samples[2].frames[0].path))[..., ::-1]  # BGR -> RGB
    assert np.array_equal(img, built.images[samples[2].frames[0].path])  # PNG is lossless
    for s in samples:
        meta = sf.info(str(out / s.audio))
        assert (meta.samplerate, meta.channels, meta.subtype, meta.frames) == (16000, 1, "PCM_16", 16000)
        wav = load_audio(out / s.audio)
        assert wav.shape == (16000,) and float(wav.abs().max()) > 0.05
        f = s.frames[0]
        assert (f.time, f.width, f.height, f.onscreen) == (0.5, 48, 48, True)
        sounding = [o for o in f.objects if o.sounding]
        assert len(sounding) == 1 and 1 <= len(f.objects) <= 4  # one source and up to 3 distractors (fewer when no place)
        assert f.annotators == [[sounding[0].box]] and s.classes == [sounding[0].label]
        assert len({o.label for o in f.objects}) == len(f.objects)  # distractors are of other classes


def test_scenes_annotators_offscreen_and_bias(tmp_path: Path, bank: assets.Bank) -> None:
    out = generator.generate("scenes", 12, 2, tmp_path / "scenes", size=64, progress=False, bank=bank)
    samples = read_manifest(out)
    bias = read_info(out)["bias"]
    assert len(bias["habitat"]) == 72 and set(bias["habitat"].values()) == set(assets.BACKGROUNDS)
    assert all(bias["companion"][c] != c for c in bank.classes)
    off = [s for s in samples if s.onscreen is False]
    on = [s for s in samples if s.onscreen is True]
    assert len(off) == 3 and len(on) == 9  # seed 2: 3 of 12 off-screen
    for s in off:
        f = s.frames[0]
        assert f.annotators == [] and not any(o.sounding for o in f.objects)
        assert s.classes[0] not in {o.label for o in f.objects}
    for s in on:
        f = s.frames[0]
        assert len(f.annotators) == 3 and all(len(a) == 1 for a in f.annotators)
        sounding = [o for o in f.objects if o.sounding]
        assert len(sounding) == 1 and s.classes == [sounding[0].label]
        assert 1 <= len(f.objects) <= s.meta["drawn"] <= 8 and len(s.meta["objects"]) == len(f.objects)
        for (box,) in f.annotators:
            assert 0 <= box[0] < box[2] <= 64 and 0 <= box[1] < box[3] <= 64
        if s.meta["habitat_background"]:
            assert s.meta["background"]["name"] == bias["habitat"][s.classes[0]]
        if s.meta["companion"] and len(f.objects) == s.meta["drawn"]:
            assert bias["companion"][s.classes[0]] in {o.label for o in f.objects}


def test_scenes_without_the_bias(tmp_path: Path, bank: assets.Bank) -> None:
    # the same seed with both chances at 0: the same pairings recorded, none of them shown
    out = generator.generate("scenes", 24, 2, tmp_path / "plain", size=64, progress=False, bank=bank,
                             habitat_prob=0, companion_prob=0)
    info, samples = read_info(out), read_manifest(out)
    biased = read_info(generator.generate("scenes", 4, 2, tmp_path / "biased", size=64, progress=False, bank=bank))["bias"]
    assert (info["bias"]["habitat_prob"], info["bias"]["companion_prob"]) == (0.0, 0.0)
    assert (biased["habitat_prob"], biased["companion_prob"]) == (assets.HABITAT_PROB, assets.COMPANION_PROB)
    assert info["bias"]["habitat"] == biased["habitat"] and info["bias"]["companion"] == biased["companion"]
    assert not any(s.meta["habitat_background"] or s.meta["companion"] for s in samples)
    with pytest.raises(SSLPropError, match="habitat_prob = -0.1"):
        assets.make_bias(bank, 2, habitat_prob=-0.1)


def test_scenes_offscreen_habitat_leaves_onscreen_scenes_alone(tmp_path: Path, bank: assets.Bank) -> None:
    # the off-screen chance changes the off-screen scenes only: every on-screen scene is the same, file for file
    kw = dict(size=64, progress=False, bank=bank, habitat_prob=1.0)
    a = generator.generate("scenes", 16, 2, tmp_path / "a", offscreen_habitat_prob=0.0, **kw)
    b = generator.generate("scenes", 16, 2, tmp_path / "b", offscreen_habitat_prob=1.0, **kw)
    sa, sb = read_manifest(a), read_manifest(b)
    assert read_info(a)["bias"]["offscreen_habitat_prob"] == 0.0 and read_info(b)["bias"]["offscreen_habitat_prob"] == 1.0
    assert [s.onscreen for s in sa] == [s.onscreen for s in sb] and 0 < sum(not s.onscreen for s in sa) < 16
    for x, y in zip(sa, sb):
        if x.onscreen:
            assert x == y and x.meta["habitat_background"]
            assert (a / x.frames[0].path).read_bytes() == (b / y.frames[0].path).read_bytes()
            assert (a / x.audio).read_bytes() == (b / y.audio).read_bytes()
        else:
            assert not x.meta["habitat_background"] and y.meta["habitat_background"]
            assert y.meta["background"]["name"] == read_info(b)["bias"]["habitat"][y.classes[0]]
    with pytest.raises(SSLPropError, match="offscreen_habitat_prob = 2"):
        generator.generate("scenes", 4, 2, tmp_path / "c", offscreen_habitat_prob=2, **kw)
    with pytest.raises(SSLPropError, match="only the scenes preset"):
        generator.generate("solo", 4, 2, tmp_path / "d", size=64, progress=False, bank=bank, offscreen_habitat_prob=0.0)


def test_mosaic_two_sounding_two_silent(tmp_path: Path, bank: assets.Bank) -> None:
    out = generator.generate("mosaic", 6, 0, tmp_path / "mosaic", size=64, progress=False, bank=bank)
    for s in read_manifest(out):
        f = s.frames[0]
        assert len(f.objects) == 4 and len({o.label for o in f.objects}) == 4
        assert sorted(o.sounding for o in f.objects) == [False, False, True, True]
        assert len(f.annotators) == 1 and f.annotators[0] == [o.box for o in f.objects if o.sounding]
        assert s.classes == [o.label for o in f.objects if o.sounding]
        for t, o in enumerate(f.objects):  # each object stays inside its own 32 px tile
            ox, oy = (t % 2) * 32, (t // 2) * 32
            assert ox <= o.box[0] and o.box[2] <= ox + 32 and oy <= o.box[1] and o.box[3] <= oy + 32
        assert len(s.meta["gains"]) == 2 and all(0.5 <= g <= 1.0 for g in s.meta["gains"])


def test_sequences_time_order_flags_and_loudness(tmp_path: Path, bank: assets.Bank) -> None:
    out = generator.generate("sequences", 8, 0, tmp_path / "seq", size=48, progress=False, bank=bank)
    samples = read_manifest(out)
    modes = [s.meta["mode"] for s in samples]
    assert set(modes) == {"turns", "distance", "offscreen"}
    for s in samples:
        assert [f.time for f in s.frames] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
        assert s.video_id == s.id and len({f.path for f in s.frames}) == 8
        wav = load_audio(out / s.audio)
        assert wav.shape == (8 * 16000,)  # every frame's 0.96 s clip lies inside the audio
        if s.meta["mode"] == "turns":
            flags = [[o.sounding for o in f.objects] for f in s.frames]
            assert flags == [[True, False]] * 4 + [[False, True]] * 4
            assert all(f.onscreen is True and len(f.annotators[0]) == 1 for f in s.frames)
        elif s.meta["mode"] == "offscreen":  # two silent objects in view, the sound of a third class
            assert all(f.onscreen is False and f.annotators == [] and len(f.objects) == 2 for f in s.frames)
            assert not any(o.sounding for f in s.frames for o in f.objects)
            assert s.classes[0] not in {o.label for o in s.frames[0].objects}
        else:
            gains = s.meta["gains"]
            heights = {n: o.box[3] - o.box[1] for n, f in enumerate(s.frames) for o in f.objects if o.sounding}
            for n, f in enumerate(s.frames):
                assert f.onscreen is (n not in s.meta["hidden_frames"])
                assert (f.annotators == []) is (n in s.meta["hidden_frames"])
            # amplitude follows apparent size: loudest frame is the largest one
            shown = sorted(heights)
            assert max(shown, key=lambda n: gains[n]) == max(shown, key=lambda n: heights[n])


def test_overwrite_rules(tmp_path: Path, bank: assets.Bank) -> None:
    out = tmp_path / "set"
    generator.generate("solo", 2, 0, out, size=48, progress=False, bank=bank)
    generator.generate("solo", 3, 1, out, size=48, progress=False, bank=bank)  # an sslprop set is replaced
    assert read_info(out)["num_samples"] == 3 and read_info(out)["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no temporary folder left behind
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(SSLPropError, match="not an sslprop data set"):
        generator.generate("solo", 2, 0, other, size=48, progress=False, bank=bank)
    assert [p.name for p in other.iterdir()] == ["holiday.jpg"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "duet", "--n", "2"], "--preset duet: unknown preset"),
        (["--preset", "scenes", "--n", "2", "--size", "16"], "--size 16: frames of preset 'scenes' must be at least 32 px"),
        (["--preset", "mosaic", "--n", "2", "--size", "65"], "--size 65: mosaic frames are a 2x2 grid"),
        (["--preset", "solo", "--n", "2", "--test-fraction", "1.5"], "--test-fraction 1.5: must be between 0 and 1"),
        (["--preset", "scenes", "--n", "2", "--habitat-prob", "1.5"], "habitat_prob = 1.5: must be a probability in [0, 1]"),
        (["--preset", "solo", "--n", "2", "--companion-prob", "0"], "companion_prob: only the scenes preset has a co-occurrence bias"),
    ],
)
def test_cli_bad_values(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["synth", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_cli_writes_a_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert cli_main(["synth", "--preset", "mosaic", "--n", "2", "--seed", "4", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 2 mosaic samples (2 train, 0 test), 72 classes, 192 px, seed 4" in printed
    assert "the sounding object is the largest in view in " in printed
    info = json.loads((out / "dataset.json").read_text())
    assert (info["size"], info["frames_per_sample"], info["source"]) == (192, 1, "synth")


def test_size_does_not_give_the_source_away(tmp_path: Path, bank: assets.Bank) -> None:
    # sounding and silent objects of one size range: the source is the largest in view about as often as a blind
    # pick among the objects would hit it (1 / objects in view), far from the former 98 % of solo
    for preset, n in (("scenes", 80), ("solo", 60)):
        samples = [presets.build_preset_sample(preset, bank, 5, i, 96).sample for i in range(n)]
        shares = generator.salience_shares(samples)
        assert 0.15 < shares["blind"] < 0.5 and abs(shares["largest"] - shares["blind"]) < 0.12, (preset, shares)
    scenes = [presets.build_preset_sample("scenes", bank, 5, i, 96).sample for i in range(80)]
    in_view = [len(s.frames[0].objects) for s in scenes]
    assert min(in_view) >= 1 and max(in_view) <= 8 and np.mean(in_view) > 4  # 2-8 objects, overlaps allowed
    assert any(o["visible"] < 1.0 for s in scenes for o in s.meta["objects"])  # some objects partly hidden
    assert all(o["visible"] >= compose.SCENE_MIN_VISIBLE - 1e-9 for s in scenes for o in s.meta["objects"])


def test_sequences_have_a_third_of_their_frames_offscreen(tmp_path: Path, bank: assets.Bank) -> None:
    samples = [presets.build_preset_sample("sequences", bank, 0, i, 48, test_fraction=1.0).sample for i in range(60)]
    share = generator.salience_shares(samples)["offscreen_test"]
    assert 0.3 <= share <= 0.6  # offscreen clips are 40 % of the clips, plus the hidden frames of distance clips


@pytest.mark.parametrize("preset", presets.PRESETS)
def test_every_preset_is_byte_identical_for_one_seed(tmp_path: Path, bank: assets.Bank, preset: str) -> None:
    a = generator.generate(preset, 2, 9, tmp_path / "a", size=64, progress=False, bank=bank)
    b = generator.generate(preset, 2, 9, tmp_path / "b", size=64, progress=False, bank=bank)
    assert tree_hashes(a) == tree_hashes(b)


def test_scenes_of_one_class_half(tmp_path: Path, bank: assets.Bank) -> None:
    from sslprop.data.synth.assets import class_subset

    odd = set(class_subset(bank.classes, "odd"))
    out = generator.generate("scenes", 12, 3, tmp_path / "odd", size=64, progress=False, bank=bank, classes="odd")
    samples = read_manifest(out)
    assert all(c in odd for s in samples for c in s.classes)
    assert all(o.label in odd for s in samples for f in s.frames for o in f.objects)
    info = read_info(out)
    assert info["class_subset"] == "odd" and info["num_classes"] == len(odd)
    full = generator.generate("scenes", 4, 3, tmp_path / "all", size=64, progress=False, bank=bank)
    assert "class_subset" not in read_info(full)  # the default sets are unchanged
