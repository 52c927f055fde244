"""`sslprop.evaluation.testsets` on small fixtures in the real lists' formats."""

import json

from sslprop.evaluation import testsets


def _fixtures(tmp_path):
    vggss = tmp_path / "vggss.json"
    vggss.write_text(json.dumps([
        {"file": "aaa_000010", "class": "x", "bbox": [[0.0, 0.0, 1.0, 1.0]]},  # the whole frame
        {"file": "bbb_000030", "class": "y", "bbox": [[0.25, 0.25, 0.75, 0.75]]},  # the centre box
        {"file": "ccc_000005", "class": "z", "bbox": [[0.0, 0.0, 0.1, 0.1]]},
    ]))
    full = tmp_path / "vggss_test.csv"
    full.write_text("aaa_000010\r\nbbb_000030\r\nccc_000005\r\n")  # LVS / SSPL style
    tie = tmp_path / "test_vggss_2.txt"
    tie.write_text("aaa_000010.jpg\nbbb_000030.jpg\nzzz_000001.jpg")  # SSL-TIE style, one id without annotation
    f249 = tmp_path / "flickr_test.csv"
    f249.write_text("100,3\r\n200,0\r\n")
    f250 = tmp_path / "test_list.txt"
    f250.write_text("100.png\n200.png\n300.png\n")
    return vggss, {"mine-3": full, "tie-3": tie, "flickr-a": f249, "flickr-b": f250}


def test_version_table_counts_overlaps_and_floors(tmp_path):
    vggss, lists = _fixtures(tmp_path)
    t = testsets.version_table(lists, vggss=vggss, floors=("full-frame", "center"))
    rows = {r["name"]: r for r in t["versions"]}
    assert rows["mine-3"]["dataset"] == "vggss" and rows["mine-3"]["ids"] == 3 and rows["mine-3"]["annotated"] == 3
    assert rows["tie-3"]["ids"] == 3 and rows["tie-3"]["annotated"] == 2
    (lvs,) = rows["mine-3"]["floors"]
    assert lvs["protocol"] == "lvs" and lvs["n"] == 3
    assert abs(lvs["full-frame"]["ciou@0.5"] - 1 / 3) < 1e-9 and abs(lvs["center"]["ciou@0.5"] - 1 / 3) < 1e-9
    assert rows["tie-3"]["floors"][0]["n"] == 2 and rows["tie-3"]["floors"][0]["full-frame"]["ciou@0.5"] == 0.5
    assert rows["flickr-a"]["dataset"] == "flickr" and rows["flickr-a"]["annotated"] is None
    assert rows["flickr-a"]["floors"] == [] and "no Flickr-SoundNet XML" in rows["flickr-a"]["why"]
    over = {(o["a"], o["b"]): o for o in t["overlaps"]}
    assert over[("mine-3", "tie-3")]["common"] == 2 and over[("mine-3", "tie-3")]["only_a"] == ["ccc_000005"]
    assert over[("mine-3", "tie-3")]["only_b"] == ["zzz_000001"]
    assert over[("flickr-a", "flickr-b")]["only_b"] == ["300"] and ("mine-3", "flickr-a") not in over
    md = testsets.markdown(t)
    assert "| `tie-3` | VGG-SS | 3 |" in md and "0.5000 /" in md and "1: `300`" in md
    widths = {line.count("|") for line in md.split("\n\n")[0].splitlines()}
    assert len(widths) == 1  # every row of the first table has as many cells as its header


def test_known_versions_bring_users_and_protocols(tmp_path):
    vggss, lists = _fixtures(tmp_path)
    t = testsets.version_table({"vggss-4692": lists["mine-3"]}, vggss=vggss, floors=("full-frame",))
    (row,) = t["versions"]
    assert row["users"] == "SSPL" and [e["protocol"] for e in row["floors"]] == ["lvs", "sspl"]


def test_command_prints_markdown_and_fails_in_one_line(tmp_path, capsys):
    vggss, lists = _fixtures(tmp_path)
    assert testsets.main(["--vggss", str(vggss), "--floors", "center", "--lists", f"a={lists['tie-3']}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| version |") and "centre box" in out
    assert testsets.main(["--vggss", str(vggss), "--lists", "nameless"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, ")
    assert testsets.main(["--vggss", str(vggss), "--lists", f"a={bad}"]) == 2
    err = capsys.readouterr().err
    assert "does not parse as JSON" in err and err.count("\n") == 1
