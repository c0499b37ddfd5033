"""Every shell, Python and TOML block of README.md and docs/*.md runs (executable docs, issue 26).

A doc that stops working fails here, named by file and line (one test per block, id ``README.md:29``).

* **TOML** blocks parse and pass the project's own validators, in this process: a sweep spec
  (``[experiment]``) through ``experiments.load_spec``, the design plan and the outcome probe (what
  ``python -m experiments plan`` and ``run`` check); an optimisation spec (``[optimize]``) through
  ``load_optimize_spec``; a calibration spec (``[fit]``) through ``load_calibration_spec``; a scenario
  file through ``sim.load_config``. A fragment marked ``part of: PATH`` must be contained, key for
  key and value for value, in that shipped file, which must itself pass its validator.
* **Python** blocks run as a script (``__name__ == "__main__"``, a fresh namespace) in a subprocess
  with the venv's python; traceback line numbers are the doc's own.
* **Shell** blocks run in ``bash -e`` with ``.venv/bin/python`` resolvable; a failure names the
  doc line of the failing command.

Python and shell blocks run in a fresh copy of the project (``sim``, ``experiments``, ``app``,
``configs``, ``tools``; a ``.venv`` link to this interpreter's venv) in a temporary folder, so
nothing they write (``results/``, ``--publish``) touches the working tree. In that copy the shipped
specs are cut to a few runs (``SMALL`` below: the marked variable of these tests, one place, so a
command in the docs stays what a user types). What a block needs is said, visibly, in an HTML
comment on the line right before its fence, ``<!-- doc-test: DIRECTIVE; DIRECTIVE -->``:

    skip: REASON     not run (e.g. a server that runs until stopped); the reason is required,
                     comes last and is shown in pytest's summary (``-ra``)
    slow             marked ``@pytest.mark.slow`` (sweeps, fits: seconds to a minute each)
    setup: COMMAND   a shell command run first (once per session, in a shared copy whose
                     ``results/`` the block then gets), e.g. the sweep a Python block loads
    part of: PATH    a TOML fragment of that shipped file
    NAME=VALUE       a smaller value for a Python keyword argument ``NAME=...`` or a shell option
                     ``--NAME ...`` in the block (it must occur there)

Blocks of any other language (``text``: output, usage synopses, formulas, trees) are not run, and
every fence carries a language. ``python tests/test_docs_blocks.py`` prints the blocks per file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))
LANGS = {"bash": "shell", "sh": "shell", "shell": "shell", "console": "shell", "python": "python", "toml": "toml"}
NOT_RUN = {"text"}  # output, usage synopses, formulas, folder trees
COPIED = ("sim", "experiments", "app", "configs", "tools", "pyproject.toml", "Makefile")
TIMEOUT_S = 600  # one block; the slowest (three explain runs, the README's sweeps) take about a minute on 2 cores

# The shipped specs as the doc blocks run them (configs/experiments/<file>: key -> TOML value; each
# key must occur once, uncommented, in that file). Sizes are the smallest that keep each command's
# output meaningful: futures_lhs keeps its 40 quarters and 8 futures so that discovery has runs where
# the national tier is reached and runs where it is not, also among all five's; grant_timing keeps
# them because its grant windows run to 2029Q4; optimize needs 14 for retention_3y (the 2025Q3
# cohort 3 years on); the calibration specs keep theirs because the targets follow cohorts for 3
# years. explain runs every channel of every package, so its specs keep two packages (the docs
# name coordinate too: --packages and packages= take any preset).
TWO_PACKAGES = '["status_quo", "digital"]'
SMALL: dict[str, dict[str, int | str]] = {
    "paper_remedies.toml": {"horizon": 4, "replicates": 2, "posterior_draws": 2, "package": TWO_PACKAGES},
    "explain.toml": {"horizon": 4, "replicates": 2, "posterior_draws": 2, "package": TWO_PACKAGES},
    "levers_lhs.toml": {"horizon": 4, "samples": 4, "replicates": 1},
    "sobol.toml": {"horizon": 4, "samples": 2},
    "sobol_posterior.toml": {"horizon": 4, "samples": 2},
    "morris.toml": {"horizon": 4, "samples": 2},
    "grant_timing.toml": {"replicates": 1},
    "futures_lhs.toml": {"samples": 8, "replicates": 1},
    "optimize.toml": {"horizon": 14, "replicates": 1, "population": 4, "generations": 1},
    "optimize_smoke.toml": {"generations": 1},
    "calibrate.toml": {"population": 6, "generations": 1, "posterior_predictive": 2},
    "calibrate_smoke.toml": {"population": 6, "generations": 1, "posterior_predictive": 2},
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:(?P<body>.*?)-->\s*$")
_OVERRIDE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>\S+)$")


class DocBlockError(ValueError):
    """A doc block or its marker is malformed (named by file and line)."""


@dataclass(frozen=True)
class Marker:
    """The ``<!-- doc-test: ... -->`` directives of one block."""

    skip: str | None = None
    slow: bool = False
    setup: tuple[str, ...] = ()
    part_of: str | None = None
    overrides: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts (the opening fence's line, 1-based), its language, its code."""

    doc: str
    line: int
    info: str
    code: str
    marker: Marker = field(default_factory=Marker)

    @property
    def kind(self) -> str | None:
        """``shell``, ``python``, ``toml`` or None (not run)."""
        return LANGS.get(self.info.split()[0].lower()) if self.info.split() else None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def parse_marker(body: str, where: str) -> Marker:
    """The directives of one marker comment (see the module docstring); anything else is refused."""
    skip, slow, setup, part_of, overrides = None, False, [], None, []
    parts = body.split(";")
    for i, raw in enumerate(parts):
        d = raw.strip()
        if not d:
            continue
        if d.startswith("skip:") or d == "skip":  # the reason runs to the end of the comment, ';' and all
            skip = ";".join([d, *parts[i + 1:]]).removeprefix("skip").removeprefix(":").strip()
            if not skip:
                raise DocBlockError(f"{where}: 'skip' needs a reason: <!-- doc-test: skip: REASON -->")
            break
        if d == "slow":
            slow = True
        elif d.startswith("setup:"):
            setup.append(d.removeprefix("setup:").strip())
        elif d.startswith("part of:"):
            part_of = d.removeprefix("part of:").strip()
        elif m := _OVERRIDE.match(d):
            overrides.append((m["name"], m["value"]))
        else:
            raise DocBlockError(f"{where}: unknown doc-test directive {d!r}; allowed: skip: REASON, slow, "
                                "setup: COMMAND, part of: PATH, NAME=VALUE")
    return Marker(skip=skip, slow=slow, setup=tuple(setup), part_of=part_of, overrides=tuple(overrides))


def extract(doc: str, text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, each with the marker on the line right before its fence.

    A fence may be indented (inside a list item); the block's lines lose that indentation. A marker
    not followed by a fence, or a fence that is never closed, is a :class:`DocBlockError`."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    pending: tuple[int, Marker] | None = None
    while i < len(lines):
        if m := _MARKER.match(lines[i]):
            pending = (i + 1, parse_marker(m["body"], f"{doc}:{i + 1}"))
            i += 1
            continue
        m = _FENCE.match(lines[i])
        if pending is not None and not m:
            raise DocBlockError(f"{doc}:{pending[0]}: a doc-test marker must be on the line right before a fence")
        if not m:
            i += 1
            continue
        indent, ticks, info = m["indent"], m["ticks"], m["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.fullmatch(rf"[ \t]*{ticks}`*\s*", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        if i == len(lines):
            raise DocBlockError(f"{doc}:{start + 1}: the fence is never closed")
        blocks.append(Block(doc, start + 1, info, "\n".join(body) + "\n", pending[1] if pending else Marker()))
        pending = None
        i += 1
    if pending is not None:
        raise DocBlockError(f"{doc}:{pending[0]}: a doc-test marker must be on the line right before a fence")
    return blocks


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in extract(doc, (ROOT / doc).read_text(encoding="utf-8"))]


BLOCKS = all_blocks()
RUN = [b for b in BLOCKS if b.kind is not None]


def _param(b: Block) -> Any:
    # slow blocks (sweeps, fits, explain) also carry ``docs_long``: `make test` leaves them out (they add
    # 5-10 minutes on 2 cores), `make test-docs` runs them, and .ci/run runs both
    return pytest.param(b, id=b.id, marks=[pytest.mark.slow, pytest.mark.docs_long] if b.marker.slow else [])


# ------------------------------------------------------------------------------------------ the copy
def shrink_spec(path: Path, values: dict[str, int | str]) -> None:
    """Set ``key = value`` in a spec file for each key of ``values`` (each must occur exactly once)."""
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        pattern = re.compile(rf"^(\s*{re.escape(key)}\s*=\s*)[^#\n]*?(\s*(#.*)?)$", re.M)
        text, n = pattern.subn(lambda m: f"{m[1]}{value}{m[2]}", text)
        if n != 1:
            raise DocBlockError(f"SMALL: {path.name} has {n} lines setting {key!r} (need exactly 1)")
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)  # still TOML


def make_copy(dest: Path) -> Path:
    """A fresh copy of the project at ``dest`` with the shipped specs cut to SMALL; returns ``dest``."""
    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(sys.prefix, target_is_directory=True)  # .venv/bin/python: this venv
    for name, values in SMALL.items():
        shrink_spec(dest / "configs" / "experiments" / name, values)
    return dest


def env_for(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(PYTHONPATH=str(copy), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return env


def apply_overrides(block: Block) -> str:
    """The block's code with its ``NAME=VALUE`` overrides applied (each must occur in the code)."""
    code = block.code
    for name, value in block.marker.overrides:
        if block.kind == "python":
            pattern = re.compile(rf"(?<![\w.]){re.escape(name)}=[^,)\s]+")
            repl = f"{name}={value}"
        else:
            pattern = re.compile(rf"--{re.escape(name)}[ =]\S+")
            repl = f"--{name} {value}"
        code, n = pattern.subn(repl, code)
        if n == 0:
            raise DocBlockError(f"{block.id}: override {name}={value} matches nothing in the block")
    return code


def run_shell(script: str, copy: Path, first_line: int, what: str) -> None:
    """Run ``script`` with bash -e in ``copy``; a failure names the doc line of the failing command."""
    offset = first_line - 1  # script line 2 is the block's first line, doc line first_line + 1
    prefix = f"set -eo pipefail; trap 'echo \"doc-test: the command at line $((LINENO + {offset})) failed\" >&2' ERR\n"
    proc = subprocess.run(["bash", "-c", prefix + script], cwd=copy, env=env_for(copy), capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        pytest.fail(f"{what}: exit {proc.returncode}\n--- stdout (end)\n{_tail(proc.stdout)}\n"
                    f"--- stderr (end)\n{_tail(proc.stderr)}", pytrace=False)


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


class Setups:
    """Setup commands, each run once per session in one shared copy; blocks get its ``results/``."""

    def __init__(self, root: Path):
        self.root = root
        self.copy: Path | None = None
        self.done: set[str] = set()

    def give(self, block: Block, copy: Path) -> None:
        if not block.marker.setup:
            return
        if self.copy is None:
            self.copy = make_copy(self.root / "project")
        for cmd in block.marker.setup:
            if cmd not in self.done:
                run_shell(cmd + "\n", self.copy, 0, f"{block.id}: setup {cmd!r}")
                self.done.add(cmd)
        if (self.copy / "results").is_dir():
            shutil.copytree(self.copy / "results", copy / "results", dirs_exist_ok=True)


@pytest.fixture(scope="session")
def setups(tmp_path_factory: pytest.TempPathFactory) -> Setups:
    return Setups(tmp_path_factory.mktemp("doc-setup"))


# ------------------------------------------------------------------------------------------ TOML
def toml_kind(data: dict[str, Any]) -> str:
    """What a complete TOML document is: a calibration, optimisation or sweep spec, or a scenario."""
    if "experiment" in data:
        return "calibration" if "fit" in data else "optimize" if "optimize" in data else "sweep"
    return "scenario"


def validate_file(path: Path, kind: str) -> None:
    """``path`` passes the project's validator for ``kind`` (a ValueError naming the problem if not)."""
    import sim
    from experiments.running import design
    from experiments import load_spec
    from experiments.calibration.spec import load_calibration_spec
    from experiments.decision.optimize_spec import load_optimize_spec
    from experiments.running.provenance import model_version
    from experiments.running.sweep import check_outcomes

    if kind == "sweep":
        spec = load_spec(path)
        design.build_plan(spec, model_version())  # what `plan` does: the design, timing windows, run limit
        check_outcomes(spec, None)  # what `run` does first: the outcome names, from a 1-quarter probe
    elif kind == "optimize":
        load_optimize_spec(path)
    elif kind == "calibration":
        load_calibration_spec(path)
    else:
        sim.load_config(path)


def missing_from(part: Any, whole: Any, where: str = "") -> list[str]:
    """Keys of ``part`` absent from ``whole`` or with another value there (dotted paths)."""
    if isinstance(part, dict):
        if not isinstance(whole, dict):
            return [where or "(top)"]
        return [m for k, v in part.items()
                for m in (missing_from(v, whole[k], f"{where}.{k}".lstrip(".")) if k in whole
                          else [f"{where}.{k}".lstrip(".")])]
    return [] if part == whole else [f"{where} = {part!r} (the file has {whole!r})"]


def check_toml(block: Block, tmp_path: Path) -> None:
    try:
        data = tomllib.loads(block.code)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{block.id}: not valid TOML: {exc}", pytrace=False)
    if block.marker.part_of:
        whole_path = ROOT / block.marker.part_of
        whole = tomllib.loads(whole_path.read_text(encoding="utf-8"))
        if diff := missing_from(data, whole):
            pytest.fail(f"{block.id}: not part of {block.marker.part_of}: {'; '.join(diff)}", pytrace=False)
        path, kind = whole_path, toml_kind(whole)
    else:
        path, kind = tmp_path / "block.toml", toml_kind(data)
        path.write_text(block.code, encoding="utf-8")
    try:
        validate_file(path, kind)
    except ValueError as exc:
        pytest.fail(f"{block.id}: refused as a {kind} file: {exc}", pytrace=False)


def run_block(block: Block, tmp_path: Path, setups: Setups) -> None:
    """Check or run one block (see the module docstring); a failure is ``pytest.fail`` naming it."""
    if block.kind == "toml":
        check_toml(block, tmp_path)
        return
    code = apply_overrides(block)
    copy = make_copy(tmp_path / "project")
    setups.give(block, copy)
    if block.kind == "shell":
        run_shell(code, copy, block.line, block.id)
        return
    script = copy / f"{Path(block.doc).name}_L{block.line}.py"
    script.write_text("\n" * block.line + code, encoding="utf-8")  # traceback lines = doc lines
    proc = subprocess.run([str(copy / ".venv" / "bin" / "python"), str(script)], cwd=copy, env=env_for(copy),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        pytest.fail(f"{block.id}: exit {proc.returncode}\n--- stderr (end)\n{_tail(proc.stderr)}", pytrace=False)


# ------------------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("block", [_param(b) for b in RUN])
def test_doc_block_runs(block: Block, tmp_path: Path, setups: Setups) -> None:
    """The block works as the docs show it (see the module docstring for what 'works' means per language)."""
    if block.marker.skip:
        pytest.skip(f"{block.id}: {block.marker.skip}")
    run_block(block, tmp_path, setups)


def test_every_fence_has_a_language() -> None:
    """A fence without a language could hide a command nobody runs: code says its language, the rest
    says ``text``; and a language this test does not know is named so it can be added."""
    bad = [f"{b.id} ({b.info or 'no language'})" for b in BLOCKS
           if b.kind is None and b.info.split()[:1] != ["text"]]
    assert not bad, f"fences without a known language (use text for output/synopses): {', '.join(bad)}"


_BARE = re.compile(r"(?<![\w/.-])(?<!-m )(python3?|pip3?)(?![\w/.-])")


def bare_python(code: str) -> list[str]:
    """The bare ``python``/``pip`` commands of shell code (comments left out; ``-m pip`` is no command)."""
    return [m.group(1) for line in code.splitlines() for m in _BARE.finditer(line.split("#", 1)[0])]


def test_shell_blocks_use_the_venv_python() -> None:
    """Commands call ``.venv/bin/python`` (what ``make`` creates), never a bare ``python``/``pip``,
    which on most machines is not the one with the project installed."""
    bad = [f"{b.id}: {cmd}" for b in RUN if b.kind == "shell" for cmd in bare_python(b.code)]
    assert not bad, f"bare python/pip in shell blocks (use .venv/bin/python): {', '.join(bad)}"


def test_inventory() -> None:
    """Every doc holds what the parametrised test runs: blocks are found, skipped ones say why, and
    the SMALL table names keys that the shipped specs set (so a renamed key cannot silently stop
    shrinking a sweep)."""
    counts = inventory()
    assert sum(c["ran"] for c in counts.values()) >= 20, counts
    assert all(b.marker.skip for b in RUN if b.marker.skip is not None)
    for name, values in SMALL.items():
        text = (ROOT / "configs" / "experiments" / name).read_text(encoding="utf-8")
        for key in values:
            assert len(re.findall(rf"^\s*{re.escape(key)}\s*=", text, re.M)) == 1, (name, key)


# ------------------------------------------------------------------------------------------ the harness
BROKEN_TEMPLATE = """
[experiment]
seed = 1
replicates = 1
horizon = 4
[design]
kind = "full_factorial"
cross = ["package"]
[levers]
package = ["status_quo", "digital"]
"""


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (Block("d.md", 3, "toml", BROKEN_TEMPLATE), 'd.md:3: refused as a sweep file: block.toml: [design] cross'),
        (Block("d.md", 3, "toml", "[experiment\n"), "d.md:3: not valid TOML"),
        (Block("d.md", 3, "toml", "[levers]\nrd_subsidy_rat = 0.1\n"), "refused as a scenario file"),
        (Block("d.md", 3, "toml", "[experiment]\nreplicates = 31\n",
               Marker(part_of="configs/experiments/paper_remedies.toml")),
         "not part of configs/experiments/paper_remedies.toml: experiment.replicates = 31 (the file has 30)"),
        (Block("d.md", 3, "bash", "true\nfalse\ntrue\n"), "the command at line 5 failed"),
        (Block("d.md", 3, "python", "x = 1\nraise SystemExit('no: ' + str(x))\n"), "no: 1"),
        (Block("d.md", 3, "python", "1 / 0\n"), 'd.md_L3.py", line 4'),  # the doc's own line number
    ],
    ids=["refused-spec", "bad-toml", "refused-scenario", "not-part-of", "shell", "python-exit", "python-line"],
)
def test_a_broken_block_fails_naming_its_line(block: Block, expected: str, tmp_path: Path, setups: Setups) -> None:
    """The harness itself can fail: each kind of broken block is a failure naming the doc line and the cause."""
    with pytest.raises(pytest.fail.Exception) as err:
        run_block(block, tmp_path, setups)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!-- doc-test: skp: typo -->\n```bash\ntrue\n```\n", "d.md:1: unknown doc-test directive 'skp: typo'"),
        ("<!-- doc-test: skip -->\n```bash\ntrue\n```\n", "d.md:1: 'skip' needs a reason"),
        ("<!-- doc-test: slow -->\n\n```bash\ntrue\n```\n", "d.md:1: a doc-test marker must be on the line right"),
        ("```bash\ntrue\n", "d.md:1: the fence is never closed"),
    ],
)
def test_a_bad_marker_or_fence_is_refused(text: str, expected: str) -> None:
    with pytest.raises(DocBlockError) as err:
        extract("d.md", text)
    assert expected in str(err.value)


def test_markers_and_overrides_are_read_as_written(tmp_path: Path) -> None:
    """Directives parse (a skip reason keeps its ';'), overrides replace what they name and nothing
    else, an override naming nothing is refused, and so is a SMALL key a spec does not set once."""
    text = ("  <!-- doc-test: slow; setup: echo a; part of: x.toml; n=2 -->\n  ```python\n  f(n=40, m=3)\n  ```\n"
            "<!-- doc-test: skip: serves; forever -->\n```sh\nrun --draws 40 --n 1\n```\n")
    py, sh = extract("d.md", text)
    assert py.marker == Marker(slow=True, setup=("echo a",), part_of="x.toml", overrides=(("n", "2"),))
    assert (py.line, py.kind, py.code) == (2, "python", "f(n=40, m=3)\n")  # the list indentation is gone
    assert apply_overrides(py) == "f(n=2, m=3)\n"
    assert sh.marker.skip == "serves; forever" and sh.kind == "shell"
    assert apply_overrides(Block("d.md", 1, "sh", sh.code, Marker(overrides=(("draws", "2"),)))) == \
        "run --draws 2 --n 1\n"
    with pytest.raises(DocBlockError, match="override k=1 matches nothing"):
        apply_overrides(Block("d.md", 1, "python", "f(n=1)\n", Marker(overrides=(("k", "1"),))))
    assert bare_python("python -m x  # python\n.venv/bin/python -m pip y && pip3 z\ncd a; python3 t.py\n") == \
        ["python", "pip3", "python3"]
    spec = tmp_path / "s.toml"
    spec.write_text("[experiment]\nhorizon = 40   # quarters\n# samples = 3\n", encoding="utf-8")
    shrink_spec(spec, {"horizon": 4})
    assert spec.read_text(encoding="utf-8") == "[experiment]\nhorizon = 4   # quarters\n# samples = 3\n"
    with pytest.raises(DocBlockError, match="has 0 lines setting 'samples'"):
        shrink_spec(spec, {"samples": 2})


def inventory() -> dict[str, Counter]:
    """Per doc: blocks run (fast / slow), skipped and not run (text)."""
    counts: dict[str, Counter] = {doc: Counter() for doc in DOCS}
    for b in BLOCKS:
        c = counts[b.doc]
        if b.kind is None:
            c["text"] += 1
        elif b.marker.skip:
            c["skipped"] += 1
        else:
            c["ran"] += 1
            c["slow" if b.marker.slow else "fast"] += 1
    return counts


if __name__ == "__main__":  # python tests/test_docs_blocks.py: the blocks per file
    for doc, c in inventory().items():
        print(f"{doc:24s} ran {c['ran']:2d} ({c['fast']} fast, {c['slow']} slow), skipped {c['skipped']}, "
              f"text {c['text']}")
    for b in RUN:
        if b.marker.skip:
            print(f"  skip {b.id}: {b.marker.skip}")
