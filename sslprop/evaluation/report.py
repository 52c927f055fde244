"""The plain-text table of one `sslprop eval` report (`format_report`; `--json` prints the report itself)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# the rates a report may hold, in the table's order (`evaluate` copies these of a --compare report)
RATES = ("ciou@0.5", "ciou@0.3", "iou@0.5", "box_iou@0.5", "auc", "mean_ciou", "silent", "pointing")


def format_report(report: Mapping[str, Any]) -> str:
    """A short plain-text table of one report."""
    rates = [k for k in RATES if k in report]
    ext = report.get("extended")
    if ext:
        rates += [f"ap@{ext['ciou_threshold']:g}", f"max_f1@{ext['ciou_threshold']:g}"]
    lines = [
        f"protocol     {report['protocol']}",
        f"annotations  {report['annotations']}",
        f"predictions  {report['predictions']} ({report['kind']})",
        f"n            {report['n']}",
    ]
    if "map_readout" in report:
        lines.append(f"read-out     {report['map_readout']}")
    ci = report.get("ci", {})
    for k in rates:
        v = report[k]
        band = f"  [{ci[k][0]:.4f}, {ci[k][1]:.4f}]" if k in ci else ""
        lines.append(f"{k:<12} {'-' if v is None else f'{v:.4f}'}{band}")
    if ext:
        lines.append(f"extended     SLAVC AP / max-F1 at cIoU >= {ext['ciou_threshold']:g}, confidence {ext['confidence']}: {ext['n']} samples "
                     f"({ext['n_visible']} visible, {ext['n_nonvisible']} not), max-F1 at confidence >= {ext['f1_confidence']:.4g}, "
                     f"precision {ext['precision']:.4f}" + (f", {ext['missing_nonvisible']} non-visible without prediction"
                                                           if ext["missing_nonvisible"] else ""))
    if ci:
        s = report["ci_settings"]
        lines.append(f"intervals    {100 * s['level']:g} % bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    if "paired" in report:
        c, s = report["compare"], report["paired_settings"]
        lines.append(f"compare      {c['predictions']} ({c['kind']}): " + ", ".join(f"{k} {c[k]:.4f}" for k in report["paired"] if c.get(k) is not None))
        for k, d in report["paired"].items():
            lines.append(f"{'  ' + k:<12} A - B {d['difference']:+.4f}  [{d['low']:+.4f}, {d['high']:+.4f}]"
                         + ("  resolved" if d["resolved"] else "  not resolved"))
        lines.append(f"paired       {100 * s['level']:g} % paired bootstrap, {s['resamples']} resamples of samples, seed {s['seed']}")
    if "coco" in report:
        lines.append(f"coco         {report['coco']['images']} images: {report['coco']['ground_truth']}, {report['coco']['detections']}")
    lines.append(f"excluded     {', '.join(f'{r} {c}' for r, c in report['excluded'].items()) or 'none'}")
    lines.append(f"missing      {report['missing_predictions']} (scored as {report['missing_scored_as']})"
                 + (f", e.g. {', '.join(report['missing_examples'])}" if report["missing_examples"] else ""))
    lines.append(f"unannotated  {report['unannotated_predictions']} prediction ids with no annotation (ignored)")
    if report["outside_ids"]:
        lines.append(f"outside      {report['outside_ids']} annotated ids not in --ids (ignored)")
    if report["empty_predictions"]:
        lines.append(f"empty        {report['empty_predictions']} predictions with no box")
    if report.get("predictions_outside_frame"):
        lines.append(f"off-frame    {report['predictions_outside_frame']} predictions whose box lies wholly outside the frame "
                     f"(scored 0), e.g. {', '.join(report['predictions_outside_examples'])}")
    if report["nan_ciou"]:
        lines.append(f"nan cIoU     {report['nan_ciou']} (empty ground truth and empty prediction: counted as failures)")
    for kind, p in report["problems"].items():
        lines.append(f"problem      {kind}: {p['count']}, e.g. {p['examples'][0]}")
    return "\n".join(lines)
