"""Tables of ``bench/validate.py``: measured against simulated step times, rankings, and where
the time goes by kind of op (measured by torch's profiler against the cost model)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

TARGET = 0.15  # issue 13: within 15% per row
STAGES = ("fwd", "bwd")


def op_kind(name: str) -> str:
    """The cost model's kinds, by IR op name (``validate_run.kind_of`` does the same for the
    profiler's names)."""
    if name == "coll.wait":
        return "wait"
    if name.startswith("coll."):
        return "collective issue"
    packet = name.split(".")[1] if name.startswith("aten.") else name
    if packet in ("mm", "bmm", "addmm", "_grouped_mm"):
        return "matmul"
    if "attention" in packet:
        return "attention"
    return "other kernels"  # the name validate_run.kind_of gives the profiler's other aten ops


def simulated_kinds(func: Any, model: Any, report: Any) -> dict[str, float]:
    """Simulated compute-stream milliseconds by kind, and the exposed wait."""
    from ctc.ir.ops import CollectiveOp
    from ctc.schedule.graph import flatten
    from ctc.schedule.opinfo import is_view

    kinds: dict[str, float] = {}
    for op in flatten(func).ops:
        if isinstance(op, CollectiveOp):
            seconds, kind = model.issue_time(op), "collective issue"
        else:
            seconds = model.op_time(op)
            kind = "view" if is_view(op) else op_kind(op.name)
        kinds[kind] = kinds.get(kind, 0.0) + seconds * 1e3
    kinds["wait"] = report.exposed_comm_ms
    return kinds


def _run_medians(result: dict[str, Any], name: str) -> list[float]:
    runs = [r for r in result["runs"] + result.get("earlier_runs", []) if name in r["step_s"]]
    return [statistics.median(r["step_s"][name]) * 1e3 for r in runs]


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    loads = [r["load_before"] for r in result["runs"]]
    for name, simulated in result["simulated"].items():
        medians = _run_medians(result, name)
        measured = statistics.median(medians)
        predicted = sum(simulated[stage]["step_ms"] for stage in STAGES if stage in simulated)
        rows.append(
            {
                "model": result["model"],
                "ranks": result["ranks"],
                "mesh": result["mesh"],
                "pipeline": name,
                "measured_ms": measured,
                "spread_ms": (min(medians), max(medians)),
                "runs": len(medians),
                "simulated_ms": predicted,
                "joint_ms": simulated.get("joint", {}).get("step_ms"),
                "error": (predicted - measured) / measured,
                "load": (min(loads), max(loads)),
            }
        )
    return rows


def ranking(rows: Sequence[dict[str, Any]]) -> tuple[str, bool]:
    """The measured order (ties: spreads that overlap) and whether the simulated order agrees
    on every pair that is not tied."""
    ordered = sorted(rows, key=lambda r: r["measured_ms"])
    agrees = True
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            tied = first["spread_ms"][1] >= second["spread_ms"][0]
            if not tied and first["simulated_ms"] > second["simulated_ms"]:
                agrees = False
    parts = []
    for row in ordered:
        tied = parts and ordered[len(parts) - 1]["spread_ms"][1] >= row["spread_ms"][0]
        parts.append(("= " if tied else "< ") + row["pipeline"] if parts else row["pipeline"])
    return " ".join(parts), agrees


COLUMNS = (
    "model",
    "ranks",
    "pipeline",
    "measured ms",
    "spread (run medians)",
    "simulated ms",
    "error",
    "joint sim ms",
    "load avg",
)


def _cells(row: dict[str, Any]) -> list[str]:
    low, high = row["spread_ms"]
    return [
        row["model"],
        f"{row['ranks']} ({row['mesh']})",
        row["pipeline"],
        f"{row['measured_ms']:.0f}",
        f"{low:.0f}-{high:.0f} ({row['runs']} runs)",
        f"{row['simulated_ms']:.0f}",
        f"{row['error']:+.0%}" + ("" if abs(row["error"]) <= TARGET else " (!)"),
        f"{row['joint_ms']:.0f}" if row["joint_ms"] is not None else "-",
        f"{row['load'][0]:.1f}-{row['load'][1]:.1f}",
    ]


def _kind_lines(result: dict[str, Any]) -> list[str]:
    """Measured (profiler, rank 0, one step) against simulated milliseconds by kind."""
    lines = []
    attribution = result["runs"][0].get("attribution") or {}
    for name, measured in attribution.items():
        simulated = result["simulated"].get(name, {})
        kinds: dict[str, float] = {}
        for stage in STAGES:
            for kind, value in simulated.get(f"{stage}_kinds", {}).items():
                kinds[kind] = kinds.get(kind, 0.0) + value
        if not measured:
            continue
        names = sorted(set(kinds) | set(measured) - {"step"})
        shown = ", ".join(
            f"{kind} {measured.get(kind, 0):.0f}/{kinds.get(kind, 0):.0f}" for kind in names
        )
        lines.append(
            f"{result['model']} {result['ranks']} ranks, {name} (step {measured['step']:.0f} ms "
            f"profiled): measured/simulated ms by kind: {shown}"
        )
    return lines


def report_text(results: Sequence[dict[str, Any]]) -> str:
    table = [list(COLUMNS)]
    lines = []
    for result in results:
        rows = rows_of(result)
        table += [_cells(row) for row in rows]
        order, agrees = ranking(rows)
        lines.append(
            f"{result['model']} on {result['ranks']} ranks: measured {order}; simulated ranking "
            f"{'agrees' if agrees else 'DISAGREES'}"
        )
        lines += _kind_lines(result)
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in table]
    return "\n".join([*text, "", *lines])


def report_markdown(results: Sequence[dict[str, Any]]) -> str:
    out = ["<!-- generated by bench/validate.py; do not edit -->", ""]
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + "|")
    notes = []
    for result in results:
        rows = rows_of(result)
        out += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
        order, agrees = ranking(rows)
        notes.append(
            f"- {result['model']} on {result['ranks']} ranks: measured {order}; simulated "
            f"ranking {'agrees' if agrees else '**disagrees**'}"
        )
        notes += [f"- {line}" for line in _kind_lines(result)]
        if result.get("calibration_load") is not None:
            notes.append(
                f"- profile cpu{result['ranks']}.json calibrated at load average "
                f"{result['calibration_load']:.1f}"
            )
    return "\n".join([*out, "", *sorted(set(notes), key=notes.index)]) + "\n"
