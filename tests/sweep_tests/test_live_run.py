"""``run --report-every`` on a real local Ray: report.html is rebuilt while the trials train, then made final."""

import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from test_sweep_run import write_spec

pytestmark = pytest.mark.slow  # starts a local Ray

REFRESH = '<meta http-equiv="refresh"'


def test_run_rebuilds_the_report_while_the_sweep_runs_then_writes_the_final_one(tmp_path):
    spec = write_spec(tmp_path, name="live_run", axes={"data.sigma": [1.0, 1.2, 1.4]}, steps=300, eval_every=50,
                      max_concurrent=1)
    page = tmp_path / "results" / "live_run" / "report" / "report.html"
    log = tmp_path / "driver.log"
    with open(log, "w") as out:  # a file, not a pipe: nobody reads the driver's output until it ends
        driver = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(spec), "--report-every", "2"], cwd=ROOT,
                                  stdout=out, stderr=subprocess.STDOUT)
        try:
            seen = set()  # the progress lines of the live pages read while the driver ran
            deadline = time.time() + 600
            while driver.poll() is None and time.time() < deadline:
                text = page.read_text() if page.exists() else ""
                if REFRESH in text:
                    seen.add(re.search(r"Cells: [^.]*", text).group(0))
                time.sleep(0.5)
            driver.wait(timeout=120)
        finally:
            if driver.poll() is None:
                driver.kill()
    output = log.read_text()
    assert driver.returncode == 0, output[-3000:]
    assert len(seen) >= 2, seen  # live, and rebuilt as the trials went on
    assert "Cells: 0 done, 1 running, 2 pending (of 3)" in seen or "Cells: 1 done, 1 running, 1 pending (of 3)" in seen
    final = page.read_text()
    assert REFRESH not in final and 'class="live"' not in final and "phase_map.png" in final
    rebuilds = int(re.search(r"\((\d+) live rebuild\(s\)", output).group(1))
    assert rebuilds >= 2, output[-2000:]
