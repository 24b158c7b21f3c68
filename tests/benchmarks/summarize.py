"""Print benchmark JSON lines as one table: python summarize.py FILE.jsonl ..."""

import json
import sys


def rows(paths):
    for path in paths:
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("{"):
                    yield json.loads(line)


def describe(entry: dict) -> tuple[str, str, str]:
    settings = entry.get("settings", {})
    if "what" in entry:
        keys = ("N", "gridsize", "n_filters_scale", "batch", "patterns", "threads")
        detail = " ".join(f"{k}={settings[k]}" for k in keys if k in settings)
        return entry["what"], f"{entry['value']:,} {entry['unit']}", detail
    if entry.get("stage") == "train+evaluate":
        return (f"quality {entry['photons']:.0e} photons",
                f"phase SSIM {entry['phase_ssim']}, amp SSIM {entry['amplitude_ssim']}",
                f"{entry['epochs']} epochs in {entry['train_seconds']} s")
    return entry.get("stage", "?"), "", ""


def main() -> None:
    table = [describe(entry) for entry in rows(sys.argv[1:])]
    widths = [max(len(row[i]) for row in table) for i in range(3)] if table else [0, 0, 0]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
