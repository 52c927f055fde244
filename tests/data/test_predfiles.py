"""Tests for sslprop/data/predfiles.py."""

from sslprop.data import predfiles


def test_frame_key_rule():
    assert predfiles.frame_key("s1", 0, 1) == "s1"
    assert predfiles.frame_key("s2", 3, 5) == "s2/3"


def test_check_member_refuses_a_file_its_predictions_json_does_not_list(tmp_path):
    import json

    import pytest

    from sslprop.errors import SSLPropError

    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"s1": [[0, 0, 4, 4, 0.5]]}')
    predfiles.check_member(boxes)  # no predictions.json: a file from elsewhere
    (tmp_path / "predictions.json").write_text(json.dumps({"run": "r"}))
    predfiles.check_member(boxes)  # a folder written before the stamp
    (tmp_path / "predictions.json").write_text(json.dumps({"files": {"boxes.json": predfiles.file_digest(boxes)}}))
    assert predfiles.load_predictions(boxes).data["s1"].shape == (1, 5)
    boxes.write_text('{"s1": [[0, 0, 8, 8, 0.5]]}')  # another run's boxes.json beside this predictions.json
    with pytest.raises(SSLPropError, match=r"boxes.json: not the boxes.json that predictions.json beside it lists"):
        predfiles.load_predictions(boxes)
    (tmp_path / "predictions.json").write_text("[1, 2]")  # someone's own predictions.json: not predict's record
    predfiles.check_member(boxes)
