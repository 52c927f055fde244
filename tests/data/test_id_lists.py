"""`read_id_list` / `match_ids` on small fixtures written in each real test list's format."""

import json

import pytest

from sslprop.data import annotations as A
from sslprop.errors import SSLPropError


@pytest.mark.parametrize("name, text, expected", [
    # LVS / EZ-VSL / SSPL flickr_test.csv: "id,int", CRLF, no header
    ("flickr_test.csv", "10000130166,202\r\n10007936344,0\r\n", ["10000130166", "10007936344"]),
    # Senocak's test_list.txt: "<id>.png" per line
    ("test_list.txt", "2432219254.png\n2542659118.png\n", ["2432219254", "2542659118"]),
    # SSL-TIE test_flickr_250.txt: "<id>.jpg", no final newline
    ("test_flickr_250.txt", "10000130166.jpg\n9761803312.jpg", ["10000130166", "9761803312"]),
    # SSPL vggss_test_4692.csv / LVS vggss_test.csv: one clip id per line, CRLF
    ("vggss_test_4692.csv", "zpWuikVorYg_000032\r\ngEvCUcZ6w88_000030\r\n", ["zpWuikVorYg_000032", "gEvCUcZ6w88_000030"]),
    # SSL-TIE test_vggss_4911.txt: "<clip id>.jpg", no final newline
    ("test_vggss_4911.txt", "nqd6uO6hDSo_000030.jpg\n-xrRVADA0Jk_000104.jpg", ["nqd6uO6hDSo_000030", "-xrRVADA0Jk_000104"]),
    # a csv with a header line (SLAVC's *_plus_silent.csv style) and quoted fields, a BOM
    ("with_header.csv", "\ufeffvideo,audio,label\n\"100\",\"100\",sounding\n200.mp4,201,non-sounding\n", ["100", "200"]),
    ("file_header.csv", "file,class\nabc_000010.mp4,dog\n", ["abc_000010"]),
    ("tabs.tsv", "# comment\nabc_000010\tdog\n\n def_000020 \n", ["abc_000010", "def_000020"]),
])
def test_text_lists(tmp_path, name, text, expected):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    assert A.read_id_list(p) == expected


def test_json_lists(tmp_path):
    cases = {
        "vggss.json": [{"file": "zpWuikVorYg_000032", "class": "elk bugling", "bbox": [[0.4, 0.25, 0.6, 0.75]]},
                       {"file": "gEvCUcZ6w88_000030", "class": "x", "bbox": []}],
        "plain.json": ["zpWuikVorYg_000032.mp4", "gEvCUcZ6w88_000030"],
        "keyed.json": {"zpWuikVorYg_000032": {"class": "a"}, "gEvCUcZ6w88_000030": {"class": "b"}},
        "named.json": {"test": ["zpWuikVorYg_000032", "gEvCUcZ6w88_000030.jpg"]},
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_text(json.dumps(data))
        assert A.read_id_list(p) == ["zpWuikVorYg_000032", "gEvCUcZ6w88_000030"], name
    p = tmp_path / "noext"
    p.write_text(json.dumps([{"file": "a.jpg"}]))  # recognised by its content
    assert A.read_id_list(p) == ["a"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"file,class\n", "empty"),
    (b"\xff\xfe\x00a\x00b", "not UTF-8"),
    (b"a\x00b\n", "binary"),
    (b"[1, 2", "does not parse as JSON"),
    (b'[{"class": "dog"}]', 'no'),
])
def test_unreadable_lists_are_one_line_errors(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(SSLPropError) as e:
        A.read_id_list(p)
    assert message in str(e.value) and "\n" not in str(e.value) and str(p) in str(e.value)
    with pytest.raises(SSLPropError, match="must be a list or an object"):
        (tmp_path / "bad.json").write_text('"just a string"')
        A.read_id_list(tmp_path / "bad.json")
    with pytest.raises(SSLPropError, match="no such id list"):
        A.read_id_list(tmp_path / "absent.csv")
    with pytest.raises(SSLPropError, match="no such id list"):
        A.read_id_list(tmp_path)


def test_match_ids_maps_youtube_and_clip_ids_when_unambiguous():
    keys = {"abc_000030", "two_000010", "two_000020", "bare", "10000130166"}
    ids, loose = A.match_ids(["abc_000030", "abc", "abc_30", "two", "bare_000005", "10000130166", "zzz"], keys)
    assert ids == ["abc_000030", "abc_000030", "abc_000030", "two", "bare", "10000130166", "zzz"]
    assert loose == 3


def test_eval_ids_matches_bare_youtube_ids_and_counts_the_rest(tmp_path):
    from sslprop.evaluation.evaluate import evaluate

    ann = tmp_path / "vggss.json"
    ann.write_text(json.dumps([{"file": "abc_000030", "class": "x", "bbox": [[0, 0, 1, 1]]},
                               {"file": "def_000010", "class": "y", "bbox": [[0, 0, 1, 1]]}]))
    ids = tmp_path / "ids.txt"
    ids.write_text("abc.mp4\nzzz_000001.jpg\n")
    r = evaluate(ann, "lvs", method="full-frame", ids=ids)
    assert r["n"] == 1 and r["outside_ids"] == 1 and r["excluded"]["no_annotation"] == 1
