"""Tests for sslprop/data/annotations.py."""

import json

import pytest

from sslprop.data import annotations as A
from sslprop.errors import SSLPropError

FLICKR_XML = """<?xml version="1.0" ?>
<annotation>
  <file>{id}.jpg</file>
  <bboxes>
{boxes}
  </bboxes>
</annotation>
"""


def flickr_xml(folder, name, boxes, extra=""):
    rows = "\n".join(
        f"    <bbox><label>{i}</label><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>{extra}</bbox>"
        for i, b in enumerate(boxes)
    )
    path = folder / f"{name}.xml"
    path.write_text(FLICKR_XML.format(id=name, boxes=rows))
    return path


def test_flickr_folder_keeps_integer_pixels_of_the_256_frame(tmp_path):
    flickr_xml(tmp_path, "10000130166", [(0, 0, 128, 128), (64, 64, 192, 192), (128, 128, 256, 256)])
    flickr_xml(tmp_path, "2432219254", [(10, 20, 30, 40)])
    (tmp_path / "notes.txt").write_text("not an annotation")
    anns, problems = A.read_flickr_xml_dir(tmp_path)
    assert sorted(anns) == ["10000130166", "2432219254"]
    a = anns["10000130166"]
    assert a.boxes == [(0, 0, 128, 128), (64, 64, 192, 192), (128, 128, 256, 256)]
    assert a.fields == ["0", "1", "2"] and a.groups == [1, 1, 1]
    assert (a.width, a.height) == (256, 256)
    assert problems == []


def test_flickr_odd_elements_are_problems_and_bad_numbers_errors(tmp_path):
    path = flickr_xml(tmp_path, "1", [(5, 5, 5, 50)], extra="<extra>9</extra>")
    ann, problems = A.read_flickr_xml(path)
    assert ann.boxes == [(5, 5, 5, 50)]
    assert sorted(p.kind for p in problems) == ["empty_box", "extra_values"]
    path.write_text(path.read_text().replace("<xmin>5</xmin>", "<xmin>five</xmin>"))
    with pytest.raises(SSLPropError, match=r"1\.xml.*'five', not an integer"):
        A.read_flickr_xml(path)
    (tmp_path / "2.xml").write_text("<annotation><bboxes><bbox>")
    with pytest.raises(SSLPropError, match=r"2\.xml: does not parse as XML"):
        A.read_flickr_xml(tmp_path / "2.xml")
    with pytest.raises(SSLPropError, match="not a folder"):
        A.read_flickr_xml_dir(tmp_path / "1.xml")


def test_flickr_non_bbox_children_are_skipped_and_reported(tmp_path):
    path = tmp_path / "7.xml"
    path.write_text("<annotation><size><width>256</width></size><bboxes>"
                    "<bbox><l>a</l><x>1</x><y>2</y><x>3</x><y>4</y></bbox></bboxes></annotation>")
    ann, problems = A.read_flickr_xml(path)
    assert ann.boxes == [(1, 2, 3, 4)] and ann.groups == [1]
    assert [p.kind for p in problems] == ["not_a_bbox"]


def test_vggss_keeps_garbage_and_reports_it(tmp_path):
    data = [
        {"file": "a_000001", "class": "dog barking", "bbox": [[0.1, 0.2, 0.5, 0.6]]},
        {"file": "b_000002", "class": "airplane", "bbox": [[0.6, 0.5, -2.8823037615171176e16, 0.7], [0, 0, 1, 1]]},
        {"file": "c_000003", "class": "nothing", "bbox": []},
    ]
    path = tmp_path / "vggss.json"
    path.write_text(json.dumps(data))
    anns, problems = A.read_vggss(path)
    assert anns["a_000001"].boxes == [(0.1, 0.2, 0.5, 0.6)] and anns["a_000001"].label == "dog barking"
    assert anns["b_000002"].boxes[0][2] == -2.8823037615171176e16  # kept as stored
    kinds = A.summarise_problems(problems)
    assert kinds["coordinate_out_of_range"]["count"] == 1 and kinds["no_boxes"]["count"] == 1
    assert "b_000002" in kinds["coordinate_out_of_range"]["examples"][0]
    assert "x2=-2.8823e+16" in kinds["coordinate_out_of_range"]["examples"][0]


def test_vggss_malformed_entries_name_file_and_entry(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps([{"file": "x", "bbox": [[0, 0, 1]]}]))
    with pytest.raises(SSLPropError, match=r"v\.json entry 0 \(x\) box 0: expected \[x1, y1, x2, y2\]"):
        A.read_vggss(path)
    path.write_text(json.dumps([{"file": "x", "bbox": [[0, 0, "1", 1]]}]))
    with pytest.raises(SSLPropError, match="expected a number"):
        A.read_vggss(path)
    path.write_text("[{")
    with pytest.raises(SSLPropError, match=r"v\.json: does not parse as JSON"):
        A.read_vggss(path)
    path.write_text(json.dumps({"file": "x"}))
    with pytest.raises(SSLPropError, match="expected a JSON list"):
        A.read_vggss(path)


def test_music_reads_the_wdith_typo_and_keeps_entries_without_boxes(tmp_path):
    data = {
        "4Oy5VmaacaI_0_1000/frame_013/00411.jpg": {
            "bbox": [{"box": [224, 0, 239, 358], "normbox": [0.35, 0.0, 0.3734375, 0.9944444444444445], "category_id": 1}],
            "wdith": 640, "height": 360},
        "5_NsbkyLO2Q_0_1000/frame_000/00014.jpg": {"bbox": [], "wdith": 640, "height": 360},
        "x_0_1000/frame_001/00001.jpg": {"bbox": [{"normbox": [0.5, 0.5, 0.25, 0.25], "category_id": 3}], "width": 480, "height": 360},
    }
    path = tmp_path / "solotest.json"
    path.write_text(json.dumps(data))
    anns, problems = A.read_music(path)
    a = anns["4Oy5VmaacaI_0_1000/frame_013/00411.jpg"]
    assert (a.width, a.height) == (640, 360)
    assert a.boxes[0].box == (224, 0, 239, 358) and a.boxes[0].normbox == (0.35, 0.0, 0.3734375, 0.9944444444444445)
    assert a.boxes[0].category == 1
    assert anns["5_NsbkyLO2Q_0_1000/frame_000/00014.jpg"].boxes == []
    b = anns["x_0_1000/frame_001/00001.jpg"]
    assert b.width == 480 and b.boxes[0].box == (240.0, 180.0, 120.0, 90.0)  # from normbox when 'box' is absent
    assert [p.kind for p in problems] == ["no_boxes"]


def test_music_errors_name_the_entry(tmp_path):
    path = tmp_path / "duettest.json"
    path.write_text(json.dumps({"k1": {"bbox": [], "height": 360}}))
    with pytest.raises(SSLPropError, match=r"duettest\.json entry 'k1': missing the frame size"):
        A.read_music(path)
    path.write_text(json.dumps({"k1": {"bbox": [{"normbox": [0, 0, 1]}], "wdith": 640, "height": 360}}))
    with pytest.raises(SSLPropError, match=r"entry 'k1' box 0: 'normbox' must be \[x, y, w, h\]"):
        A.read_music(path)


def test_audioset_instrument(tmp_path):
    data = {"8LYWfpPUokc/3": {"bbox": [{"category": 2, "normbox": [0.7875, 0.5388888888888889, 0.0859375, 0.09305555555555556]},
                                       {"category": 2, "normbox": [0.9, 0.1, 0.2, 0.1]}]},
            "86YDiQjYU1U/8": {"bbox": []}}
    path = tmp_path / "audioset_box.json"
    path.write_text(json.dumps(data))
    anns, problems = A.read_audioset_instrument(path)
    assert anns["8LYWfpPUokc/3"].boxes[0].normbox == (0.7875, 0.5388888888888889, 0.0859375, 0.09305555555555556)
    assert anns["8LYWfpPUokc/3"].boxes[0].category == 2
    assert sorted(p.kind for p in problems) == ["coordinate_out_of_range", "no_boxes"]  # 0.9 + 0.2 > 1


def test_dispatch_and_unknown_format(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps([{"file": "a", "bbox": [[0, 0, 1, 1]]}]))
    anns, _ = A.read_annotations(path, "vggss")
    assert list(anns) == ["a"]
    with pytest.raises(SSLPropError, match="unknown annotation format"):
        A.read_annotations(path, "coco")
    with pytest.raises(SSLPropError, match="no such annotation file"):
        A.read_annotations(tmp_path / "missing.json", "music")
