"""The notebooks' generated sentences: each compares our numbers with the paper's from the rows themselves, so the prose cannot drift from the table."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sslprop.lab.claims import identical
from sslprop.lab.published import PAPER_TABLE1
from sslprop.lab.workflow import training_summary


def describe_table1(rows: Sequence[Mapping[str, Any]], paper_column: str, name: str,
                    paired: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """One paragraph comparing our Table 1 rows (`table1`) with the paper's column ("AVE" or "SSL"), read off the numbers.

    It says whether the OR criterion beats the better single criterion here as in the paper, and whether
    any criterion beats answering "on-screen" for every frame (the majority floor). paired: the paired
    differences of `onscreen_report` ({"m_on || d_on - m_on": {...}, "m_on || d_on - d_on": {...}}, shares):
    the paragraph then says whether the OR's difference to the better single criterion is resolved.
    """
    acc = {r["criterion"]: 100.0 * float(r["accuracy"]) for r in rows}
    paper = {r["criterion"]: float(r[paper_column]) for r in PAPER_TABLE1}
    singles = ("m_on", "d_on")
    best_p = max(singles, key=lambda c: paper[c])
    best = max(singles, key=lambda c: acc[c])
    gain_p = paper["m_on || d_on"] - paper[best_p]
    gain = acc["m_on || d_on"] - acc[best]
    floor = acc["always on-screen"]
    top = max(acc[c] for c in (*singles, "m_on || d_on"))
    if gain > 0:
        or_text = f"here too it is the best, {gain:.1f} points above {best} ({acc[best]:.1f}%): this agrees with the paper"
    elif gain == 0:
        or_text = f"here it ties with {best} ({acc[best]:.1f}%): the paper's gain from combining them is not reproduced"
    else:
        or_text = f"here it is {-gain:.1f} points below {best} ({acc[best]:.1f}%): the paper's gain from combining them is not reproduced"
    if any(np.isnan(float(r["off-screen called off"])) or np.isnan(float(r["on-screen called on"])) for r in rows):
        floor_text = ("This set has frames of one class only, so accuracy here measures only how often a criterion "
                      "gives that one answer, not whether it separates on- from off-screen sound.")
    elif top > floor:
        floor_text = (f"The best criterion beats answering \"on-screen\" for every frame ({floor:.1f}%) by {top - floor:.1f} points, "
                      "so the model does separate on- from off-screen sound to that extent.")
    else:
        floor_text = (f"No criterion beats answering \"on-screen\" for every frame ({floor:.1f}%), so on this set the model "
                      "does not yet tell on- from off-screen sound; the accuracies mostly reflect the class balance.")
    d = (paired or {}).get(f"m_on || d_on - {best}")
    if d is not None:
        or_text += "; " + resolution({k: 100.0 * v if k != "resolved" else v for k, v in d.items()})
    return (f"{name} vs. the paper's {paper_column}: the paper's m_on || d_on ({paper['m_on || d_on']:.1f}%) is "
            f"{gain_p:.1f} points above its better single criterion ({best_p}, {paper[best_p]:.1f}%); {or_text}. "
            f"Our accuracies are m_on {acc['m_on']:.1f}%, d_on {acc['d_on']:.1f}%, m_on || d_on {acc['m_on || d_on']:.1f}%. "
            + floor_text)


Paired = Callable[[tuple[str, str], tuple[str, str]], Mapping[str, Any]]  # ((row, column), (row, column)) -> paired difference


def resolution(d: Mapping[str, Any] | None, unit: str = "points") -> str:
    """The paired difference {"difference", "low", "high", "resolved"} as a clause, e.g.
    "the difference, +3.1 points [-1.2, +7.4], is not resolved by the test frames (its 95 % interval holds 0)";
    a difference of exactly 0 with an interval of exactly [0, 0] (`claims.identical`) is no difference, not an
    unresolved one: "there is no difference, +0.0 points [+0.0, +0.0]: the two give the same results on the test frames"."""
    if d is None:
        return ""
    if identical(d):
        return f"there is no difference, {d['difference']:+.1f} {unit} [{d['low']:+.1f}, {d['high']:+.1f}]: the two give the same results on the test frames"
    text = f"the difference, {d['difference']:+.1f} {unit} [{d['low']:+.1f}, {d['high']:+.1f}], "
    return text + ("is resolved by the test frames (its 95 % interval excludes 0)" if d["resolved"]
                   else "is not resolved by the test frames (its 95 % interval holds 0)")


def compare_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                     name: str, others: Sequence[str], paired: Paired | None = None) -> str:
    """One sentence, from the numbers alone, on whether row `name` leads `others` in `column` as in the paper.

    E.g. "scenes cIoU@0.5: Ours 41.2 vs. best other 38.0 (SS-Hard-Way); the paper: Ours 72.8 vs. 69.9 (SS-Hard-Way);
    the order agrees." Rows missing on either side are left out. With `paired` (`sslprop.lab.tables.Comparer`), it
    ends by saying whether our difference to the best other is resolved by the test frames.
    """
    def best_other(table: Sequence[Mapping[str, Any]]) -> tuple[str, float] | None:
        cands = [(r[key], r[column]) for r in table if r[key] in others and r.get(column) is not None]
        return max(cands, key=lambda c: c[1]) if cands else None

    mine, theirs = value(rows, key, column, name), value(paper, key, column, name)
    ours_other, paper_other = best_other(rows), best_other(paper)
    if mine is None or ours_other is None:
        return f"{column}: not computed."
    text = f"{column}: {name} {mine:.1f} vs. best other {ours_other[1]:.1f} ({ours_other[0]})"
    tail = "" if paired is None else "; " + resolution(paired((name, column), (ours_other[0], column)))
    if theirs is None or paper_other is None:
        return text + tail + "."
    text += f"; the paper: {name} {theirs:.1f} vs. {paper_other[1]:.1f} ({paper_other[0]})"
    ours_leads, paper_leads = mine > ours_other[1], theirs > paper_other[1]
    if ours_leads == paper_leads:
        return text + f"; the order agrees ({name} {'leads' if ours_leads else 'does not lead'} in both){tail}."
    return text + f"; the order differs ({name} {'leads' if ours_leads else 'does not lead'} here, "\
                  f"{'leads' if paper_leads else 'does not lead'} in the paper){tail}."


def value(rows: Sequence[Mapping[str, Any]], key: str, column: str, name: str) -> float | None:
    return next((r[column] for r in rows if r[key] == name and r.get(column) is not None), None)


def delta_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                   a: str, b: str, paired: Paired | None = None) -> str:
    """One sentence on the difference `a` - `b` in `column`, here and in the paper, and whether its sign agrees.

    E.g. "cIoU@0.5, Ours (K=20) - Ours - ProSelectNet: -1.2 here, +13.9 in the paper; the sign differs."
    With `paired`, it also says whether the difference here is resolved by the test frames.
    """
    mine = [value(rows, key, column, n) for n in (a, b)]
    theirs = [value(paper, key, column, n) for n in (a, b)]
    d = None if paired is None or None in mine else paired((a, column), (b, column))
    return _delta_text(f"{column}, [{a}] - [{b}]", mine, theirs, d)


def gap_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, name: str,
                 a: str, b: str, paired: Paired | None = None) -> str:
    """One sentence on column `a` - column `b` in row `name`, here and in the paper, and whether its sign agrees.

    E.g. "10k, [cIoU@0.5 Ours] - [cIoU@0.5 Attention]: +1.0 here, +1.8 in the paper; the sign agrees."
    With `paired`, it also says whether the difference here is resolved by the test frames.
    """
    mine = [value(rows, key, c, name) for c in (a, b)]
    theirs = [value(paper, key, c, name) for c in (a, b)]
    d = None if paired is None or None in mine else paired((name, a), (name, b))
    return _delta_text(f"{name}, [{a}] - [{b}]", mine, theirs, d)


def _delta_text(what: str, mine: Sequence[float | None], theirs: Sequence[float | None],
                paired: Mapping[str, Any] | None = None) -> str:
    if None in mine:
        return f"{what}: not computed."
    d = mine[0] - mine[1]
    text = f"{what}: {d:+.1f} here"
    tail = "" if paired is None else "; " + resolution(paired)
    if None in theirs:
        return text + tail + "."
    p = theirs[0] - theirs[1]
    return text + f", {p:+.1f} in the paper; the sign {'agrees' if _sign(d) == _sign(p) else 'differs'}{tail}."


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def best_sentence(rows: Sequence[Mapping[str, Any]], paper: Sequence[Mapping[str, Any]], key: str, column: str,
                  names: Sequence[str], paired: Paired | None = None) -> str:
    """One sentence naming the best of `names` in `column` here and in the paper (ties: every best one).

    With `paired`, it also says whether the best's lead over the runner-up here is resolved by the test frames.
    """
    def best(table: Sequence[Mapping[str, Any]]) -> list[str]:
        vals = {n: value(table, key, column, n) for n in names}
        vals = {n: v for n, v in vals.items() if v is not None}
        top = max(vals.values(), default=None)
        return [n for n, v in vals.items() if v == top]

    mine, theirs = best(rows), best(paper)
    if not mine:
        return f"{column}: not computed."
    text = f"{column}: best here {' = '.join(mine)}"
    if paired is not None:
        rest = sorted(((value(rows, key, column, n), n) for n in names if n not in mine and value(rows, key, column, n) is not None),
                      reverse=True)
        if rest:
            text += f"; its lead over the runner-up ({rest[0][1]}): " + resolution(paired((mine[0], column), (rest[0][1], column)))
    if not theirs:
        return text + "."
    return text + f"; in the paper {' = '.join(theirs)}; {'the same' if set(mine) == set(theirs) else 'not the same'}."


def training_sentence(run: str | os.PathLike) -> str:
    """One generated sentence: the run's last L_tri beside chance, and whether that shows learning."""
    t = training_summary(run)
    verdict = ("the proposal-level features are closer to their own audio than to another video's: the model has learned"
               if t["learned"] else "not 0.02 below chance: this run has not learned to tell its audio from another video's")
    span = (f"L_tri {t['last L_tri']:.3f} after its one epoch" if t["epochs"] == 1 else
            f"L_tri {t['first L_tri']:.3f} in epoch 1, {t['last L_tri']:.3f} in epoch {t['epochs']}")
    return f"Run {t['run']}: {span} (chance {t['chance']:.3f}); {verdict}."
