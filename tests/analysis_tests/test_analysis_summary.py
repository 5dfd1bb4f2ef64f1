"""Every sentence of a report's summary, checked against the table it summarizes.

Each case builds a synthetic results table, runs summarize() through the same steps as a report, and compares
the lines with the ones the table justifies (worked out by hand in the comments). ``check_against_tables`` also
re-derives, independently of the summary code, each number and claim it can parse from the lines.
"""

import re
from collections import Counter

import pandas as pd
from test_analysis_landscape import KEY, X, Y, failed, imbalance_trial, table, trial

from analysis.landscape import landscape, phase_boundary, sweep_axes, trial_summary
from analysis.results import check_table
from analysis.summary import summarize
from model.definitions import HEADLINE_PROBE

RULE = "a cell's phase is the most common final phase over its seeds (ties go to the less advanced phase)."
NO_CEILING = "- Detector ceiling not recorded in this table (an older sweep): every cell is treated as measurable."
FINISHED = {"name": "case", "finished": True}
NO_PROBE = ("- Representation probe not recorded in this table (an older sweep): nothing to say about the "
            "representation.")


def _measured(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells["phase"].notna() & cells["measurable"]]


def _check_phases(line: str, cells: pd.DataFrame) -> None:
    """'Final phase C in c of m measurable cells with results (A a, B b, C c); u unmeasurable cells not counted'."""
    measured = _measured(cells)
    counts = Counter(measured["phase"])
    m = re.match(r"- Final phase C in (\d+) of (\d+) measurable cells? with results "
                 r"\(A (\d+), B (\d+), C (\d+)\)", line)
    if m:
        assert [int(g) for g in m.groups()] == [counts["C"], len(measured), counts["A"], counts["B"], counts["C"]]
    m = re.search(r"(\d+) unmeasurable cells? not counted", line)
    assert int(m.group(1) if m else 0) == int((~cells["measurable"]).sum()) or not line.startswith("- Final")


def _check_boundary(line: str, cells: pd.DataFrame, boundary: pd.DataFrame) -> None:
    """A boundary sentence agrees with the phases of the measurable cells and the boundary table."""
    phases = set(_measured(cells)["phase"])
    if line.startswith("- No phase boundary: ") and " end in phase " in line:
        assert len(phases) == 1 and boundary.empty and line.rstrip(".").endswith(phases.pop())
    if line.startswith("- No phase boundary can be placed"):
        assert len(phases) > 1 and boundary.empty
    if line.startswith("- No phase boundary: only one"):
        assert len(_measured(cells)) == 1
    if line.startswith("- No phase boundary: no measurable"):
        assert _measured(cells).empty
    if line.startswith("- A single cell"):
        assert len(cells) == 1
    if line.startswith("- Boundary"):
        pairs = int(re.search(r"\((\d+) neighbouring cell pairs?\)", line).group(1))
        assert not boundary.empty and pairs <= len(boundary)


def _check_learning(line: str, trials: pd.DataFrame, cells: pd.DataFrame) -> None:
    """The learning verdict counts the measurable imbalanced cells by their most common order."""
    if not line.startswith("- x/y learning under"):
        return
    words = {"coupled": "coupled", "sequential (sparse axis later)": "sequential",
             "sparse axis never learned": "sparse never", "seeds disagree": "mixed"}
    tail = line.split("either way): ", 1)[1].split(" of ")[0]  # 'coupled in 2, sequential (...) in 1'
    claimed = {words[w]: int(n) for w, n in (part.rsplit(" in ", 1) for part in tail.split(", "))}
    total = int(re.search(r"of (\d+) imbalanced measurable cells?", line).group(1))
    imbalanced = _measured(cells)[_measured(cells)["learning"] != ""]
    assert claimed == dict(Counter(imbalanced["learning"])) and total == len(imbalanced)
    assert ("on the training lattice" in line) == (trials["onset_basis"] == "lattice").all()


def _close(printed: str, value: float) -> bool:
    """Whether ``printed`` (e.g. '0.84', '0.0045', '−0.24') is ``value`` to its printed decimals."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(printed.replace("−", "-")) - value) <= 0.5 * 10 ** -decimals + 1e-12


def _check_representation(lines: list[str], cells: pd.DataFrame) -> None:
    """The probe sentences: said to be unrecorded exactly when no headline metric is in the table; each group's cell
    count, and each metric's medians over the group (init and final, rose or fell), re-derived from the cells."""
    said = "\n".join(lines)
    recorded = any(cells[m].notna().any() for m in HEADLINE_PROBE)
    assert ("Representation probe not recorded" in said) == (not recorded)
    learned = [f"{m}_learned" for m in HEADLINE_PROBE]
    measured = _measured(cells)
    measured = measured[measured[learned].notna().any(axis=1)] if recorded else measured.iloc[:0]
    for line in lines:
        m = re.match(r"  - In the (\d+) cells? (that ends? in phase C|that do(?:es)? not|with results)", line)
        if not m:
            continue
        group = measured[(measured["phase"] == "C") == ("phase C" in m.group(2))]
        assert int(m.group(1)) == len(group)
        for metric, verb, init, final in re.findall(r"(\w+) (rose|fell) from (\S+) at init to ([^\s(]+)", line):
            sub = group[group[f"{metric}_learned"].notna()]
            medians = sub[f"{metric}_init"].median(), sub[metric].median()
            assert _close(init, medians[0]) and _close(final, medians[1]), (metric, init, final, medians)
            assert (verb == "rose") == (medians[1] > medians[0])
        for metric, value in re.findall(r"(\w+) stayed at (\S+), as at init", line):
            sub = group[group[f"{metric}_learned"].notna()]
            assert _close(value, sub[f"{metric}_init"].median()) and _close(value, sub[metric].median())


def check_against_tables(lines, trials, cells, boundary):
    """Each sentence whose claim can be re-derived from the tables is; each table fact that must be said is."""
    said = "\n".join(lines)
    for line in lines:
        _check_phases(line, cells)
        _check_boundary(line, cells, boundary)
        _check_learning(line, trials, cells)
        m = re.match(r"- (\d+) cells? unmeasurable", line)
        if m:
            assert int(m.group(1)) == int((~cells["measurable"]).sum()) > 0
        m = re.match(r"- (?:Complete|\*\*Partial).*?(\d+)/\d+ trials reported", line)
        if m:
            assert int(m.group(1)) == len(trials)
    assert ("Detector ceiling not recorded in this table" in said) == cells["gt_acc"].isna().all()
    assert sum(line.startswith(("- No phase boundary", "- Boundary", "- A single cell")) for line in lines) == 1
    assert "every cell with results ends in the same phase" not in said  # the false sentence of issue 19
    _check_representation(lines, cells)


def summary_of(df, manifest=FINISHED, swept=()):
    """The summary lines (title dropped) of a results table, as a report makes them, checked against the tables."""
    df = check_table(df)
    x, y = sweep_axes(df, swept)
    trials, cells = trial_summary(df, x, y), landscape(df, x, y)
    boundary = phase_boundary(cells, x, y)
    lines = summarize(manifest, trials, cells, boundary, x, y)
    assert lines[:2] == [f"# Sweep report: {manifest['name']}", ""]
    check_against_tables(lines, trials, cells, boundary)
    return lines[2:]


def test_diagonal_cells_of_different_phase_have_no_boundary_and_the_summary_says_why():
    # A 2 x 2 grid with two trained cells on a diagonal: final phases B and C, but no row or column holds both.
    df = table(trial("b", (0.5, 0.1), "ABB"), trial("c", (1.0, 0.5), "ABC"))
    assert summary_of(df, swept=[X, Y]) == [
        "- Complete: 2/2 trials reported.",
        f"- Grid: x = density, y = overlap; 2 cells on a 2 × 2 grid, 1 trial each; {RULE}",
        NO_CEILING,
        "- Final phase C in 1 of 2 measurable cells with results (A 0, B 1, C 1).",
        "- No phase boundary can be placed: the final phases differ (B 1, C 1), but no two measurable cells of "
        "different phase are neighbours in a row or column of the grid.",
        "- Fastest to C: density 1, overlap 0.5 after 300 steps (median over seeds; 30 s).",
        NO_PROBE,
    ]


def test_a_two_cell_sweep_of_one_key_is_read_along_it_with_its_boundary():
    # sweeps/imbalance_tiny.yaml: spacing_y 1 and 4 at spacing_x 0.5. Drawn as density x overlap these two
    # cells were diagonal neighbours; along spacing_y they are adjacent and the phase changes between them.
    df = table(imbalance_trial("a", 1.0, 0, 200, 300), imbalance_trial("b", 4.0, 0, 200, None))
    lines = summary_of(df, swept=[KEY])
    assert lines[1].startswith("- One swept key, data.spacing_y: 2 cells (one per value), 1 trial each; density, "
                               "overlap and ratio change with it (shown beside each value); σ 1 throughout;")
    assert "- Boundary to phase C: along data.spacing_y ≈ 2.5 (1 neighbouring cell pair)." in lines


def test_a_single_cell():
    df = table(trial("a", (0.5, 0.1), "ABC", 0), trial("b", (0.5, 0.1), "BCC", 1))
    assert summary_of(df) == [
        "- Complete: 2/2 trials reported.",
        f"- Grid: x = density, y = overlap; 1 cell, 2 trials each; {RULE}",
        NO_CEILING,
        "- Final phase C in 1 of 1 measurable cell with results (A 0, B 0, C 1).",
        "- A single cell: no phase boundary to look for.",
        "- Fastest to C: density 0.5, overlap 0.1 after 250 steps (median over seeds; 25 s).",  # C at 300 and 200
        NO_PROBE,
    ]


def test_all_trials_failed():
    df = table(failed("f1", (0.25, 0.1)), failed("f2", (0.5, 0.1)), failed("f3", (1.0, 0.1)))
    assert summary_of(df, {"name": "case", "finished": True, "trials_total": 3}) == [
        "- Complete: 3/3 trials reported.",
        f"- One swept key, density: 3 cells (one per value), 1 trial each; overlap 0.1, ratio 1 throughout; {RULE}",
        NO_CEILING,
        "- No measurable cell has a final phase yet (3 failed cells).",
        "- No phase boundary: no measurable cell has results.",
        NO_PROBE,
        "- Failed: 3 trials in 3 cells (hatched or ✗ in the figures; listed at the end of report.html):",
        "  - f1 (density 0.25): TrainingDiverged: loss became nan",
        "  - f2 (density 0.5): TrainingDiverged: loss became nan",
        "  - f3 (density 1): TrainingDiverged: loss became nan",
    ]


def test_a_partial_sweep():
    #              density 0.5   1.0
    # overlap 0.5:   pending      failed
    # overlap 0.1:   C            B (running)
    pending = failed("p", (0.5, 0.5))
    pending[0].update(status="PENDING", error="")
    df = table(trial("c", (0.5, 0.1), "ABC"), trial("r", (1.0, 0.1), "AB", status="RUNNING"), pending,
               failed("f", (1.0, 0.5)))
    assert summary_of(df, {"name": "case", "finished": False, "trials_total": 6}, swept=[X, Y]) == [
        "- **Partial results**: the sweep is not finished (manifest finished=false; 2 trials running or pending; "
        "4/6 trials reported). Cells marked * hold running trials.",
        f"- Grid: x = density, y = overlap; 4 cells, 1 trial each; {RULE}",
        NO_CEILING,
        "- Final phase C in 1 of 2 measurable cells with results (A 0, B 1, C 1); 1 failed cell; 1 pending cell. "
        "1 of them holds running trials: their phase is the latest evaluation's.",
        "- Boundary to phase C: along density ≈ 0.75 (1 neighbouring cell pair).",
        "- Fastest to C: density 0.5, overlap 0.1 after 300 steps (median over seeds; 30 s).",
        NO_PROBE,
        "- Failed: 1 trial in 1 cell (hatched or ✗ in the figures; listed at the end of report.html):",
        "  - f (density 1, overlap 0.5): TrainingDiverged: loss became nan",
    ]


def test_an_unmeasurable_cell_is_listed_not_counted_and_breaks_the_boundary():
    #              density 0.25  0.5                1.0
    # overlap 0.5:   A            C                  C
    # overlap 0.1:   A            (ceiling 0.46)     C    <- A and C are not compared across the gap
    grid = {(0.25, 0.1): ("AAA", 0.99, 1.2), (0.5, 0.1): ("ABC", 0.46, 0.4), (1.0, 0.1): ("ABC", 0.98, 0.6),
            (0.25, 0.5): ("AAA", 0.99, 2.0), (0.5, 0.5): ("BCC", 0.97, 1.0), (1.0, 0.5): ("ABC", 0.99, 0.8)}
    df = table(*(trial(f"t{k}", c, p, gt=g, sigma=s) for k, (c, (p, g, s)) in enumerate(grid.items())))
    assert summary_of(df, swept=[X, Y]) == [
        "- Complete: 6/6 trials reported.",
        f"- Grid: x = density, y = overlap; 6 cells, 1 trial each; {RULE}",
        "- 1 cell unmeasurable (the detector scores perfect samples below 0.95 there: too narrow / too wide for the "
        "image): density 0.5, overlap 0.1 (σ 0.4, ceiling 0.46). It is left out of the phase counts, the boundary, "
        "the fastest cell and the coupling.",
        "- Final phase C in 3 of 5 measurable cells with results (A 2, B 0, C 3); 1 unmeasurable cell not counted.",
        "- Boundary to phase C: along density ≈ 0.375 (1 neighbouring cell pair).",
        "- Fastest to C: density 0.5, overlap 0.5 after 200 steps (median over seeds; 20 s).",
        NO_PROBE,
    ]


def test_a_recorded_ceiling_above_the_cut_off_is_stated():
    df = table(trial("a", (0.5, 0.1), "C", gt=0.99), trial("b", (1.0, 0.1), "C", gt=0.97), trial("c", (2.0, 0.1), "C"))
    lines = summary_of(df, swept=[X, Y])
    assert "- Detector ceiling ≥ 0.95 in all 2 cells that recorded it (lowest 0.97): measurable." in lines
    assert "- Detector ceiling not recorded for 1 cell (treated as measurable)." in lines
    assert "- No phase boundary: all 3 measurable cells with results end in phase C." in lines


def imbalance_sweep(lattice=True):
    """spacing_y 1, 2, 4, 8 at spacing_x 0.5 (ratios 2, 4, 8, 16), two seeds each: coupled, coupled, sequential
    (and never learned between the rows), and the sparse axis never learned on its own rows by step 800."""
    onsets = {"a0": (1.0, 200, 200), "a1": (1.0, 200, 300), "b0": (2.0, 200, 300), "b1": (2.0, 200, 400),
              "c0": (4.0, 100, 500), "c1": (4.0, 100, 700), "d0": (8.0, 100, None), "d1": (8.0, 100, None)}
    return table(*(imbalance_trial(name, sy, int(name[1]), ox, oy, lattice=lattice,
                                   off=(ox, None) if sy == 4.0 else None)
                   for name, (sy, ox, oy) in onsets.items()))


LEARNING_HEAD = ("- x/y learning under imbalanced data ({}; coupling = sparse onset / dense onset, coupled when "
                 "within ×2 ")


def test_coupled_sequential_and_never_learned_on_the_lattice():
    lines = summary_of(imbalance_sweep(), swept=[KEY])
    learning = lines[lines.index(next(line for line in lines if line.startswith("- x/y learning"))):-1]
    assert lines[-1] == NO_PROBE
    assert learning == [
        LEARNING_HEAD.format("onsets on the training lattice") + "either way): coupled in 2, sequential (sparse axis "
        "later) in 1, sparse axis never learned in 1 of 4 imbalanced measurable cells (most common over seeds; per "
        "cell below).",
        # couplings 200/200 = 1 and 300/200 = 1.5; the median onset of y over the two seeds is 250
        "  - spacing_y 1 (ratio 2, y sparse): coupling 1.2 (seeds 1–1.5) → coupled in 2 of 2 seeds; median onsets x "
        "step 200, y step 250; off the lattice x step 200, y step 250.",
        "  - spacing_y 2 (ratio 4, y sparse): coupling 1.8 (seeds 1.5–2) → coupled in 2 of 2 seeds; median onsets x "
        "step 200, y step 350; off the lattice x step 200, y step 350.",
        # 500/100 and 700/100: sequential; between the rows y was never right (interpolation failed)
        "  - spacing_y 4 (ratio 8, y sparse): coupling 6 (seeds 5–7) → sequential (sparse axis later) in 2 of 2 "
        "seeds; median onsets x step 100, y step 600; off the lattice x step 100, y never by step 800.",
        "  - spacing_y 8 (ratio 16, y sparse): the sparse axis (y) never reached acc 0.5 on its own training rows by "
        "step 800 (2 of 2 seeds), while the dense axis (x) did at step 100 (median); off the lattice x step 100, y "
        "never by step 800.",
    ]
    assert "inf" not in "\n".join(lines)


def test_an_older_table_scores_onsets_off_the_lattice_and_says_what_that_means():
    lines = summary_of(imbalance_sweep(lattice=False), swept=[KEY])
    head = next(line for line in lines if line.startswith("- x/y learning"))
    assert head.startswith(LEARNING_HEAD.format(
        "onsets off the lattice only: this table has no on-lattice scores, so a sparse axis can look unlearned merely "
        "because the test points fall between its training rows"))
    assert head.endswith("coupled in 2, sparse axis never learned in 2 of 4 imbalanced measurable cells (most common "
                         "over seeds; per cell below).")
    assert ("  - spacing_y 4 (ratio 8, y sparse): the sparse axis (y) never reached acc 0.5 at the off-lattice test "
            "points by step 800 (2 of 2 seeds), while the dense axis (x) did at step 100 (median).") in lines


def test_seeds_that_disagree_are_counted_and_balanced_cells_shown_for_reference():
    df = table(imbalance_trial("a", 0.5, 0, 200, 200), imbalance_trial("b", 4.0, 0, 200, 300),
               imbalance_trial("c", 4.0, 1, 200, None, steps=6))
    lines = summary_of(df, swept=[KEY])
    assert ("  - spacing_y 0.5 (ratio 1, balanced): median onsets x step 200, y step 200 (no sparse axis).") in lines
    assert ("  - spacing_y 4 (ratio 8, y sparse): coupling 1.5 → coupled in 1 of 2 seeds; the sparse axis (y) never "
            "reached acc 0.5 on its own training rows by step 600 (1 of 2 seeds), while the dense axis (x) did at step "
            "200; median onsets x step 200, y never in 1 of 2 seeds; off the lattice x step 200, y never in 1 of 2 "
            "seeds.") in lines
    assert "seeds disagree in 1 of 1 imbalanced measurable cell" in next(line for line in lines if "x/y" in line)
