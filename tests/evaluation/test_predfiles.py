"""Tests for sslprop/evaluation/predfiles.py."""

from sslprop.evaluation import predfiles


def test_frame_key_rule():
    assert predfiles.frame_key("s1", 0, 1) == "s1"
    assert predfiles.frame_key("s2", 3, 5) == "s2/3"
