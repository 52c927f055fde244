"""Fixtures shared by the tests of several modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sslprop.data.synth import assets
from tests.helpers import MAP_S, tiny_set


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    from sslprop.data.synth.generator import generate

    return generate("solo", 12, 0, tmp_path_factory.mktemp("solo") / "solo", size=MAP_S, progress=False)


@pytest.fixture
def music_json(tmp_path):
    data = {
        "m1_0_1000/frame_001/00001.jpg": {"bbox": [{"box": [160, 90, 320, 180], "normbox": [0.25, 0.25, 0.5, 0.5], "category_id": 1}],
                                          "wdith": 640, "height": 360},
        "m2_0_1000/frame_002/00002.jpg": {"bbox": [], "wdith": 640, "height": 360},
    }
    path = tmp_path / "solotest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def bank():
    return assets.load_bank()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_set(tmp_path_factory.mktemp("tiny"))
