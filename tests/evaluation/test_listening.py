"""Tests for the listening set (sslprop/data/synth/presets.py, preset `listening`) and the listening test
(sslprop/evaluation/listening.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslprop import cli
from sslprop.data.format import read_info, read_manifest
from sslprop.data.synth import generator
from sslprop.errors import SSLPropError
from sslprop.evaluation.listening import Answer, blind_difference, listen_scores, listening_frames, paired_follow, pointed_object


@pytest.fixture(scope="module")
def listening_set(tmp_path_factory):
    return generator.generate("listening", 6, 9, tmp_path_factory.mktemp("listen") / "l", size=96, progress=False)


def test_the_listening_set_plays_each_frame_with_every_sound(listening_set):
    samples = read_manifest(listening_set)
    info = read_info(listening_set)
    assert info["preset"] == "listening" and info["listening"]["frames"] == 6 and info["splits"]["train"] == 0
    frames = {}
    for s in samples:
        frames.setdefault(s.meta["frame"], []).append(s)
    assert len(frames) == 6
    for frame_id, group in frames.items():
        objects = group[0].frames[0].objects
        assert len(objects) >= 2 and len({o.label for o in objects}) == len(objects)  # two or more classes in view
        assert {s.frames[0].path for s in group} == {f"frames/{frame_id}.png"} and {s.video_id for s in group} == {frame_id}
        played = [s for s in group if s.meta["played"] == "object"]
        assert sorted(s.meta["object"] for s in played) == list(range(len(objects)))  # every object's own sound
        assert sorted(s.meta["played"] for s in group if s.meta["played"] != "object") == ["noise", "offscreen", "silence"]
        for s in group:
            f = s.frames[0]
            assert [o.box for o in f.objects] == [o.box for o in objects]
            if s.meta["played"] == "object":
                j = s.meta["object"]
                assert f.onscreen and [o.sounding for o in f.objects] == [i == j for i in range(len(objects))]
                assert f.annotators == [[objects[j].box]] and s.classes == [objects[j].label]
                assert s.meta["stamp"] == s.meta["objects"][j]["stamp"]  # the object's own recording
            else:
                assert f.onscreen is False and f.annotators == [] and not any(o.sounding for o in f.objects)
        off = next(s for s in group if s.meta["played"] == "offscreen")
        assert off.classes[0] not in {o.label for o in objects}
    # every sound is heard (silence is the noise floor, not digital silence, so no loader leaves it out)
    from sslprop.data.dataset import silent_audio

    assert silent_audio(listening_set, [s.audio for s in samples], 16000) == set()


def _answers(frames, pick):
    """Answers whose box is the box of object pick(frame, played) (None: a box on no object)."""
    out = {}
    for fr in frames:
        for j, sid in fr.played.items():
            k = pick(fr, j)
            box = np.array(fr.objects[k].box, float) if k is not None else np.array([0.0, 0.0, 1.0, 1.0])
            out[sid] = Answer(box, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), 1.0 if k == j else 0.0, {"on_d": True})
        for sid in fr.others.values():
            out[sid] = Answer(np.array(fr.objects[0].box, float), None, 0.0, {"on_d": False})
    return out


def test_a_listener_follows_a_deaf_method_does_not(listening_set):
    frames = listening_frames(read_manifest(listening_set, "test"))
    pairs = sum(len(f.played) for f in frames)
    listener = listen_scores(frames, _answers(frames, lambda fr, j: j), ci={"resamples": 200})
    assert listener["follow_box"] == 1.0 and listener["switch"] == 1.0 and listener["pairs"] == pairs
    assert len(frames) / pairs <= listener["blind_box"] <= listener["blind_point"] <= 1.0  # overlapping boxes: a point in several
    assert listener["sounds"]["silence"]["on_d"] == 0.0 and listener["own"]["on_d"] == 1.0
    assert listener["sounds"]["silence"]["auc_own_vs"] == pytest.approx(0.5 + 0.5 * 1.0)  # own 1.0 > silence 0.0 always
    deaf = listen_scores(frames, _answers(frames, lambda fr, j: 0), ci={"resamples": 200})  # always the first object
    assert deaf["follow_box"] <= deaf["blind_box"] and deaf["follow_point"] <= deaf["blind_point"] and deaf["switch"] == 0.0
    nowhere = listen_scores(frames, _answers(frames, lambda fr, j: None))
    assert nowhere["follow_box"] == 0.0 and nowhere["follow_point"] == 0.0 and "intervals" not in nowhere
    d = paired_follow(listener, deaf, ci={"resamples": 200})
    assert d["difference"] == pytest.approx(1.0 - deaf["follow_box"]) and d["low"] > 0
    b = blind_difference(deaf, ci={"resamples": 200})
    assert b["difference"] <= 0 and b["low"] <= 0  # a deaf method cannot beat the blind rate


def test_the_other_sound_rate_is_the_deaf_reference_at_the_methods_own_precision(listening_set):
    frames = listening_frames(read_manifest(listening_set, "test"))
    # a listener that always answers with the played object's box: the other sounds' answers land on j only when
    # another object's box reaches IoU >= 0.5 with j's (rare); its follow rate is 1
    listener = listen_scores(frames, _answers(frames, lambda fr, j: j), ci={"resamples": 200})
    assert listener["other_box"] < 0.5 and "other_box" in listener["intervals"]
    d = blind_difference(listener, "follow_box", ci={"resamples": 200}, reference="other")
    assert d["difference"] == pytest.approx(1.0 - listener["other_box"]) and d["low"] > 0
    # a deaf method, whatever it answers, gives every sound the same answer: follow == other exactly, per pair
    for pick in (lambda fr, j: 0, lambda fr, j: None, lambda fr, j: len(fr.objects) - 1):
        deaf = listen_scores(frames, _answers(frames, pick))
        assert deaf["per_pair"]["follow_box"] == [bool(x) for x in deaf["per_pair"]["other_box"]]
        assert deaf["other_point"] == pytest.approx(deaf["follow_point"])
        z = blind_difference(deaf, "follow_point", ci={"resamples": 100}, reference="other")
        assert z["difference"] == 0.0 and z["low"] == 0.0 and z["high"] == 0.0
    with pytest.raises(SSLPropError, match="expected 'blind' or 'other'"):
        blind_difference(deaf, reference="nope")


def test_listening_claims_say_who_listens(listening_set):
    from sslprop.lab import claims

    frames = listening_frames(read_manifest(listening_set, "test"))
    records = [{"method": "ours", "label": "Ours", "paradigm": "method",
                **listen_scores(frames, _answers(frames, lambda fr, j: j), ci={"resamples": 200})},
               {"method": "attention", "label": "Attention", "paradigm": "method",
                **listen_scores(frames, _answers(frames, lambda fr, j: 0), ci={"resamples": 200})}]
    rows = {r["claim"]: r["verdict"] for r in claims.listening_claims(records, column="follow_box")}
    assert rows["Ours follows the sound played more often than another object's sound (not in the paper)"] == "holds"
    assert rows["Attention follows the sound played more often than another object's sound (not in the paper)"] == "no difference"
    assert rows["Ours follows the sound more often than Attention (not in the paper)"] == "holds"


def test_blind_hits_counts_what_one_fixed_answer_can_land_on():
    from sslprop.evaluation.listening import blind_hits

    class Obj:
        def __init__(self, box):
            self.box = box

    apart = [Obj([0, 0, 10, 10]), Obj([20, 20, 30, 30])]
    assert blind_hits(apart) == (1, 1)
    overlapping = [Obj([0, 0, 10, 10]), Obj([5, 5, 15, 15]), Obj([8, 0, 20, 9])]  # one point lies in all three
    assert blind_hits(overlapping) == (3, 1)
    touching = [Obj([0, 0, 10, 10]), Obj([10, 0, 20, 10])]  # edges included: the shared edge is in both
    assert blind_hits(touching)[0] == 2
    same = [Obj([0, 0, 10, 10]), Obj([0, 0, 10, 11])]  # boxes at IoU >= 0.5: one box follows both sounds
    assert blind_hits(same) == (2, 2)


def test_pointed_object_is_the_topmost_box_holding_the_point():
    class Obj:
        def __init__(self, box):
            self.box = box

    objects = [Obj([0, 0, 10, 10]), Obj([5, 5, 20, 20])]
    assert pointed_object((7, 7), objects) == 1 and pointed_object((2, 2), objects) == 0
    assert pointed_object((30, 30), objects) == -1 and pointed_object(None, objects) == -1


def test_listen_command_on_a_trained_run(listening_set, tiny, tmp_path, capsys):
    from sslprop.data.proposals import extract_dataset
    from sslprop.engine.train import train
    from tests.helpers import train_cfg

    extract_dataset(listening_set, workers=1, progress=False)
    train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "run", progress=False, log=lambda m: None)
    assert cli.main(["listen", "--run", str(tmp_path / "run"), "--data", str(listening_set), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "ours" and report["frames"] == 6 and 0 <= report["follow_box"] <= 1
    assert set(report["sounds"]) == {"silence", "noise", "offscreen"} and "on_d" in report["own"]
    assert (tmp_path / "run" / f"predictions-{listening_set.name}-test" / "predictions.json").is_file()  # kept for the next call
    train(train_cfg(**{"train.epochs": 1}), tiny, tmp_path / "att", method="attention", progress=False, log=lambda m: None)
    assert cli.main(["listen", "--run", str(tmp_path / "att"), "--data", str(listening_set), "--ci", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "listening test: attention" in out and "follow rate, point inside the object" in out and "[" in out
    assert cli.main(["listen", "--run", str(tmp_path / "run"), "--data", str(tiny)]) == 2
    assert "not a listening sample" in capsys.readouterr().err


def test_listening_frames_refuses_another_set(tiny):
    with pytest.raises(SSLPropError, match="not a listening sample"):
        listening_frames(read_manifest(tiny))
