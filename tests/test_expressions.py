"""No code from data: conditions, goals and constraints typed by users (``discover --where`` /
``--among``, ``robustness --goal``, ``[robustness] goals`` in a results folder's ``spec.toml``,
``[optimize] constraints``) go through the grammar of ``experiments.running.expressions``.

Every hostile expression is refused in one line naming it and the offending piece, and the canary
file the payload would create never appears; the valid expressions keep the meaning they had under
``pandas.DataFrame.eval`` (missing values make a comparison false, ``&`` binds like ``and``, chained
comparisons, ``in [...]``). The CLI cases run on a finished stand-in sweep (tests/test_decision.py)
and check that nothing in the results folder changes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.running.expressions import MAX_CHARS, ExpressionError, parse
from experiments.running.goals import check_options, evaluate
from test_bad_inputs import assert_one_line_error
from test_decision import ROBUSTNESS_SPEC, robustness_model, sweep

ROOT = Path(__file__).resolve().parents[1]
CHAIN = "x.__class__.__init__.__globals__['sys'].modules['os'].system('touch {canary}')"

# (id, expression with {canary} for the canary file's path, fragments the one line must contain)
HOSTILE = [
    ("globals-chain", CHAIN, ["is refused", "function call", "not allowed", "allowed: column names"]),
    ("globals-attribute", "x.__class__.__init__.__globals__", ["attribute access '.__globals__'"]),
    ("dunder-class", "x.__class__", ["attribute access '.__class__' is not allowed"]),
    ("import-system", "__import__('os').system('touch {canary}')", ["function call '__import__('os').system(...)'"]),
    ("import-name", "__import__ == 1", ["name '__import__'", "no names with '__'"]),
    ("builtins-name", "__builtins__ > 0", ["name '__builtins__'"]),
    ("to-csv", "x.to_csv('{canary}')", ["function call 'x.to_csv(...)'"]),
    ("to-csv-compared", "x.to_csv('{canary}') == 0 or x > 1", ["function call 'x.to_csv(...)'"]),
    ("to-parquet", "x.to_frame().to_parquet('{canary}')", ["function call"]),
    ("open-write", "open('{canary}', 'w').write('x') > 0", ["function call 'open("]),
    ("exec", "exec(\"open('{canary}', 'w')\")", ["function call 'exec(...)'"]),
    ("eval", "eval(\"open('{canary}', 'w')\")", ["function call 'eval(...)'"]),
    ("getattr", "getattr(x, 'to_csv')('{canary}')", ["function call"]),
    ("pipe-print", "x.pipe(print)", ["function call 'x.pipe(...)'"]),
    ("series-eval", "x.eval('1')", ["function call 'x.eval(...)'"]),
    ("pd-read", "pd.read_csv('/etc/passwd')", ["function call 'pd.read_csv(...)'"]),
    ("np-save", "np.save('{canary}', x)", ["function call 'np.save(...)'"]),
    ("subclasses", "().__class__.__bases__[0].__subclasses__()", ["function call"]),
    ("attribute-real", "x.real > 0", ["attribute access '.real'"]),
    ("subscript", "x[0] > 1", ["subscript 'x[0]'"]),
    ("slice", "x[1:2] > 1", ["subscript 'x[1:2]'"]),
    ("lambda", "(lambda: __import__('os'))()", ["function call"]),
    ("lambda-bare", "lambda: 1", ["lambda 'lambda: 1'"]),
    ("list-comp", "[i for i in x]", ["comprehension"]),
    ("set-comp", "{{i for i in x}}", ["comprehension"]),
    ("dict-comp", "{{i: i for i in x}}", ["comprehension"]),
    ("generator", "(i for i in x)", ["generator expression"]),
    ("f-string", "f'{{x}}' == 'a'", ["f-string"]),
    ("power-tower", "10**10**10", ["exponent '10 ** 10'", "from -10 to 10"]),
    ("power-big", "x ** 11 > 1", ["exponent '11'"]),
    ("power-name", "x ** y > 1", ["exponent 'y'"]),
    ("terms-5000", " and ".join(["x > 1"] * 5000), ["49,995 characters long", f"at most {MAX_CHARS:,}"]),
    ("string-100k", "x == '" + "a" * 100_000 + "'", ["100,007 characters long"]),
    ("parens-500", "(" * 500 + "x" + ")" * 500 + " > 1", ["1,005 characters long"]),
    ("parens-300", "(" * 300 + "x" + ")" * 300, ["not a valid expression", "too many nested parentheses"]),
    ("minus-999", "-" * 990 + "x > 1", ["nested more than 100 deep"]),
    ("parts-1000", "|".join(["x>1"] * 200), ["has more than 500 parts"]),
    ("unicode-name", "\uff58 > 1", ["name '\uff58' is not allowed", "ASCII"]),
    ("unicode-letter", "r\u00e9tention > 1", ["name 'r\u00e9tention'"]),
    ("matmul", "x @ x", ["operator '@'"]),
    ("walrus", "(y := 1) > 0", ["assignment (:=)"]),
    ("yield", "(yield x)", ["yield"]),
    ("await", "await x", ["await 'await x'"]),
    ("bytes", "b'abc' == x", ["bytes b'abc'"]),
    ("abs", "abs(x) > 1", ["function call 'abs(...)'"]),
    ("sum", "sum(x) > 1", ["function call 'sum(...)'"]),
    ("min", "min(x, y) > 0", ["function call 'min(...)'"]),
    ("conditional", "x if y else y", ["conditional"]),
    ("dict", "{{'a': 1}} == x", ["dict"]),
    ("set", "{{1, 2}} == x", ["set"]),
    ("list-outside-in", "[1, 2] == x", ["a list '[1, 2]' outside 'x in [...]'"]),
    ("in-column", "x in y", ["'in y'", "give a list of values"]),
    ("in-name-list", "x in [y]", ["'in [y]'"]),
    ("in-starred", "x in [*y]", ["'in [*y]'"]),
    ("in-chain", "x in [1] < 2", ["'in' inside a chain"]),
    ("floordiv", "x // 2 > 1", ["operator '//'"]),
    ("modulo-format", "'%s' % x == 'a'", ["operator '%'"]),
    ("shift", "x << 2 > 1", ["operator '<<'"]),
    ("xor", "(x > 1) ^ (y > 1)", ["operator '^'"]),
    ("is-none", "x is None", ["operator 'is'"]),
    ("none", "None", ["constant None"]),
    ("ellipsis", "...", ["constant ..."]),
    ("complex", "1j == x", ["complex number 1j"]),
    ("string-repeat", "'a' * 1e9 == x", ["arithmetic on the string 'a'"]),
    ("starred", "*x", ["not a valid expression"]),
    ("double-star-dict", "{{**x}}", ["dict"]),
    ("statement", "x > 1; import os", ["not a valid expression"]),
    ("newline-statement", "x > 1\nimport os", ["not a valid expression"]),
    ("backticks", "`x` > 1", ["not a valid expression"]),
    ("local-variable", "@x > 1", ["not a valid expression"]),
    ("null-byte", "x > 1\x00", ["not a valid expression"]),
    ("empty", "   ", ["is empty"]),
    ("unknown-column", "retention > 1", ["unknown column(s) 'retention'", "Allowed: x, y"]),
    ("no-column", "1 < 2", ["does not depend on any run"]),
    ("numbers", "x * 2", ["gives numbers, not true/false"]),
]


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, np.nan], "y": [0, 1, 2]})


def one_line(msg: str) -> str:
    assert "\n" not in msg and "\r" not in msg, msg
    assert len(msg) < 1_000, len(msg)
    return msg


@pytest.mark.parametrize("case", [c[0] for c in HOSTILE])
def test_hostile_expression_is_refused_in_one_line(case, frame, tmp_path):
    _, template, fragments = next(c for c in HOSTILE if c[0] == case)
    canary = tmp_path / "CANARY"
    expr = template.replace("{canary}", str(canary)).replace("{{", "{").replace("}}", "}")
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as err:
        evaluate(frame, expr, where="--where")
    assert time.perf_counter() - start < 2.0  # 10**10**10 and 5,000 terms are refused, not computed
    msg = one_line(str(err.value))
    assert msg.startswith("--where: "), msg
    for frag in fragments:
        assert frag.replace("{canary}", str(canary)) in msg, (frag, msg)
    assert not canary.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("expr", ["package * firms > 1", "package * firms * firms * firms == 'a'",
                                  "firms * package + firms > 0", "-package == 'a'", "package / 2 > 0",
                                  "package ** 2 == 'aa'"])
def test_arithmetic_on_a_text_column_is_refused_before_it_runs(expr):
    """``text * count`` would repeat the text per row (a shared folder's goal could fill the memory)."""
    big = pd.DataFrame({"package": ["status_quo", "digital"], "firms": [10**6, 10**6]})
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as err:
        evaluate(big, expr, where="goal")
    assert time.perf_counter() - start < 1.0
    msg = one_line(str(err.value))
    assert "package" in msg and ("holds text" in msg or "number" in msg), msg


def test_the_payloads_are_live_under_dataframe_eval(frame, tmp_path):
    """The control: what the grammar refuses did write a file through pandas' eval, the old path."""
    canary = tmp_path / "CANARY"
    try:
        frame.eval(f"x.to_csv('{canary}')", engine="python")
    except Exception:  # noqa: BLE001 - a later pandas may refuse it too
        pytest.skip("this pandas refuses method calls in eval")
    assert canary.exists()


def test_hostile_goals_are_refused_when_a_spec_is_read(tmp_path):
    canary = tmp_path / "CANARY"
    for template, fragment in [(c[1], c[2][0]) for c in HOSTILE[:8]]:
        goal = template.replace("{canary}", str(canary))
        with pytest.raises(ExpressionError) as err:
            check_options({"goals": ["retention_3y >= 0.35", goal]}, "[robustness]")
        msg = one_line(str(err.value))
        assert msg.startswith("[robustness] goals: ") and fragment in msg, msg
    assert not canary.exists()


def test_numeric_sides_take_names_numbers_and_arithmetic_only():
    env = pd.DataFrame({"spending_total": [1e9, 3e9], "budget": [2e8, 2e8]})
    assert parse("spending_total / 10", numeric=True).values(env).tolist() == [1e8, 3e8]
    assert parse("-spending_total ** 2 + budget", numeric=True).values(env).tolist() == [-1e18 + 2e8, -9e18 + 2e8]
    assert float(parse("2e8", numeric=True).values(env)) == 2e8
    assert parse("spending_total / 0", numeric=True).values(env).tolist() == [np.inf, np.inf]
    assert float(parse("1e308 * 10", numeric=True).values(env)) == np.inf
    assert float(parse("9" * 400, numeric=True).values(env)) == np.inf  # no int-to-float OverflowError
    for bad, fragment in [("spending_total > 1", "a number is needed here, not a condition"),
                          ("'abc'", "'abc' is not allowed (a number is needed here)"),
                          ("True", "True is not allowed"), ("not budget", "a number is needed here"),
                          ("spending_total.sum()", "function call 'spending_total.sum(...)'")]:
        with pytest.raises(ExpressionError, match=re.escape(fragment)):
            parse(bad, "side", numeric=True)


# (expression, expected per row) on VALID_FRAME: the semantics of the pandas expressions kept
VALID_FRAME = pd.DataFrame({
    "x": [1.0, 2.0, np.nan, 4.0],
    "n": [0, 1, 2, 3],
    "flag": [True, False, None, True],  # a yes/no outcome with a gap (object dtype)
    "done": [True, False, False, True],
    "package": ["status_quo", "digital", "all_five", "digital"],
})
VALID = [
    ("x > 1", [False, True, False, True]),  # a missing value makes a comparison false
    ("x >= 1", [True, True, False, True]),
    ("x != 2", [True, False, True, True]),  # as in pandas: nan != 2 is true
    ("x == 2.0", [False, True, False, False]),
    ("n < 2", [True, True, False, False]),
    ("n <= 1e0", [True, True, False, False]),
    ("1 < n <= 2", [False, False, True, False]),  # chained
    ("0 <= x < 3 < 4", [True, True, False, False]),
    ("x > 1 and n < 3", [False, True, False, False]),
    ("x > 1 & n < 3", [False, True, False, False]),  # & binds like `and` (pandas)
    ("x > 1 or n == 0", [True, True, False, True]),
    ("x > 1 | n == 0", [True, True, False, True]),
    ("not x > 1", [True, False, True, False]),
    ("~(x > 1)", [True, False, True, False]),
    ("not (x > 1 or n == 0)", [False, False, True, False]),
    ("flag", [True, False, False, True]),  # yes/no with a gap: the gap is false
    ("flag == 0", [False, True, False, False]),
    ("flag == True", [True, False, False, True]),
    ("not flag", [False, True, False, False]),
    ("~flag & done", [False, False, False, False]),
    ("done", [True, False, False, True]),
    ("done == False", [False, True, True, False]),
    ("package == 'digital'", [False, True, False, True]),
    ('package != "digital"', [True, False, True, False]),
    ("package in ['digital', 'all_five']", [False, True, True, True]),
    ("package not in ('digital',)", [True, False, True, False]),
    ("n in [0, 3]", [True, False, False, True]),
    ("n not in [-1, 0]", [False, True, True, True]),
    ("x * 2 >= n + 2", [True, True, False, True]),
    ("x / n > 1", [True, True, False, True]),  # 1/0 = inf > 1
    ("n / 0 > 0", [False, True, True, True]),  # 0/0 = nan: false
    ("x ** 2 - n ** -1 > 1", [False, True, False, True]),
    ("-x < -1.5", [False, True, False, True]),
    ("+x > 3", [False, False, False, True]),
    ("(x - 1) * (n - 1) == 0", [True, True, False, False]),
    ("x > 1 and package == 'digital' or n == 0", [True, True, False, True]),
    ("x > 1 # a comment", [False, True, False, True]),
    ("  x > 1  ", [False, True, False, True]),
    ("x > 1e-3", [True, True, False, True]),
    ("n == 1 == True", [False, True, False, False]),
]


@pytest.mark.parametrize(("expr", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_expression_keeps_its_meaning(expr, expected):
    got = evaluate(VALID_FRAME, expr)
    assert got.dtype == bool and got.tolist() == expected


def test_valid_expressions_agree_with_pandas_eval():
    """Where pandas' eval gave an answer, ours is the same (the old path, on a trusted table)."""
    data = VALID_FRAME.assign(flag=VALID_FRAME["flag"].astype("boolean"))
    checked = 0
    for expr, expected in VALID:
        try:
            old = data.eval(expr.strip(), engine="python")
        except Exception:  # noqa: BLE001 - pandas' own gaps (e.g. 'not' on a column)
            continue
        assert pd.Series(old).fillna(False).astype(bool).tolist() == expected, expr
        checked += 1
    assert checked >= 25


# ---------------------------------------------------------------------------- the command line
def snapshot(root: Path) -> dict[str, str]:
    """Every file (content and mtime) and folder under ``root``: what must not change."""
    return {str(p.relative_to(root)) + ("/" if p.is_dir() else ""):
            "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest() + f"@{p.stat().st_mtime_ns}"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory) -> Path:
    """A finished crossed sweep of the stand-in model of tests/test_decision.py (18 runs, a second)."""
    return sweep(tmp_path_factory.mktemp("expr"), ROBUSTNESS_SPEC, robustness_model)


OUTCOME_CHAIN = CHAIN.replace("x.", "retention_3y.", 1)
TO_CSV = "retention_3y.to_csv('{canary}') >= 0"
SMOKE = ROOT / "configs" / "experiments" / "optimize_smoke.toml"
# (id, arguments, fragments). {dir}: the finished sweep; {shared}: a copy of it whose spec.toml holds
# [robustness] goals = [{goal}] (a results folder from someone else); {spec}: a file with {text};
# {canary}: this case's canary file. (id, args, fragments, goal or spec text)
CLI_CASES = [
    ("where-globals-chain", ["discover", "{dir}", "--where", OUTCOME_CHAIN],
     ["error: --where: ", "is refused: function call", "allowed: column names"], None),
    ("where-to-csv", ["discover", "{dir}", "--where", TO_CSV],
     ["--where", "function call 'retention_3y.to_csv(...)' is not allowed"], None),
    ("where-5000-terms", ["discover", "{dir}", "--where", " and ".join(["retention_3y > 0.3"] * 5000)],
     ["--where", "characters long; at most 1,000"], None),
    ("among-import", ["discover", "{dir}", "--where", "retention_3y > 0.35", "--among",
                      "__import__('os').system('touch {canary}') == 0"], ["error: --among: ", "function call"], None),
    ("goal-globals-chain", ["robustness", "{dir}", "--goal", "retention_3y >= 0.35", "--goal", OUTCOME_CHAIN],
     ["error: goal: ", "is refused: function call"], None),
    ("goal-to-csv", ["robustness", "{dir}", "--goal", TO_CSV], ["goal", "function call 'retention_3y.to_csv(...)'"],
     None),
    ("analyze-globals-chain", ["analyze", "{shared}"],
     ["spec.toml", "[robustness] goals", "is refused: function call"], OUTCOME_CHAIN),
    ("analyze-to-csv", ["analyze", "{shared}"],
     ["spec.toml", "[robustness] goals", "function call 'retention_3y.to_csv(...)'"], TO_CSV),
    ("plan-goal", ["plan", "{spec}"], ["spec.toml", "[robustness] goals", "function call"],
     '[experiment]\nseed = 1\nreplicates = 1\nhorizon = 1\n[design]\nkind = "full_factorial"\n[levers]\n'
     'package = ["status_quo", "digital"]\n[robustness]\ngoals = ["retention_3y.to_csv(\'{canary}\') >= 0"]\n'),
    ("optimize-to-csv", ["optimize", "{spec}", "--out", "{out}", "--serial"],
     ["spec.toml", "[optimize] constraints", "function call 'spending_per_year.to_csv(...)'"],
     SMOKE.read_text(encoding="utf-8").replace('"spending_per_year <= budget"',
                                                '"spending_per_year.to_csv(\'{canary}\') <= budget"')),
    ("optimize-condition-side", ["optimize", "{spec}", "--out", "{out}", "--serial"],
     ["spec.toml", "[optimize] constraints", "a number is needed here, not a condition"],
     SMOKE.read_text(encoding="utf-8").replace('"spending_per_year <= budget"',
                                                '"(retention_1y > 0) <= budget"')),
]


def _launch(case: tuple, store: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, dict, dict]:
    cid, args, _, extra = case
    canary, folder = tmp / "CANARY", tmp / "case"
    folder.mkdir()
    names = {"{dir}": str(store), "{canary}": str(canary), "{out}": str(folder / "out")}
    if "{shared}" in args:  # someone's results folder: the sweep, with a hostile goal in its spec.toml
        shared = folder / "shared"
        shutil.copytree(store, shared)
        goal = extra.replace("{canary}", str(canary))
        with open(shared / "spec.toml", "a", encoding="utf-8") as fh:
            fh.write(f"[robustness]\ngoals = [{goal!r}]\n")
        names["{shared}"] = str(shared)
    if "{spec}" in args:
        (folder / "spec.toml").write_text(extra.replace("{canary}", str(canary)), encoding="utf-8")
        names["{spec}"] = str(folder / "spec.toml")
    argv = [functools.reduce(lambda a, kv: a.replace(*kv), names.items(), arg) for arg in args]
    before = snapshot(folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    return proc, before, snapshot(folder)


@pytest.fixture(scope="module")
def cli_results(sweep_store, tmp_path_factory):
    """The CLI cases, two at a time (each is mostly interpreter start-up), each in its own folder with
    its own canary; and the finished sweep before and after all of them."""
    before = snapshot(sweep_store)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c[0]: (pool.submit(_launch, c, sweep_store, tmp := tmp_path_factory.mktemp(c[0])), tmp)
                   for c in CLI_CASES}
        procs = {k: (f.result(), tmp) for k, (f, tmp) in futures.items()}
    return procs, before, snapshot(sweep_store)


@pytest.mark.parametrize("case", [c[0] for c in CLI_CASES])
def test_cli_refuses_hostile_expressions_and_changes_nothing(cli_results, case):
    """discover --where / --among, robustness --goal, analyze of a shared folder with a hostile stored
    goal (refused before any table or figure is written), a sweep spec's goals and an optimize spec's
    constraints: one line, exit 2, no canary, nothing changed in the sweep or the case's folder."""
    procs, store_before, store_after = cli_results
    (proc, before, after), tmp = procs[case]
    assert_one_line_error(proc, next(c[2] for c in CLI_CASES if c[0] == case))
    assert proc.returncode == 2  # a usage error, like every refused input
    assert not (tmp / "CANARY").exists()
    assert after == before and store_after == store_before


def test_optimize_constraints_may_be_numeric_expressions():
    from experiments.decision.optimize_scoring import _eval
    from experiments.decision.optimize_spec import parse_optimize_spec

    smoke = (ROOT / "configs" / "experiments" / "optimize_smoke.toml").read_text(encoding="utf-8")
    spec = parse_optimize_spec(smoke.replace('constraints = ["spending_per_year <= budget"]',
                                             'constraints = ["spending_per_year <= budget", '
                                             '"spending_per_year / 10 <= 2e8", "retention_1y > -1"]'))
    assert [(c.left, c.op, c.right) for c in spec.constraints] == [
        ("spending_per_year", "<=", "budget"), ("spending_per_year / 10", "<=", "200000000.0"),
        ("retention_1y", ">=", "-1")]
    assert {n for c in spec.constraints for n in c.names} == {"spending_per_year", "budget", "retention_1y"}
    env = pd.DataFrame({"spending_per_year": [1e9, 3e9]})
    assert _eval(env, "spending_per_year / 10").tolist() == [1e8, 3e8]
    assert _eval(env, "2e8").tolist() == [2e8, 2e8]


# ---------------------------------------------------------------------------- it stays that way
def test_no_user_text_reaches_eval_or_query():
    """Nothing under experiments/, app/ or sim/ calls eval/exec, DataFrame.eval/query, pandas' python
    engine or literal_eval: user text goes through experiments.running.expressions (so the next change
    cannot bring them back unnoticed)."""
    pattern = re.compile(r"(?<![\w.])(eval|exec)\s*\(|\.(eval|query)\s*\(|engine\s*=\s*['\"]python|literal_eval"
                         r"|\bpd\.eval\b|numexpr")
    assert pattern.search('out = data.eval(expr, engine="python")') and pattern.search("frame.query(text)")
    found = [f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
             for folder in ("experiments", "app", "sim") for path in sorted((ROOT / folder).rglob("*.py"))
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []
