"""The README's results section, generated from the tables `make reproduce` writes into figures/.

    python -m sslprop.lab.readme README.md figures     # rewrite the block between the markers

The block between ``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced by
`results_block(figures)`: the claims ledger of notebook 09, Table 2's `scenes` cIoU@0.5 (each
method in its own paradigm, the floors) and the wall time of the run, each read from its CSV. Nothing in it is typed
by hand; `tests/lab/test_readme.py` checks that the committed README holds the block of the
committed figures.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sslprop.errors import SSLPropError, one_line_errors
from sslprop.lab.claims import summary
from sslprop.lab.viz import merge_intervals

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
TIME_FILE = "reproduce.txt"  # one line written by `make reproduce`: its wall time


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of one of the notebooks' CSV tables; a missing file is a one-line error."""
    if not path.is_file():
        raise SSLPropError(f"{path}: missing (run make reproduce)")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def markdown(rows: list[dict[str, str]], columns: list[str], bold: str | None = None) -> str:
    """A Markdown table of `columns`; the row whose first column is `bold` in bold."""
    def cell(row: dict[str, str], c: str) -> str:
        v = row.get(c, "")
        try:
            v = f"{float(v):.1f}" if "." in v else v
        except ValueError:
            pass
        v = v.replace("|", "\\|")
        return f"**{v}**" if bold is not None and row[columns[0]] == bold else v

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def results_block(figures: str | Path) -> str:
    """The README's results section from the CSV tables of `figures` (percent as the notebooks write them): the claims
    ledger of notebook 09 (the rows not in the paper summarised in one line) and Table 2's `scenes` columns."""

    figures = Path(figures)
    t2 = merge_intervals([{k: v for k, v in r.items() if k == "method" or k.startswith("scenes cIoU")}
                          for r in read_csv(figures / "06_table2.csv")
                          if "map box" not in r["method"] and r.get("scenes cIoU@0.5") not in ("", "-", None)])
    ledger = read_csv(figures / "09_claims.csv")
    extra = [r for r in ledger if "extra" in r["source"]]  # rows not in the paper ("Table 2, extra", "Listening, extra", ...)
    paper = [r for r in ledger if "extra" not in r["source"]]
    verdicts = summary(paper)  # before the verdicts below are set in bold
    for r in paper:
        r["where"] = f"{r['source']}, {r['data set'].split(' (')[0]}"
        r["deciding difference [95 %]"] = (
            "-" if not r["difference"] or r["difference"] == "-"
            else f"{float(r['difference']):+.1f} [{float(r['low']):+.1f}, {float(r['high']):+.1f}]")
        r["verdict"] = f"**{r['verdict']}**" if r["verdict"] != "unresolved" else r["verdict"]
    time_file = figures / TIME_FILE
    wall = time_file.read_text(encoding="utf-8").strip() if time_file.is_file() else "not recorded"
    scenes = read_csv(figures / "07_table3.csv")
    n = scenes[0]["n"] if scenes else "?"
    return "\n\n".join([
        f"Measured by `make reproduce` on the embedded benchmark, cpu profile, seed 0 ({wall}). Brackets: 95 % "
        f"bootstrap intervals over the test samples; `scenes` has {n} on-screen test frames.",
        f"**The paper's claims** (`figures/09_claims.md`, notebook 09), each decided by the paired interval of the "
        f"difference it rests on (points; Fig. 3: correlation r): {verdicts}.",
        markdown(paper, ["where", "claim", "deciding difference [95 %]", "verdict"]),
        extras_sentence(extra),
        "**Table 2**, `scenes` cIoU@0.5 (`figures/06_table2.md` has AUC, `solo` and `mosaic`; map methods on their maps):",
        markdown(t2, list(t2[0].keys()), bold="Ours"),
    ])


def extras_sentence(extra: list[dict[str, str]]) -> str:
    """One paragraph on the ledger's rows not in the paper: Ours against the methods users run today and against the
    audio-free prior, the variants of Tables 1 and 3, and which methods listen (notebook 11)."""
    def held(rows: list[dict[str, str]]) -> str:
        return f"holds in {sum(r['verdict'] == 'holds' for r in rows)} of {len(rows)}"

    group = lambda text: [r for r in extra if text in r["claim"]]
    newer = [r for r in extra if r["source"].startswith("Table 2") and "prior" not in r["claim"]]
    prior, listen = group("audio-free prior"), [r for r in extra if r["source"].startswith("Listening")]
    parts = [f"\"Ours beats EZ-VSL, EZ-VSL + OGL, SLAVC\" {held(newer)} comparisons (each method on each data set)"]
    if prior:
        parts.append(f"\"Ours beats the audio-free visual prior\" {held(prior)} (each data set)")
    calibrated = [r for r in extra if r["source"].startswith("Table 1")]
    if calibrated:
        alone = lambda r: "m_on" if "than m_on alone" in r["claim"] else "d_on"
        where = ", ".join(f"{r['data set'].split(' (')[0]} vs. {alone(r)}: {r['verdict']}" for r in calibrated)
        parts.append(f"\"with d_on at its calibrated threshold, m_on || d_on beats m_on and d_on alone\" {held(calibrated)} ({where})")
    for r in extra:
        if r["source"].startswith("Table 3"):
            parts.append(f"\"{r['claim'].replace(' (not in the paper)', '')}\" {r['verdict']}")
    text = "Not in the paper: " + "; ".join(parts) + "."
    if listen:
        who = lambda text: [r["claim"].split(" follows the sound")[0] for r in listen if text in r["claim"] and r["verdict"] == "holds"]
        follows, listens = who("than blind"), who("than another object's sound")
        beats = [r for r in listen if r["claim"].startswith("Ours follows the sound more often than") and "blind" not in r["claim"]]
        text += (" **Does it listen?** (notebook 11: change the sound, keep the frame) "
                 + (f"{', '.join(listens)} land on the object played more often than on it when another object sounds"
                    if listens else "No method lands on the object played more often than when another object sounds")
                 + "; " + (f"{', '.join(follows)} beat the best fixed (deaf) answer" if follows
                           else "none beats the best fixed (deaf) answer, which localises perfectly")
                 + f"; Ours follows the sound more often than {sum(r['verdict'] == 'holds' for r in beats)} of the "
                 f"{len(beats)} map methods.")
    return text


def update_readme(readme: str | Path, figures: str | Path) -> bool:
    """Replace the block between the markers of `readme` with `results_block(figures)`; True when it changed."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SSLPropError(f"{readme}: expected one {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    new = f"{head}{BEGIN}\n{results_block(figures)}\n{END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sslprop.lab.readme", description=__doc__.splitlines()[0])
    p.add_argument("readme", type=Path)
    p.add_argument("figures", type=Path)
    args = p.parse_args(argv)

    def run() -> str:
        changed = update_readme(args.readme, args.figures)
        return f"{args.readme}: results {'updated' if changed else 'unchanged'} from {args.figures}"

    return one_line_errors(run)


if __name__ == "__main__":
    raise SystemExit(main())
