"""``phasescape reproduce``: claim files parse and validate; one claim end to end at micro scale (Ray)."""


import pytest

from model.errors import UsageError
from sweep.reproduce import CLAIMS_DIR, load_claims

MICRO_CLAIM = """
id: micro_phases
title: phases at micro scale (a test)
paper: Liang, Liu & Fiete, arXiv 2402.03305
reference: Fig. 2
statement: A trial passes phases A, B and C.
check: {name: phases, params: {min_share: 0.5}}
differs: [micro scale, far too small to learn]
scales:
  micro:
    sweeps:
      - {base: micro, seeds: [0], steps: 20, eval_every: 10, resources: {cpu: 1}}
"""


def test_every_shipped_claim_parses_at_both_scales(tmp_path):
    claims = load_claims(CLAIMS_DIR)
    assert len(claims) == 7 and {c.check for c in claims} == {
        "phases", "density", "coupling", "percolation", "composition", "lesion", "factorized"}
    for claim in claims:
        for scale in ("cpu", "gpu"):
            specs = claim.specs(scale, str(tmp_path))
            assert specs and all(s.trials() for s in specs)
            size = {c.data.image_size for s in specs for c in s.trials()}
            assert size == ({16} if scale == "cpu" else {32})


def test_bad_claim_files_name_the_field(tmp_path):
    (tmp_path / "a.yaml").write_text(MICRO_CLAIM.replace("name: phases", "name: nope"))
    with pytest.raises(UsageError, match="check.name: must be one of"):
        load_claims(tmp_path)
    (tmp_path / "a.yaml").write_text(MICRO_CLAIM.replace("steps: 20", "steps: 0"))
    with pytest.raises(UsageError, match="scales.micro.sweeps"):
        load_claims(tmp_path)[0].specs("micro", str(tmp_path))
    (tmp_path / "a.yaml").write_text(MICRO_CLAIM)
    with pytest.raises(UsageError, match="--scale: claim 'micro_phases' has no 'cpu' scale"):
        load_claims(tmp_path)[0].specs("cpu", str(tmp_path))
    with pytest.raises(UsageError, match="unknown claim"):
        load_claims(tmp_path, ["other"])


@pytest.mark.slow
def test_one_claim_end_to_end_at_micro_scale(tmp_path, cli):
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "micro.yaml").write_text(MICRO_CLAIM)
    args = ["reproduce", "--claims", str(claims), "--scale", "micro", "--storage", str(tmp_path / "results")]
    first = cli(*args, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    out = tmp_path / "results" / "reproduction-micro"
    md = (out / "reproduction.md").read_text()
    assert "micro_phases" in md and any(v in md for v in ("holds", "fails", "inconclusive"))
    assert "images 8 x 8 (paper 32 x 32)" in md and (out / "micro_phases.png").exists()
    assert "data:image/png;base64" in (out / "reproduction.html").read_text()
    second = cli(*args, timeout=300)  # finished trials are reused: only the check runs again
    assert second.returncode == 0 and "nothing to train" in second.stdout, second.stdout[-2000:]
