"""report.html read back with the standard library's HTML parser: the drill-down grid matches landscape.csv, every
link lands on something that exists, and nothing points off the machine."""

import json
import math
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from test_analysis_report import build_sweep, grid_with_unmeasurable_cell, write_sweep
from test_facets import architecture_sweep

from analysis.drilldown import BLANK, MAX_STRIP, NO_PHASE
from analysis.report import write_report
from analysis.style import PHASE_COLOURS

URL_ATTRIBUTES = ("href", "src", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background")


class Page(HTMLParser):
    """What the tests read from a page: ids, every URL attribute, the grid's cell links and, per drill-down
    section, its trial rows, sample montages and charts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: Counter = Counter()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.cells: list[dict[str, str]] = []
        self.sections: dict[str, Counter] = {}
        self.tags: Counter = Counter()
        self._section: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        self.tags[tag] += 1
        if "id" in a:
            self.ids[a["id"]] += 1
        self.urls += [(tag, k, a[k]) for k in URL_ATTRIBUTES if k in a]
        if tag == "a" and "cell" in classes:
            self.cells.append(a)
        if tag == "section" and "drill" in classes:
            self._section = a["id"]
            self.sections[self._section] = Counter()
        elif self._section is not None:
            self.sections[self._section].update([tag, *(f".{c}" for c in classes)])

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None


def expected_colour(cell: pd.Series) -> str:
    """The grid colour a landscape.csv row must have: its phase colour when measurable and not failed (inferred
    cells too), white when failed or unmeasurable (hatched instead), grey without a phase."""
    if cell["state"] == "failed" or not cell["measurable"]:
        return BLANK
    return NO_PHASE if pd.isna(cell["phase"]) else PHASE_COLOURS[cell["phase"]]


def same(a: str, b) -> bool:
    """A data attribute's value against a landscape.csv value (numbers compared as numbers)."""
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9) or float(a) == float(b)
    except (TypeError, ValueError):
        return a == str(b)


def check_report(out: Path, x: str, y: str | None) -> tuple[Page, pd.DataFrame]:
    """The structural checks every report on axes ``x`` and ``y`` (None: one axis) must pass; returns the parsed
    page and landscape.csv."""
    page = Page((out / "report.html").read_text())
    cells = pd.read_csv(out / "landscape.csv")
    cells["facet"] = ["" if pd.isna(f) else f for f in cells["facet"]]  # no facets: an empty column reads NaN
    assert not [i for i, n in page.ids.items() if n > 1], "duplicate ids"
    # every fragment link lands on an element; every grid cell on a drill-down section
    fragments = [v for _, k, v in page.urls if k == "href" and v.startswith("#")]
    assert fragments and all(v[1:] in page.ids for v in fragments)
    assert {c["href"][1:] for c in page.cells} <= set(page.sections)
    assert len(page.cells) == len(cells) == len(page.sections)
    # nothing is fetched from or linked to another machine
    for tag, attribute, value in page.urls:
        assert not re.match(r"^\s*(https?:|//|ftp:|file:)", value, re.I), (tag, attribute, value[:80])
        assert value.startswith(("#", "data:image/png;base64,")) or not re.match(r"^[a-z][a-z0-9+.-]*:", value), value
    assert page.tags["link"] == 0 and page.tags["script"] == 0 and page.tags["iframe"] == 0
    # each landscape.csv row is exactly one grid cell, with its phase, state and colour
    for _, row in cells.iterrows():
        match = [c for c in page.cells if c["data-facet"] == row["facet"] and same(c["data-x"], row[x])
                 and (y is None and "data-y" not in c or y is not None and same(c["data-y"], row[y]))]
        assert len(match) == 1, (row["facet"], row[x], row[y])
        cell = match[0]
        assert cell["data-phase"] == ("" if pd.isna(row["phase"]) else row["phase"])
        assert cell["data-state"] == row["state"] and cell["data-measurable"] == str(int(bool(row["measurable"])))
        assert f"background-color:{expected_colour(row)}" in cell["style"]
        marks = set(cell["class"].split()) & {"inferred", "failed", "unmeasurable"}
        want = ({"inferred"} if row["state"] == "inferred" else {"failed"} if row["state"] == "failed"
                else set() if row["measurable"] else {"unmeasurable"})
        assert marks == want, (row[x], row[y], marks)
        # a trained cell's section has one row per trial and its charts; an inferred one says so
        section = page.sections[cell["href"][1:]]
        assert section[".trial"] == (0 if row["state"] == "inferred" else row["n_trials"])
    return page, cells


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """A report of real micro trials (two seeds of one cell, continuous data still running, one failed trial)."""
    sweep = build_sweep(tmp_path_factory.mktemp("micro"))
    return sweep, write_report(sweep).parent


def test_micro_report_grid_sections_and_links(micro):
    sweep, out = micro
    page, cells = check_report(out, "density", "overlap")
    assert set(cells["state"]) == {"done", "partial", "failed"}
    # relative links to the trial folders, each resolving to the folder on disk
    folders = [unquote(v) for tag, k, v in page.urls if tag == "a" and k == "href" and "trials/" in v]
    assert len(folders) == 3 and all((out / f).resolve().is_dir() for f in folders)
    assert all((out / f).resolve().parent == (sweep / "trials").resolve() for f in folders)


def test_micro_report_shows_samples_of_every_evaluation_and_the_curves(micro):
    sweep, out = micro
    page, cells = check_report(out, "density", "overlap")
    n_evals = {p.parent.parent.name: len(list(p.parent.glob("step_*.npz"))) for p in sweep.glob("trials/*/evals/*")}
    assert set(n_evals.values()) == {3} and MAX_STRIP >= 3  # steps 0, 5 and 10
    lattice = cells[cells["density"] == 0.5].iloc[0]
    section = page.sections[next(c["href"][1:] for c in page.cells if same(c["data-x"], lattice["density"]))]
    assert section[".trial"] == 2 and section[".tiles"] == 2 * 3  # two seeds, three evaluations each
    assert section["svg"] == 4  # acc/acc_x/acc_y and the three headline probe metrics
    failed = page.sections[next(c["href"][1:] for c in page.cells if c["data-state"] == "failed")]
    assert failed[".trial"] == 1 and failed[".tiles"] == 0  # failed before its first evaluation: no samples


def test_faceted_report_has_one_grid_per_facet(tmp_path):
    sweep = architecture_sweep(tmp_path / "sweep")
    write_report(sweep, tmp_path / "out")
    page, cells = check_report(tmp_path / "out", "density", None)  # overlap is constant: one axis
    assert cells["facet"].nunique() == 4
    assert len([i for i in page.ids if i.startswith("drill-grid-")]) == 4


def test_inferred_unmeasurable_and_failed_cells_are_marked(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", grid_with_unmeasurable_cell(), "marks", ["density", "overlap"])
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest["boundary"] = {"complete": True, "cells": [
        {"values": {"density": 2.0, "overlap": 0.5}, "trained": False, "phase": "C"}]}
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    write_report(sweep, tmp_path / "out")
    _, cells = check_report(tmp_path / "out", "density", "overlap")
    assert set(cells["state"]) >= {"inferred", "failed"} and not cells["measurable"].all()
