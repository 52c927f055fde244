"""The README's results section, generated from the tables `make reproduce` writes into figures/.

    python -m sslprop.lab.readme README.md figures     # rewrite the block between the markers

The block between ``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced by
`results_block(figures)`: Table 2 (each method in its own paradigm, the floors), Table 1 on
`scenes`, Table 3, the claims ledger of notebook 09 and the wall time of the run, each read from its CSV. Nothing in it is typed
by hand; `tests/lab/test_readme.py` checks that the committed README holds the block of the
committed figures.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sslprop.cli import one_line_errors
from sslprop.errors import SSLPropError

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
    """The README's results section from the CSV tables of `figures` (percent as the notebooks write them)."""
    figures = Path(figures)
    from sslprop.lab.viz import merge_intervals

    t2 = merge_intervals([r for r in read_csv(figures / "06_table2.csv") if "map box" not in r["method"]])
    t1 = read_csv(figures / "05_table1_scenes.csv")
    for r in t1:  # shares -> percent
        for c in ("accuracy", "accuracy low", "accuracy high", "on-screen called on", "off-screen called off"):
            if r.get(c):
                r[c] = f"{100 * float(r[c]):.1f}"
    t1 = merge_intervals(t1)
    t3 = merge_intervals(read_csv(figures / "07_table3.csv"))
    ledger = read_csv(figures / "09_claims.csv")
    for r in ledger:
        r["ours: deciding difference [95 % interval]"] = (
            "not computed" if not r["difference"] or r["difference"] == "-"
            else f"{float(r['difference']):+.1f} [{float(r['low']):+.1f}, {float(r['high']):+.1f}]")
        r["verdict"] = f"**{r['verdict']}**" if r["verdict"] != "unresolved" else r["verdict"]
    verdicts = {v: sum(r["verdict"].strip("*") == v for r in ledger) for v in ("holds", "contradicted", "unresolved")}
    time_file = figures / TIME_FILE
    wall = time_file.read_text(encoding="utf-8").strip() if time_file.is_file() else "not recorded"
    n = t3[0]["n"] if t3 else "?"
    return "\n\n".join([
        f"Measured by `make reproduce` on the embedded benchmark, cpu profile, seed 0 ({wall}). Percent; "
        f"`scenes` is scored on {n} on-screen test frames, one frame being {100 / max(int(n), 1):.2f} points. "
        "Brackets: 95 % bootstrap intervals over the test samples (`sslprop eval --ci`). "
        "The paper's numbers stand beside ours in the notebooks and in `figures/*_paper.md`.",
        f"**The claims ledger** (`figures/09_claims.md`, notebook 09): each claim of the paper decided by its interval: "
        f"{verdicts['holds']} hold, {verdicts['contradicted']} are contradicted, {verdicts['unresolved']} are unresolved. "
        "Differences in points (Fig. 3: correlation r); a claim of several comparisons shows the one that decides it.",
        markdown(ledger, ["source", "data set", "claim", "paper", "ours: deciding difference [95 % interval]", "verdict"]),
        "**Table 2** (`figures/06_table2.md`): every method in its own paradigm (the map-based ones on their maps), "
        "with the floors that need no model.",
        markdown(t2, list(t2[0].keys()), bold="Ours"),
        "**Table 1** on `scenes` (`figures/05_table1_scenes.md`): on/off-screen decisions.",
        markdown(t1, list(t1[0].keys())),
        "**Table 3** on `scenes` (`figures/07_table3.md`): ablations.",
        markdown(t3, [c for c in t3[0].keys() if c != "n"]),
    ])


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
