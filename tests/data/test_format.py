"""Tests for sslprop/data/format.py."""

import json

import pytest

from sslprop.data.format import (
    Frame,
    ObjectAnn,
    Sample,
    read_info,
    read_manifest,
    write_manifest,
)
from sslprop.errors import SSLPropError


def _sample(i: int, split: str = "train") -> Sample:
    frame = Frame(
        path=f"frames/s{i}.png",
        time=0.48,
        width=96,
        height=80,
        annotators=[[[1.0, 2.0, 30.0, 40.0]], [[2.0, 2.0, 31.0, 41.0], [50.0, 5.0, 60.0, 20.0]]],
        objects=[ObjectAnn([1.0, 2.0, 30.0, 40.0], "dog", True), ObjectAnn([50, 5, 60, 20], "cat", False)],
        onscreen=True,
    )
    return Sample(id=f"s{i}", video_id=f"v{i // 2}", split=split, audio=f"audio/s{i}.wav", frames=[frame], classes=["dog"])


def test_round_trip_and_stable_bytes(tmp_path):
    samples = [_sample(0), _sample(1, "test")]
    write_manifest(tmp_path, samples, {"name": "t"})
    first = (tmp_path / "manifest.jsonl").read_bytes()
    back = read_manifest(tmp_path)
    assert back == samples
    assert [s.id for s in read_manifest(tmp_path, "test")] == ["s1"]
    assert read_info(tmp_path)["splits"] == {"train": 1, "test": 1}
    write_manifest(tmp_path, back, {"name": "t"})
    assert (tmp_path / "manifest.jsonl").read_bytes() == first
    assert back[0].onscreen is True


def test_duplicate_ids_rejected(tmp_path):
    with pytest.raises(SSLPropError, match="duplicate sample ids"):
        write_manifest(tmp_path, [_sample(0), _sample(0)], {})


def test_missing_manifest_names_the_file(tmp_path):
    with pytest.raises(SSLPropError, match="manifest.jsonl: no manifest here"):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    "row, message",
    [
        ("{not json", r"manifest.jsonl:2: row does not parse as JSON"),
        (json.dumps({"id": "x"}), r"manifest.jsonl:2: missing key 'video_id'"),
        (json.dumps({**json.loads(_sample(5).to_json()), "split": "val"}), r"split must be 'train' or 'test'"),
        (json.dumps({**json.loads(_sample(5).to_json()), "frames": []}), r"'frames' must be a non-empty list"),
    ],
)
def test_bad_rows_are_one_line_errors(tmp_path, row, message):
    write_manifest(tmp_path, [_sample(0)], {})
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write(row + "\n")
    with pytest.raises(SSLPropError, match=message):
        read_manifest(tmp_path)


def test_bad_box_names_frame_and_annotator(tmp_path):
    d = json.loads(_sample(0).to_json())
    d["frames"][0]["annotators"][1][0] = [10, 10, 5, 20]
    (tmp_path / "manifest.jsonl").write_text(json.dumps(d) + "\n")
    with pytest.raises(SSLPropError, match=r"frame 0 annotator 1: box .* is not xyxy"):
        read_manifest(tmp_path)
