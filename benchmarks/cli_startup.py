"""CPU seconds of the commands a newcomer types first: `xnorflow --help` and `xnorflow models` (no model is built).

Usage: python cli_startup.py
"""
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

XNORFLOW = Path(sys.executable).parent / "xnorflow"
COMMANDS = (["--help"], ["models"])


def cpu_seconds(args: list[str]) -> float:
    """User + system CPU seconds of one `xnorflow ARGS` run (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([str(XNORFLOW), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 3)


if __name__ == "__main__":
    record("cli_startup", {"cpu_seconds": {f"xnorflow {' '.join(args)}": cpu_seconds(args) for args in COMMANDS}})
