"""Vivado's reports read back: resources from `report_utilization`, slack and worst path from `report_timing_summary`.

Both read the text reports as Vivado writes them (7-series names Slice LUTs/Registers, UltraScale+ names CLB
LUTs/Registers; newer versions add a Prohibited column, so columns are found by their header). The worst
setup path is the most negative `Slack` among the report's Max Delay Paths, with its source and destination.
"""
from __future__ import annotations

import re

from xnorflow.errors import XnorflowError

RESOURCES = {"lut": ("Slice LUTs", "CLB LUTs"), "ff": ("Slice Registers", "CLB Registers"),
             "bram36": ("Block RAM Tile",), "dsp": ("DSPs",)}
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _cells(line: str) -> list[str]:
    """The cells of a `| a | b |` table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_rows(text: str) -> list[dict[str, str]]:
    """Every row of every `Site Type | Used | ... | Available` table, as header -> cell."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if cells and cells[0] == "Site Type":
            header = cells
        elif header and len(cells) == len(header):
            rows.append(dict(zip(header, cells)))
    return rows


def utilization(text: str) -> dict[str, dict[str, float]]:
    """LUT, FF, BRAM36 (tiles, halves count 0.5) and DSP used / available from a report_utilization text."""
    rows = _table_rows(text)
    found = {}
    for key, names in RESOURCES.items():
        row = next((r for r in rows if r["Site Type"].rstrip("*").strip() in names), None)
        if row is None:
            raise XnorflowError(f"the utilization report has no '{names[0]}' row",
                                "check that Vivado finished implementation (see vivado/vivado.log)")
        found[key] = {"used": float(row["Used"]), "available": int(float(row["Available"]))}
    return found


def _summary_row(text: str) -> list[str]:
    """The value row of the Design Timing Summary table (WNS, TNS, failing, total endpoints, WHS, ...)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "| Design Timing Summary"), None)
    if start is not None:
        for i in range(start, min(start + 12, len(lines))):
            if lines[i].split()[:2] == ["WNS(ns)", "TNS(ns)"]:
                row = next((x.split() for x in lines[i + 2:i + 5] if x.strip()), [])
                if len(row) >= 4 and NUMBER.match(row[0]):
                    return row
    raise XnorflowError("the timing report has no Design Timing Summary",
                        "check that Vivado finished implementation (see vivado/vivado.log)")


def _paths(text: str) -> list[dict]:
    """Every setup path of the report's Max Delay Paths sections: slack (ns), source, destination."""
    paths, current, in_max = [], None, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("Max Delay Paths", "Min Delay Paths", "Pulse Width Checks"):
            in_max = stripped == "Max Delay Paths"
            continue
        slack = re.match(r"Slack(?: \((?:MET|VIOLATED)\))?\s*:\s*(-?[\d.]+)ns", stripped)
        if in_max and slack:
            current = {"slack_ns": float(slack.group(1))}
            paths.append(current)
        elif in_max and current is not None:
            for key in ("Source", "Destination"):
                if stripped.startswith(f"{key}:"):
                    current[key.lower()] = stripped.split(":", 1)[1].strip()
    return paths


def timing(text: str) -> dict:
    """WNS, TNS (ns), failing and total endpoints, WHS, and the worst setup path from report_timing_summary."""
    row = _summary_row(text)
    rep = {"wns_ns": float(row[0]), "tns_ns": float(row[1]), "failing_endpoints": int(row[2]),
           "total_endpoints": int(row[3])}
    if len(row) > 4 and NUMBER.match(row[4]):
        rep["whs_ns"] = float(row[4])
    paths = _paths(text)
    if paths:
        rep["worst_path"] = min(paths, key=lambda p: p["slack_ns"])
    return rep
