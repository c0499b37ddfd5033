"""``python -m experiments study`` (``make study``): the step list, resume, failures, the plan and the index.

Never the full study: the shipped specs are only turned into steps (no model runs); the commands that
really run use a tiny spec folder (4 quarters, 1 replicate) and --serial.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from experiments import study
from experiments.cli import main
from experiments.running.files import DamagedFile

SPECS = study.SPECS_DIR
TINY = """[experiment]
description = "tiny"
seed = 1
replicates = 1
horizon = 4
crn = true
[base]
scenario = "configs/baseline.toml"
[levers]
package = ["status_quo", "digital"]
[outcomes]
city = []
clusters = ["energy_index", "energy_tier"]
districts = []
[design]
kind = "full_factorial"
"""
BROKEN = TINY.replace('package = ["status_quo", "digital"]', "rd_subsidy_rat = [0.1, 0.2]")  # a misspelt lever


def shipped_steps(refit: bool = False, specs: Path = SPECS) -> list[study.Step]:
    return study.build_steps(specs, study.load_config(study.STUDY_CONFIG), refit=refit)


# ---------------------------------------------------------------------------- the step list
def test_every_shipped_spec_is_a_step_of_its_kind():
    steps = shipped_steps()
    kinds: dict[str, list[str]] = {}
    for s in steps:
        kinds.setdefault(s.spec, []).append(s.kind)
    for path in sorted(SPECS.glob("*.toml")):
        raw = study._raw(path)
        want = {"sweep": "run", "optimize": "optimize", "calibration": "calibrate", "explain": "explain"}
        expected = "explain" if path.stem == "explain" else want[study.spec_kind(raw)]
        assert expected in kinds.get(path.stem, []), f"{path.name} has no {expected} step: {kinds.get(path.stem)}"
    # the order: every step after the steps it needs
    seen: set[str] = set()
    for s in steps:
        assert set(s.after) <= seen, f"{s.id} runs before {set(s.after) - seen}"
        seen.add(s.id)
    by_id = {s.id: s for s in steps}
    assert {"explain:explain", "paper_remedies:run", "paper_remedies:validate"} <= set(by_id["paper_remedies:analyze"].after)
    assert by_id["explain:explain"].folder == "paper_remedies"  # as `make run`: one report with the channels


def test_the_fit_runs_only_with_refit_and_then_comes_first():
    off = {s.id: s for s in shipped_steps()}
    assert off["calibrate:calibrate"].off and "--refit" in off["calibrate:calibrate"].off
    assert "posterior:recheck" in off and not off["posterior:recheck"].off
    on = shipped_steps(refit=True)
    assert on[0].id == "calibrate:calibrate" and not on[0].off and "--publish" in on[0].argv
    by_id = {s.id: s for s in on}
    for sid in ("posterior:recheck", "paper_remedies:run", "explain:explain", "futures_lhs:run",
                "paper_remedies:validate"):
        assert "calibrate:calibrate" in by_id[sid].after, sid
    assert "calibrate:calibrate" not in by_id["levers_lhs:run"].after  # no posterior there
    assert "--publish" not in by_id["calibrate_smoke:calibrate"].argv  # the smoke fit publishes nothing


def test_no_step_changes_a_spec_size():
    for s in shipped_steps(refit=True):
        assert not {"--quarters", "--packages", "--batch", "--retry-failed", "--force"} & set(s.argv), s.id


def test_documented_commands_of_each_spec_are_steps():
    """Each `python -m experiments CMD` line in a spec's header comment is a step of that spec."""
    steps = shipped_steps(refit=True)
    have = {(s.spec, s.kind) for s in steps}
    found = 0
    for path in sorted(SPECS.glob("*.toml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"#\s+python -m experiments (\w+) (\S+)(.*)", line)
            if not m or m.group(1) == "plan":  # plan runs nothing
                continue
            found += 1
            cmd = m.group(1)
            assert (path.stem, cmd) in have, f"{path.name} documents `{cmd}`; the study has {sorted(have)}"
            if "--analyze" in m.group(3):
                assert (path.stem, "analyze") in have, path.name
    assert found >= 10  # the headers do document commands (a test that finds none proves nothing)


def test_a_new_spec_file_is_picked_up(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "zz_new.toml").write_text(TINY, encoding="utf-8")
    (specs / "zz_opt.toml").write_text((SPECS / "optimize_smoke.toml").read_text(encoding="utf-8"), encoding="utf-8")
    ids = [s.id for s in shipped_steps(specs=specs)]
    assert ids[-3:] == ["zz_new:run", "zz_new:analyze", "zz_opt:optimize"]


@pytest.mark.parametrize(("text", "words"), [
    ("[specs.nope]\nsteps = ['run']\n", ["[specs.nope] names no spec", "specs: calibrate"]),
    ("[specs.morris]\nsteps = ['run', 'explode']\n", ["[specs.morris] steps: 'explode'", "allowed: run, explain"]),
    ("[specs.optimize]\nsteps = ['run']\n", ["'run' is not a step of an optimize spec", "allowed: optimize"]),
    ("[specs.morris]\nsteps = ['run', 'discover']\n", ["discover: needs where"]),
    ("[specs.morris]\nsteps = ['run', 'robustness']\n", ["robustness: needs goals", "morris.toml has no [robustness]"]),
    ("[specs.morris]\nsteps = ['run']\nrobustness = { goals = 'x > 1' }\n",
     ["robustness.goals: 'x > 1' is not allowed", "non-empty list of strings"]),
    ("[specs.morris]\nsteps = ['run', 'validate']\nvalidate = { draws = 0 }\n",
     ["validate.draws: 0 is not allowed", "1-10000"]),
    ("[specs.morris]\ninto = '../elsewhere'\n", ["into: '../elsewhere' is not allowed"]),
    ("[specs.morris]\nsize = 3\n", ["unknown key 'size'", "allowed: steps, into"]),
    ("[estimate]\nparallel_efficiency = -1\n", ["[estimate] parallel_efficiency: -1 is not allowed", "> 0"]),
    ("[posterior]\nfit = 'nofit'\n", ["[posterior] fit: 'nofit' names no spec"]),
    ("[runs]\n", ["unknown section [runs]", "allowed: posterior, specs, estimate"]),
])
def test_bad_study_config_is_one_line_naming_key_and_value(tmp_path, text, words):
    cfg = tmp_path / "study.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(study.StudyError) as e:
        study.build_steps(SPECS, study.load_config(cfg))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{cfg}: ")
    for w in words:
        assert w in msg, msg


def test_bad_only_and_damaged_ledger_are_one_line(tmp_path, capsys):
    assert main(["study", "--only", "paper_remedy", "--plan"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --only: 'paper_remedy' is not a spec of the study; allowed: calibrate, posterior")
    ledger = tmp_path / study.WORK / "ledger.json"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(DamagedFile, match=r"ledger.json: is not valid JSON .*; delete it to start the ledger again"):
        study.Ledger(ledger)


# ---------------------------------------------------------------------------- running (a stand-in launcher)
def _fake(failing: set[str], calls: list[str], rc: int = 2):
    """A launcher that writes the outputs a command would, or fails the steps whose folder is in ``failing``."""

    def launch(argv: list[str], log: Path) -> tuple[int, str]:
        folder = Path(argv[3])
        calls.append(folder.name + ":" + argv[2])
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("...\n", encoding="utf-8")
        if folder.name in failing:
            return rc, "error: boom"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text("# report\n", encoding="utf-8")
        (folder / "robustness").mkdir(exist_ok=True)
        for f in ("regret.csv", "satisficing.csv"):
            (folder / "robustness" / f).write_text("x\n", encoding="utf-8")
        return 0, ""

    return launch


def _steps() -> list[study.Step]:
    out = []
    for name in ("a", "b"):
        an = study.Step(name, "analyze", ("-m", "experiments", "analyze", f"{{out}}/{name}"), name)
        ro = study.Step(name, "robustness", ("-m", "experiments", "robustness", f"{{out}}/{name}"), name,
                        after=[an.id])
        out += [an, ro]
    return out


def test_a_failing_step_is_reported_and_the_rest_go_on_then_resume_skips(tmp_path):
    out, calls = tmp_path / "o", []
    res = {o.step.id: o for o in study.run_study(_steps(), out, launcher=_fake({"a"}, calls), log=lambda _: None)}
    assert [res[i].status for i in ("a:analyze", "a:robustness", "b:analyze", "b:robustness")] == \
        ["failed", "blocked", "ok", "ok"]
    assert res["a:analyze"].error == "exit 2: error: boom"
    assert res["a:robustness"].detail == "needs a:analyze (failed)"
    index = (out / "index.md").read_text(encoding="utf-8")
    assert "| a:analyze | `python -m experiments analyze" in index and "**failed**: exit 2: error: boom" in index
    assert "| a:robustness |" in index and "not run: needs a:analyze (failed)" in index
    # again: the finished steps are skipped, the failed one is tried again (and now works)
    calls.clear()
    res = {o.step.id: o for o in study.run_study(_steps(), out, launcher=_fake(set(), calls), log=lambda _: None)}
    assert calls == ["a:analyze", "a:robustness"]
    assert [res[i].status for i in ("a:analyze", "a:robustness", "b:analyze", "b:robustness")] == \
        ["ok", "ok", "skipped", "skipped"]
    # an output gone: that step (and what needs it) runs again
    (out / "b" / "report.md").unlink()
    calls.clear()
    study.run_study(_steps(), out, launcher=_fake(set(), calls), log=lambda _: None)
    assert calls == ["b:analyze", "b:robustness"]


def test_a_failing_check_is_a_finding_not_a_failure(tmp_path):
    steps = [study.Step("p", "validate", ("-m", "sim", "validate", "{out}/p"), "p"),
             study.Step("p", "analyze", ("-m", "experiments", "analyze", "{out}/p"), "p")]
    steps[1].after = [steps[0].id]
    res = study.run_study(study._ordered(steps), tmp_path, log=lambda _: None,
                          launcher=lambda argv, log: (1, "3/14 checks pass") if argv[2] == "validate" else (0, ""))
    assert [o.status for o in res] == ["finding", "ok"]


def test_ctrl_c_keeps_the_index_and_the_ledger(tmp_path):
    def launch(argv: list[str], log: Path) -> tuple[int, str]:
        if argv[3].endswith("/b"):
            raise KeyboardInterrupt
        return _fake(set(), [])(argv, log)

    with pytest.raises(KeyboardInterrupt):
        study.run_study(_steps(), tmp_path, launcher=launch, log=lambda _: None)
    led = study.Ledger(tmp_path / study.WORK / "ledger.json")
    assert led.steps["a:analyze"]["status"] == "ok" and led.steps["b:analyze"]["status"] == "interrupted"
    row = next(ln for ln in (tmp_path / "index.md").read_text(encoding="utf-8").splitlines()
               if ln.startswith("| b:analyze |"))
    assert "**interrupted**" in row and "interrupted (Ctrl-C)" in row


# ---------------------------------------------------------------------------- real commands, tiny specs
@pytest.fixture
def tiny_specs(tmp_path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    (d / "broken.toml").write_text(BROKEN, encoding="utf-8")
    (d / "tiny.toml").write_text(TINY, encoding="utf-8")
    return d


def test_plan_lists_commands_sizes_and_estimate_and_writes_nothing(tiny_specs, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["study", "--plan", "--specs", str(tiny_specs), "--out", str(out), "--only", "tiny"]) == 0
    text = capsys.readouterr().out
    assert "[1/2] tiny:run: 2 runs x 4 quarters (full_factorial, 1 replicate), ~0:00:" in text
    assert f"python -m experiments run {tiny_specs / 'tiny.toml'} --out {out}/tiny" in text
    assert "[2/2] tiny:analyze: reads the results" in text
    assert re.search(r"estimated wall time: ~\d+:\d\d:\d\d on \d+ worker", text)
    assert not out.exists()
    # a spec that cannot be planned: named, and the plan exits 1
    assert main(["study", "--plan", "--specs", str(tiny_specs), "--out", str(out), "--only", "broken"]) == 1
    assert "broken:run: cannot be planned: broken.toml: [levers] unknown lever 'rd_subsidy_rat'" in \
        capsys.readouterr().out


def test_study_runs_tiny_specs_reports_a_failure_and_resumes(tiny_specs, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["study", "--specs", str(tiny_specs), "--out", str(out), "--serial"]) == 1
    printed = capsys.readouterr()
    assert re.search(r"broken:run +failed .*unknown lever 'rd_subsidy_rat'", printed.out)
    assert re.search(r"tiny:analyze +ok ", printed.out) and "total: " in printed.out
    assert "[3/4] tiny:run: python -m experiments run" in printed.err  # a progress line per step
    index = (out / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert "tiny/report.md" in links and "_study/logs/broken.run.log" in links
    assert all((out / link).is_file() for link in links), links
    html_links = re.findall(r'href="([^"]+)"', (out / "index.html").read_text(encoding="utf-8"))
    assert sorted(html_links) == sorted(links)
    assert "exit 2: error: broken.toml: [levers] unknown lever 'rd_subsidy_rat'" in index
    report = out / "tiny" / "report.md"
    before = report.stat().st_mtime_ns
    # resume: nothing of tiny runs again
    assert main(["study", "--specs", str(tiny_specs), "--out", str(out), "--serial", "--only", "tiny"]) == 0
    printed = capsys.readouterr()
    assert re.search(r"tiny:run +skipped .*all 2 runs recorded", printed.out)
    assert re.search(r"tiny:analyze +skipped .*with the same inputs", printed.out)
    assert report.stat().st_mtime_ns == before
    assert "python -m experiments" not in printed.err.split("study:", 1)[1]  # no command started
