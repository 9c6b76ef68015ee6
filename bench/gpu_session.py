"""The GPU session of issue 14 in one script: what a lent GPU should run, the most important
first, each result printed as soon as it is measured, within a wall-time budget.

1. Bootstrap: the Python packages ctc and its tests need (torch, attrs, networkx, lark; pytest;
   triton on a GPU) with their versions; a missing one is named with the wheel to carry, and
   what needs it is skipped (never a traceback at import).
2. Tests: ``pytest tests/cudagraph/test_gpu.py tests/cudagraph/test_capturable.py -k "not
   llama"`` (the ``gpu`` tests of a one-rank NCCL group; the llama one is left to the bench,
   whose ctc rows train the same step bigger), with a timeout.
3. Bench (``bench/llama_gpu.py``): the plain-torch llama-like step, bf16 autocast, at the sizes
   of issue 14, each (size, contender) in a fresh process with a timeout, so that a crash, a hang
   or a poisoned CUDA context costs one row and peak memory is the contender's own. Order: per
   size (debug first) the CUDA-graph pair (``ctc-cudagraph``, ``reduce-overhead``) then the
   inductor pair (``ctc``, ``compile``); ``eager`` last (the issue quotes eager already). A
   contender that no longer fits in the budget is skipped, said so.
4. Ratios against the issue's targets: ``ctc`` within 3% of ``torch.compile()``,
   ``ctc-cudagraph`` within 3% of ``reduce-overhead``.

Results go to ``--json`` (default ``$OUT/gpu_session.json`` when ``OUT`` is set), rewritten after
every step, so an interrupted session keeps what it measured.

usage: python bench/gpu_session.py [--quick] [--budget-s 380] [--sizes debug,1B] [--json PATH]
       python bench/gpu_session.py --device cpu --quick --sizes tiny     # a dry run on a CPU
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# module -> (what needs it, the wheel that brings it; versions as in the torch 2.11 venv here)
PACKAGES = {
    "torch": ("everything", "torch (the machine's own)"),
    "attrs": ("ctc", "attrs-26.1.0-py3-none-any.whl"),
    "networkx": ("ctc", "networkx-3.6.1-py3-none-any.whl"),
    "lark": ("ctc", "lark-1.3.1-py3-none-any.whl"),
    "pytest": (
        "the tests",
        "pytest-9.2.0, iniconfig-2.3.1, pluggy-1.7.0, packaging-26.4, pygments-2.21.0 "
        "(py3-none-any wheels)",
    ),
    "triton": ("inductor on a GPU", "triton (the machine's torch brings its own)"),
}
QUICK = "20 steps instead of 50, no eager rows"
CUDA_GRAPH_PAIR = ("ctc-cudagraph", "reduce-overhead")  # the targets compare each pair
INDUCTOR_PAIR = ("ctc", "compile")
# Seconds a contender needs at least before it is worth starting, by size.
MINIMUM_S = {"tiny": 20.0, "debug": 40.0, "1B": 70.0}
CONTENDER_CAP_S = 240.0
TARGET_RATIO = 1.03


class Session:
    """The budget, the log of results and where it is written."""

    def __init__(self, budget_s: float, json_path: Path | None) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.json_path = json_path
        self.record: dict[str, Any] = {"budget_s": budget_s, "bench": [], "ratios": []}

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.start:.0f} s"

    def save(self) -> None:
        if self.json_path is None:
            return
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(json.dumps(self.record, indent=2, default=str) + "\n")


def say(line: str) -> None:
    print(line, flush=True)


def bootstrap(device: str) -> dict[str, str | None]:
    """The version of each needed package, None when it does not import."""
    versions: dict[str, str | None] = {}
    for name, (needed_by, wheel) in PACKAGES.items():
        if name == "triton" and device != "cuda":
            continue
        try:
            module = importlib.import_module(name)
        except Exception as error:  # any import failure means the package is not usable
            versions[name] = None
            say(f"MISSING {name} (needed by {needed_by}): {type(error).__name__}: {error}")
            say(f"  carry: {wheel}")
            continue
        versions[name] = str(getattr(module, "__version__", "?"))
    say("packages: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v is not None))
    return versions


def describe_device(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    if device == "cuda" and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        info.update(
            gpu=properties.name,
            gpu_memory_gib=round(properties.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            nccl=".".join(map(str, torch.cuda.nccl.version())),
        )
    say("environment: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    return info


def run_child(command: list[str], timeout_s: float, echo: bool) -> tuple[int | None, list[str]]:
    """Runs ``command`` in its own process group with this repository on PYTHONPATH; its output
    lines (echoed as they come when ``echo``); the exit status, None when it ran out of time."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment.setdefault("NCCL_GRAPH_REGISTER", "0")  # see ctc.cudagraphs
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo:
                say("  " + lines[-1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        status: int | None = process.wait(timeout=max(timeout_s, 1.0))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the child's own group: it and its workers
        process.wait()
        status = None
    reader.join(timeout=5)
    return status, lines


def run_tests(session: Session, timeout_s: float) -> None:
    say(f"== tests (timeout {timeout_s:.0f} s) [{session.elapsed()}]")
    command = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *("tests/cudagraph/test_gpu.py", "tests/cudagraph/test_capturable.py"),
        *("-k", "not llama"),
    ]
    began = time.monotonic()
    status, lines = run_child(command, min(timeout_s, session.left_s()), echo=True)
    summary = lines[-1] if lines else ""
    verdict = "timed out" if status is None else ("passed" if status == 0 else "FAILED")
    say(f"tests {verdict} in {time.monotonic() - began:.0f} s: {summary}")
    session.record["tests"] = {
        "status": status,
        "verdict": verdict,
        "summary": summary,
        "seconds": round(time.monotonic() - began, 1),
        "output_tail": lines[-60:],
    }
    session.save()


def run_contender(
    session: Session, size: str, contender: str, steps: int, device: str
) -> dict[str, Any]:
    """One (size, contender) in a fresh process; its result row, or why there is none."""
    from llama_gpu import DESCRIPTIONS, failure, row  # bench/ is on sys.path (this script's dir)

    left = session.left_s()
    if left < MINIMUM_S.get(size, 60.0):
        result = failure(size, contender, TimeoutError(f"skipped: {left:.0f} s of budget left"))
        say(row(result))
        return result
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "result.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "llama_gpu.py"),
            *("--sizes", size, "--contenders", contender, "--steps", str(steps)),
            *("--device", device, "--json", str(output)),
        ]
        timeout = min(CONTENDER_CAP_S, left - 5.0)
        began = time.monotonic()
        status, lines = run_child(command, timeout, echo=False)
        results = json.loads(output.read_text()) if output.exists() else []
    wall = time.monotonic() - began
    if results:
        result = results[0]
    else:
        why = "timed out" if status is None else f"exited with status {status}"
        result = failure(size, contender, RuntimeError(f"{why} after {wall:.0f} s"))
    result["description"] = DESCRIPTIONS[contender]
    result["process_s"] = round(wall, 1)
    say(row(result) + f"  ({wall:.0f} s) [{session.elapsed()}]")
    if result.get("graph_counts"):
        say(f"    CUDA graphs: {result['graph_counts']}")
    if "error" in result:
        for line in lines[-15:]:
            say("    " + line)
    elif status != 0:
        result["exit"] = "timed out after its result" if status is None else f"status {status}"
    return result


def ratio_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size: ctc against torch.compile and ctc-cudagraph against reduce-overhead."""
    timed = {(r["size"], r["contender"]): r for r in results if "median_ms" in r}
    rows = []
    for size in dict.fromkeys(r["size"] for r in results):
        for ours, theirs in (("ctc", "compile"), ("ctc-cudagraph", "reduce-overhead")):
            if (size, ours) not in timed or (size, theirs) not in timed:
                continue
            ratio = timed[size, ours]["median_ms"] / timed[size, theirs]["median_ms"]
            rows.append(
                {
                    "size": size,
                    "ours": ours,
                    "theirs": theirs,
                    "ratio": round(ratio, 4),
                    "target_met": ratio <= TARGET_RATIO,
                }
            )
        if (size, "ctc") in timed and (size, "ctc-cudagraph") in timed:
            same = timed[size, "ctc"]["final_loss"] == timed[size, "ctc-cudagraph"]["final_loss"]
            say(f"{size}: final loss of ctc and ctc-cudagraph {'equal' if same else 'DIFFER'}")
    return rows


def bench_order(sizes: list[str], quick: bool) -> list[tuple[str, str]]:
    """Each size's four compiled contenders (ctc after ctc-cudagraph: the same inductor graphs,
    found in inductor's cache), the smaller size first; eager last."""
    order = [(size, c) for size in sizes for c in (*CUDA_GRAPH_PAIR, *INDUCTOR_PAIR)]
    if not quick:
        order += [(size, "eager") for size in sizes]
    return order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=QUICK)
    parser.add_argument("--budget-s", type=float, default=380.0, help="wall time for it all")
    parser.add_argument("--tests-timeout-s", type=float, default=120.0)
    parser.add_argument("--sizes", default="debug,1B")
    parser.add_argument("--steps", type=int, default=None, help="default 50, 20 with --quick")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    out = os.environ.get("OUT")
    json_path = args.json or (Path(out) / "gpu_session.json" if out else None)
    session = Session(args.budget_s, json_path)
    steps = args.steps or (20 if args.quick else 50)
    say(f"gpu_session: budget {args.budget_s:.0f} s, {steps} steps, sizes {args.sizes}")
    versions = bootstrap(args.device)
    session.record["packages"] = versions
    if any(versions.get(name) is None for name in ("torch", "attrs", "networkx", "lark")):
        say("cannot run ctc without the packages above; stopping")
        session.save()
        return 2
    session.record["environment"] = describe_device(args.device)
    session.save()
    if args.skip_tests or versions.get("pytest") is None:
        say("== tests skipped" + ("" if args.skip_tests else ": no pytest"))
    else:
        run_tests(session, args.tests_timeout_s)
    sys.path.insert(0, str(ROOT / "bench"))
    from llama_gpu import HEADER

    say(f"== bench [{session.elapsed()}]")
    say(HEADER)
    for size, contender in bench_order(args.sizes.split(","), args.quick):
        result = run_contender(session, size, contender, steps, args.device)
        session.record["bench"].append(result)
        session.save()
    say(f"== ratios (target: at most {TARGET_RATIO}) [{session.elapsed()}]")
    session.record["ratios"] = ratio_rows(session.record["bench"])
    for ratio in session.record["ratios"]:
        verdict = "met" if ratio["target_met"] else "NOT met"
        say(
            f"{ratio['size']}: {ratio['ours']} / {ratio['theirs']} = {ratio['ratio']:.3f} ({verdict})"
        )
    session.save()
    say(f"done in {session.elapsed()}" + (f"; results in {json_path}" if json_path else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
