"""Run every benchmark in turn (`make bench`); each prints its figures and writes benchmarks/results/*.json."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = sorted(p for p in HERE.glob("*.py") if p.name not in ("common.py", "run_all.py"))

if __name__ == "__main__":
    failed = [s.name for s in SCRIPTS if subprocess.run([sys.executable, str(s)], cwd=HERE.parent).returncode]
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
