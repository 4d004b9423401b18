"""The JUnit XML of ``cpd check --format junit`` read back by a JUnit parser.

``cpd check`` compares tests/fixtures/check/new.json with base.json in
interval mode and asserts the ``[[checks]]`` of run.toml there; one of the
records belongs to a model named ``x<y>&"q'%, :z``, so every character XML
escapes passes through a test case's name and a failure's message. The XML
is parsed by ``junitparser`` (and, strictly, by the standard library's
parser) and every suite, case, failure and skip is compared with what the
fixtures give. ``.ci/run`` runs it in a venv with a pinned junitparser::

    CPD_BIN=target/debug/cpd python -m pytest -q scripts/test_check_junit.py
"""

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "check"
WEIRD = "x<y>&\"q'%, :z"


def cpd_bin() -> Path:
    """$CPD_BIN, else the newest target/{release,debug}/cpd."""
    if os.environ.get("CPD_BIN"):
        return Path(os.environ["CPD_BIN"])
    found = [p for p in (ROOT / "target" / "release" / "cpd", ROOT / "target" / "debug" / "cpd") if p.exists()]
    if not found:
        pytest.fail("no cpd binary: build it (cargo build) or set CPD_BIN")
    return max(found, key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="module")
def xml_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("junit") / "check.xml"
    run = subprocess.run(
        [str(cpd_bin()), "check", "--baseline", "base.json", "--report", "new.json",
         "--manifest", "run.toml", "--mode", "interval", "--format", "junit", "--output", str(out)],
        cwd=FIXTURES, capture_output=True, text=True,
    )
    # The gate fails (exit 1), and still writes its XML.
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("status   record"), run.stdout
    return out


def test_the_xml_is_well_formed(xml_path):
    root = ET.parse(xml_path).getroot()
    assert root.tag == "testsuites"
    assert [s.get("tests") for s in root] == ["6", "4"]


def test_suites_and_counts(xml_path):
    xml = JUnitXml.fromfile(str(xml_path))
    suites = list(xml)
    assert [s.name for s in suites] == [
        "cpd check: new.json against base.json (r2_mean, interval mode)",
        "cpd check: [[checks]] of run.toml on new.json",
    ]
    assert [(s.tests, s.failures, s.errors, s.skipped) for s in suites] == [(6, 4, 0, 1), (4, 2, 0, 0)]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (10, 6, 0, 1)


def results(case):
    return list(case.result)


def test_every_record_is_a_case_with_its_rule_and_numbers(xml_path):
    suite = list(JUnitXml.fromfile(str(xml_path)))[0]
    cases = {c.name: c for c in suite}
    assert list(cases) == [
        "m/l1/-/gap/geom/ridge",
        "m/l1/-/gap/raw/ridge",
        f"{WEIRD}/l1/-/gap/geom/ridge",
        "m/l1/-/dipole/geom/ridge",
        "m/l2/-/gap/geom/ridge",
        "m/l3/-/gap/geom/ridge",
    ]
    assert all(c.classname == "cpd check" for c in suite)
    assert cases["m/l1/-/gap/geom/ridge"].is_passed
    (f,) = results(cases["m/l1/-/gap/raw/ridge"])
    assert isinstance(f, Failure)
    assert f.type == "interval"
    assert f.message == (
        "m/l1/-/gap/raw/ridge: outside the baseline's interval: baseline 0.7000, "
        "95 % CI [0.6800, 0.7200]; new 0.6000, 95 % CI [0.5700, 0.6300]; delta -0.1000"
    )
    assert f.text == f.message
    # The escaped characters come back as they were.
    (f,) = results(cases[f"{WEIRD}/l1/-/gap/geom/ridge"])
    assert f.message.startswith(f"{WEIRD}/l1/-/gap/geom/ridge: outside the baseline's interval: baseline 0.3000")
    (f,) = results(cases["m/l1/-/dipole/geom/ridge"])
    assert f.type == "tol_no_interval"
    assert "|delta| > tol 0.02 (no baseline interval): baseline 0.2000, no interval" in f.message
    (f,) = results(cases["m/l2/-/gap/geom/ridge"])
    assert f.type == "interval" and "not in the new report" in f.message
    (s,) = results(cases["m/l3/-/gap/geom/ridge"])
    assert isinstance(s, Skipped) and "not in the baseline" in s.message


def test_every_assertion_is_a_case(xml_path):
    suite = list(JUnitXml.fromfile(str(xml_path)))[1]
    got = [(c.classname, c.name, c.is_passed) for c in suite]
    assert got == [
        ('gap readable (layer = "l1", target = "gap", representation = "geom", probe = "ridge")',
         "m/l1/-/gap/geom/ridge: r2_mean ≥ 0.45", True),
        ('gap readable (layer = "l1", target = "gap", representation = "geom", probe = "ridge")',
         f"{WEIRD}/l1/-/gap/geom/ridge: r2_mean ≥ 0.45", False),
        ("checks[1] (every record)", "m/l1/-/gap/geom/mlp-ridge: gap ≤ 0.1", False),
        ('GBT reads composition (target = "ctrl_mass", probe = "gbt")',
         "m/l1/-/ctrl_mass/geom/gbt: geom_inflated = true", True),
    ]
    (f,) = results(list(suite)[2])
    assert f.type == "assertion"
    assert f.message == "m/l1/-/gap/geom/mlp-ridge: gap ≤ 0.1 FAILS (gap 0.1500, 95 % CI [0.1000, 0.2000])"


def test_notes_are_the_comparison_suites_output(xml_path):
    root = ET.parse(xml_path).getroot()
    out = root[0].find("system-out").text
    assert out.splitlines() == [
        "settings differ: seed: 0 → 1",
        f"unstable in the new report: {WEIRD}/l1/-/gap/geom/ridge (a few structures decide its mean R²)",
        "1 baseline record(s) without an interval judged by tol 0.02 instead: m/l1/-/dipole/geom/ridge",
    ]
    assert root[1].find("system-out") is None


def test_the_ci_files_are_yaml_whose_commands_are_single_lines():
    """The Rust test runs the commands of docs/ci/*.yml, reading one line
    per `run:` value and `script:` item: a YAML parser agrees."""
    yaml = pytest.importorskip("yaml")
    gh = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    runs = [s["run"] for s in gh["jobs"]["gate"]["steps"] if "run" in s]
    gl = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    script = gl["cpd-gate"]["script"]
    for cmds in (runs, script):
        assert len(cmds) == 3 and all("\n" not in c for c in cmds), cmds
        assert cmds[0] == "cargo install --locked --path ."
    assert gl["cpd-gate"]["artifacts"]["reports"]["junit"] == "cpd-check.xml"
    assert script[2].endswith("--format junit --output cpd-check.xml")
