"""The quality suite's results file (JSON lines) and its plain-text table.

One line per (case, method, budget) as it finishes, flushed and synced, so a
stopped run loses at most the case in progress; a rerun skips every recorded
(case, method, budget) without an error. The table shows the last record of
each (case, method).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

METHOD_ORDER = ("pinn", "epie", "lsqml")


def budget_of(method: str, minutes: float, iterations: int) -> str:
    """What a result depends on besides its case: the training minutes or the iterations."""
    return f"{minutes:g} min" if method == "pinn" else f"{iterations} it"


def load_results(path: Path) -> list[dict[str, Any]]:
    """Every record of a results file ([] if there is none); a torn last line is ignored."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return records


def done_keys(records: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(case, method, budget) of the successful records (failed ones are retried)."""
    return {(r["case"], r["method"], r.get("budget", "")) for r in records if not r.get("error")}


def append_result(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and sync it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _latest(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if not record.get("error"):
            latest[(record["case"], record["method"])] = record
    return latest


def _num(value: Any, digits: int = 3, width: int = 5) -> str:
    if value is None:
        return "-".rjust(width)
    return f"{value:.{digits}f}".rjust(width)


def _seconds(value: Any) -> str:
    return "-".rjust(5) if value is None else f"{value:5.0f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _group_key(record: dict[str, Any]) -> str:
    return f"{record.get('dose', '?')} {record.get('size_class', '?'):>3}"


def select_records(records: list[dict[str, Any]], cases: Iterable[str] | None = None,
                   budgets: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The records of the given cases (all when None) whose budget is the given one for
    their method (any when the method is not in ``budgets``)."""
    wanted = None if cases is None else set(cases)
    return [r for r in records
            if (wanted is None or r.get("case") in wanted)
            and (budgets is None or r.get("method") not in budgets
                 or r.get("budget") == budgets[r["method"]])]


def format_table(records: list[dict[str, Any]], case_order: list[str] | None = None) -> str:
    """One row per case (each method's phase/amplitude SSIM, slope, seconds), then per
    method a summary by dose and size, N, role, all, and the transfer cases apart: median
    and worst phase and amplitude SSIM, median phase FRC (px), median slope and median
    seconds. A transfer row shows the pty-chi results of its apply scan."""
    latest = _latest(records)
    if not latest:
        return "no results yet"
    methods = [m for m in METHOD_ORDER if any(key[1] == m for key in latest)]
    methods += sorted({key[1] for key in latest} - set(methods))
    info: dict[str, dict[str, Any]] = {}
    for (case, _), record in latest.items():
        info.setdefault(case, record)
    order = [c for c in (case_order or []) if c in info]
    order += sorted(set(info) - set(order))
    name_width = max(len(c) for c in order) + 1
    lines = []
    header = f"{'case':<{name_width}}{'role':<8}"
    rule = " " * (name_width + 8)
    for method in methods:
        header += f"| {method:<26}"
        rule += f"| {'ph/amp SSIM   slope   sec':<26}"
    lines += [header.rstrip(), rule.rstrip()]
    for case in order:
        row = f"{case:<{name_width}}{info[case].get('role', '?'):<8}"
        for method in methods:
            record = latest.get((case, method))
            reference = info[case].get("apply_case")
            if record is None and reference and method != "pinn":
                record = latest.get((reference, method))  # a transfer row: the apply scan's
            if record is None:
                row += f"| {'':<26}"
                continue
            row += (f"| {_num(record.get('phase_ssim'))}/{_num(record.get('amplitude_ssim'))} "
                    f"{_num(record.get('phase_slope'), 2)} {_seconds(record.get('seconds'))}  ")
        lines.append(row.rstrip())
    lines.append("")
    lines.append("summary: median and worst phase and amplitude SSIM, median phase FRC "
                 "(px, lower is finer), median phase slope, median seconds; 'all' leaves out "
                 "the transfer cases")
    lines.append(f"{'method':<7}{'group':<14}{'n':>4} {'ph med':>7}{'ph worst':>9}{'amp med':>8}"
                 f"{'amp worst':>10}{'FRC':>7}{'slope':>7}{'sec':>7}  budget")
    for method in methods:
        every = [r for (c, m), r in latest.items() if m == method]
        rows = [r for r in every if not r.get("train_case")]  # transfers on their own line
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in rows:
            groups.setdefault(_group_key(record), []).append(record)
        named = sorted(groups.items())
        for key in ("N64", "N128"):
            members = [r for r in rows if f"N{r.get('N')}" == key]
            if members:
                named.append((key, members))
        for role in ("tune", "confirm"):
            members = [r for r in rows if r.get("role") == role]
            if members:
                named.append((role, members))
        if rows:
            named.append(("all", rows))
        transfers = [r for r in every if r.get("train_case")]
        if transfers:
            named.append(("transfer", transfers))
        for label, members in named:
            phase = [r["phase_ssim"] for r in members if r.get("phase_ssim") is not None]
            amp = [r["amplitude_ssim"] for r in members if r.get("amplitude_ssim") is not None]
            frc = [r["phase_frc_px"] for r in members if r.get("phase_frc_px") is not None]
            slope = [r["phase_slope"] for r in members if r.get("phase_slope") is not None]
            seconds = [r["seconds"] for r in members if r.get("seconds") is not None]
            budgets = ",".join(sorted({str(r.get("budget", "")) for r in members}))
            lines.append(f"{method:<7}{label:<14}{len(members):>4} {_num(_median(phase), 3, 7)}"
                         f"{_num(min(phase) if phase else None, 3, 9)}"
                         f"{_num(_median(amp), 3, 8)}{_num(min(amp) if amp else None, 3, 10)}"
                         f"{_num(_median(frc), 1, 7)}"
                         f"{_num(_median(slope), 2, 7)}{_num(_median(seconds), 0, 7)}  {budgets}")
    return "\n".join(lines)
