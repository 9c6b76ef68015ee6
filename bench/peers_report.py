"""Tables and target verdicts of the peers bench, from the per-regime results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peers_run import CONTENDERS

TORCH = ("torch-auto", "torch-block")
NAMES = {
    "torch-auto": "schedule_overlap_bucketing",
    "torch-block": "manual_overlap_bucketing",
    "ctc-auto": "bucket(auto)",
    "ctc-block": "bucket(block)",
    "ctc-tp-auto": "tp_overlap + bucket(auto)",
}
COLUMNS = (
    "contender",
    "step ms",
    "exposed comm ms",
    "peak GiB",
    "collectives",
    "pass s",
    "own LB ms",
    "step / LB",
    "step / torch",
    "exposed / torch",
)


def _best_torch(contenders: dict[str, Any]) -> dict[str, Any] | None:
    """The torch contender with the shortest step (the one to beat)."""
    done = [contenders[key] for key in TORCH if "step_ms" in contenders.get(key, {})]
    return min(done, key=lambda entry: entry["step_ms"]) if done else None


def _ratio(value: float, reference: float | None) -> str:
    if reference is None or reference <= 0:
        return "-"
    return f"{value / reference:.3f}"


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    contenders = result["contenders"]
    bound = result.get("lower_bound_ms")
    best = _best_torch(contenders)
    rows = []
    for key, title in CONTENDERS:
        entry = contenders.get(key, {})
        if "skipped" in entry:
            continue
        if "step_ms" not in entry:
            rows.append([title, f"failed: {entry.get('error', 'not run')}"] + [""] * 8)
            continue
        rows.append(
            [
                title,
                f"{entry['step_ms']:.2f}",
                f"{entry['exposed_comm_ms']:.2f}",
                f"{entry['peak_memory_bytes'] / 2**30:.2f}",
                str(entry["collectives"]),
                f"{entry['pass_s']:.2f}" if key != "none" else "-",
                f"{entry['lower_bound_ms']:.2f}",
                _ratio(entry["step_ms"], bound),
                _ratio(entry["step_ms"], best["step_ms"] if best else None),
                _ratio(entry["exposed_comm_ms"], best["exposed_comm_ms"] if best else None),
            ]
        )
    return rows


def heading(result: dict[str, Any]) -> str:
    regime = result["regime"]
    layers = "all layers" if regime["layers"] is None else f"first {regime['layers']} layers"
    return (
        f"{regime['title']}: {regime['model']} {regime['flavor']} ({layers}), seq "
        f"{regime['seq_len']}, batch {regime['batch']}, mesh {regime['mesh']}, "
        f"{regime['device']} with {regime['gpus_per_node']} GPUs/node; captured once: "
        f"{result.get('nodes', '?')} nodes in {result.get('capture_s', 0):.0f} s; lower bound "
        f"(input graph) {result.get('lower_bound_ms') or 0:.2f} ms"
    )


def text_table(result: dict[str, Any]) -> str:
    rows = [list(COLUMNS), *table_rows(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [heading(result)]
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  " + "  ".join(cells))
        if number == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(result: dict[str, Any]) -> str:
    lines = [f"**{heading(result)}**", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
    for row in table_rows(result):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines)


def verdicts(results: Sequence[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """(target, met (None: not measurable), the numbers) for each of issue 5's targets."""
    out: list[tuple[str, bool | None, str]] = []
    for result in results:
        key = result["regime"]["key"]
        contenders = result["contenders"]
        auto = contenders.get("ctc-auto", {})
        best = _best_torch(contenders)
        if "step_ms" not in auto:
            out.append((f"{key}: ctc bucket(auto) ran", False, auto.get("error", "")))
            continue
        if result["regime"]["kind"] == "compute":
            bound = result["lower_bound_ms"]
            for contender in ("ctc-auto", "ctc-tp-auto"):
                entry = contenders.get(contender, {})
                if "step_ms" not in entry:
                    continue
                ratio = entry["step_ms"] / bound
                out.append(
                    (
                        f"{key}: {NAMES[contender]} within 3% of the original graph's lower bound",
                        ratio <= 1.03,
                        f"{entry['step_ms']:.2f} ms / {bound:.2f} ms = {ratio:.3f}",
                    )
                )
        elif best is not None:
            limit = best["exposed_comm_ms"] / 2
            out.append(
                (
                    f"{key}: bucket(auto) exposed comm at most half of torch's best",
                    auto["exposed_comm_ms"] <= limit,
                    f"{auto['exposed_comm_ms']:.2f} ms vs torch {best['exposed_comm_ms']:.2f} ms",
                )
            )
        peaks = {k: contenders[k]["peak_memory_bytes"] for k in TORCH if "step_ms" in contenders[k]}
        if peaks:
            ours = auto["peak_memory_bytes"]
            shown = ", ".join(f"{NAMES[k]} {v / 2**30:.3f}" for k, v in peaks.items())
            out.append(
                (
                    f"{key}: bucket(auto) peak memory no higher than either torch pass's",
                    all(ours <= theirs for theirs in peaks.values()),
                    f"{ours / 2**30:.3f} GiB vs {shown} GiB",
                )
            )
        if result["regime"]["model"] == "llama3":
            for ours_key, theirs_key in (("ctc-auto", "torch-auto"), ("ctc-block", "torch-block")):
                mine, theirs = contenders.get(ours_key, {}), contenders.get(theirs_key, {})
                if "pass_s" not in mine or "pass_s" not in theirs:
                    continue
                out.append(
                    (
                        f"{key}: {NAMES[ours_key]} pass time at most half of {NAMES[theirs_key]}'s",
                        mine["pass_s"] <= theirs["pass_s"] / 2,
                        f"{mine['pass_s']:.2f} s vs {theirs['pass_s']:.2f} s",
                    )
                )
    return out
