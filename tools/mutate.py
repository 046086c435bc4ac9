#!/usr/bin/env python
"""Mutation testing for minimlp: inject one small bug at a time and run only the tests that
execute it. Not part of CI; run it by hand after changing code or tests.

Usage, from the repository root::

    python tools/mutate.py minimlp/activations.py minimlp/losses.py
    python tools/mutate.py minimlp/optim.py --jobs 2 --max-mutants 120 --seed 1
    python tools/mutate.py minimlp/losses.py --tests tests/test_losses.py tests/test_gradients.py
    python tools/mutate.py minimlp/layers.py --list          # the mutants only, nothing runs
    python tools/mutate.py minimlp/losses.py --json out.json  # also write every result

What it does
------------
1. Parses each target module and lists its mutants, one small change each:
   arithmetic (``+ -``, ``* /``, ``// /``, ``% //``, ``** *``, also in ``+=``, and ``+=`` -> ``=``),
   comparison (``< <=``, ``> >=``, ``== !=``, ``is``/``is not``, ``in``/``not in``), ``and``/``or``,
   a dropped ``not`` or unary minus, a negated ``if``/``while``/``x if c else y`` condition,
   numbers (``0 -> 1``, ``1 -> 0``, ``n -> n + 1``; so axis and index values change too),
   ``True``/``False``, a dropped ``out=`` keyword, ``max``/``min`` and numpy twins
   (``np.maximum``/``np.minimum``, ``np.greater``/``np.greater_equal``, ``np.add``/``np.subtract``,
   ...), and a deleted call statement (``f(x)`` -> ``pass``). Docstrings, ``raise`` statements
   (error messages), f-strings and annotations are not mutated, nor lines marked
   ``# pragma: no mutate``.
2. Collects the test session once (in this process, which never runs a test), then runs
   every test once, in a forked child, with a line tracer (``sys.settrace``) on minimlp's
   files: for every test, which lines it executes, its time and whether it passes. This
   coverage is cached in ``$TMPDIR/minimlp-mutate/`` until a source or test file changes.
3. For each mutant, forks a child of the collected session that gives the mutated module's
   functions their mutated code in place (``f.__code__``: every reference, ``mm.ReLU`` or an
   instance, sees the mutant and nothing is re-imported), then runs only the tests that
   passed and executed a mutated line, the fastest first, stopping at the first failure.
   A mutant that changes no function's code (a default argument, a class attribute, a
   module constant: lines that run at import time) is instead run in a fresh interpreter that imports the mutated module through
   an import hook (nothing on disk changes); it is covered by the tests that run any line of
   its function, class or module. Outcome: ``killed`` (a test failed or errored, or the test
   module failed to import), ``timeout`` (over ``--timeout-factor`` times the tests' traced
   time plus ``--timeout-base`` seconds; counted as killed), ``survived``, ``uncovered`` (no
   test runs the line).
4. Prints per module ``score = (killed + timeouts) / run`` and, leaving out the survivors
   listed in ``tools/mutate_equivalent.txt`` (mutants that change only speed or allocation),
   the score without equivalents; then every survivor as ``file:line  kind: old -> new``.

Limits: tests that start a subprocess (the CLI tests) import the unmutated package, so they
cannot kill a mutant. ``--jobs`` > 1 runs mutants in parallel (the tests themselves are
single-threaded); on 2 cores keep ``--jobs 1`` or 2. ``OPENBLAS_NUM_THREADS`` and friends are
set to 1. Equivalents file: one mutant per line, the tab-separated fields that a
survivor line prints under ``--keys``, then a reason; ``#`` starts a
comment line. Matching ignores line numbers, so the file survives code moving around.
The fields: path, the enclosing function or class, the mutation, the source line, a reason.
"""
from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.util
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
NAME_SWAP = {"max": "min", "min": "max"}
NP_SWAP = {"maximum": "minimum", "minimum": "maximum", "greater": "greater_equal",
           "greater_equal": "greater", "less": "less_equal", "less_equal": "less",
           "add": "subtract", "subtract": "add", "multiply": "divide", "divide": "multiply",
           "amax": "amin", "amin": "amax", "argmax": "argmin", "argmin": "argmax"}


@dataclass
class Mutant:
    index: int
    path: str            # relative to the repository root
    line: int
    end_line: int
    kind: str
    old: str
    new: str
    scope: tuple | None  # lines whose tests cover an import-time line; None: the line itself
    source_line: str
    where: str           # the enclosing function or class ("L1Loss._backward"), "" at module level
    status: str = "pending"
    tests: int = 0
    seconds: float = 0.0

    @property
    def mutation(self) -> str:
        return f"{self.kind}: `{self.old}` -> `{self.new}`"

    def key(self) -> tuple:
        return (self.path, self.where, self.mutation, self.source_line)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Enumerator:
    """Walks a module's tree in a fixed order and yields (node info, apply) for each mutant.

    The same source always gives the same list, so a child process re-parses the file,
    walks again and applies mutant ``i`` to its own fresh tree."""

    def __init__(self, tree: ast.Module, source: str):
        self.tree, self.source = tree, source
        self.lines = source.splitlines()
        self.blines = [line.encode("utf-8") for line in self.lines]
        self.found: list = []
        self.names: list[str] = []           # the qualified name being walked

    def run(self) -> list:
        self._block(self.tree.body, ("module",))
        return self.found

    # -- helpers ---------------------------------------------------------------------------
    def _seg(self, node) -> str:
        """The node's source text (ast.get_source_segment re-splits the file at every call)."""
        try:
            lo, hi = node.lineno - 1, node.end_lineno - 1
            first, last = self.blines[lo], self.blines[hi]
            if lo == hi:
                text = first[node.col_offset:node.end_col_offset]
            else:
                text = b"\n".join([first[node.col_offset:], *self.blines[lo + 1:hi], last[:node.end_col_offset]])
            return _short(text.decode("utf-8"))
        except (AttributeError, TypeError, IndexError, UnicodeDecodeError):
            return _short(ast.unparse(node))

    def _skip(self, node) -> bool:
        line = self.lines[node.lineno - 1] if 0 < node.lineno <= len(self.lines) else ""
        return "pragma: no mutate" in line

    def _add(self, node, kind, old, new_text, apply, scope):
        if self._skip(node):
            return
        self.found.append((node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno,
                           kind, old, new_text, apply, scope, ".".join(self.names)))

    # -- statements ------------------------------------------------------------------------
    def _block(self, body: list, scope):
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue                                            # a docstring
            if isinstance(stmt, ast.Raise):
                continue                                            # error messages
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self._add(stmt, "delete", self._seg(stmt), "pass",
                          lambda b=body, i=i, s=stmt: b.__setitem__(i, ast.copy_location(ast.Pass(), s)), scope)
            if isinstance(stmt, ast.AugAssign) and type(stmt.op) in BINOP:
                new = BINOP[type(stmt.op)]
                text = ast.unparse(ast.AugAssign(target=stmt.target, op=new(), value=stmt.value))
                self._add(stmt, "augassign", self._seg(stmt), _short(text),
                          lambda s=stmt, new=new: setattr(s, "op", new()), scope)
            if isinstance(stmt, ast.AugAssign):
                def to_assign(b=body, i=i, s=stmt):
                    b[i] = ast.copy_location(ast.Assign(targets=[s.target], value=s.value), s)
                op = ast.unparse(ast.AugAssign(target=ast.Name("x"), op=stmt.op, value=ast.Name("y"))).split()[1]
                self._add(stmt, "augassign", op, "=", to_assign, scope)
            self._stmt(stmt, scope)

    def _stmt(self, stmt, scope):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            header = ("range", stmt.lineno, stmt.end_lineno)
            self.names.append(stmt.name)
            for d in stmt.args.defaults + [d for d in stmt.args.kw_defaults if d is not None]:
                self._expr(d, header)
            self._block(stmt.body, None)        # a function body: its own lines decide
            self.names.pop()
            return
        if isinstance(stmt, ast.ClassDef):
            self.names.append(stmt.name)
            self._block(stmt.body, ("range", stmt.lineno, stmt.end_lineno))
            self.names.pop()
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Pass,
                             ast.Break, ast.Continue)):
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._expr(stmt.value, scope)
            return
        if isinstance(stmt, (ast.If, ast.While)):
            self._negate(stmt, "test", scope)
        for name, value in ast.iter_fields(stmt):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self._block(value, scope)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, ast.excepthandler):
                        self._block(v.body, scope)
                    elif isinstance(v, ast.withitem):
                        self._expr(v.context_expr, scope)
                    elif isinstance(v, ast.AST):
                        self._expr(v, scope)
            elif isinstance(value, ast.AST):
                self._expr(value, scope)

    def _negate(self, node, attr, scope):
        test = getattr(node, attr)
        if self._skip(test) or isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return                          # `if not x`: the dropped `not` is that mutant

        def apply(n=node, a=attr):
            t = getattr(n, a)
            setattr(n, a, ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=t), t))
        self._add(test, "negate", self._seg(test), "not " + self._seg(test), apply, scope)

    # -- expressions -----------------------------------------------------------------------
    def _expr(self, node, scope):
        if node is None or isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.BinOp) and type(node.op) in BINOP:
            new = BINOP[type(node.op)]
            text = ast.unparse(ast.BinOp(node.left, new(), node.right))
            self._add(node, "binop", self._seg(node), _short(text),
                      lambda n=node, new=new: setattr(n, "op", new()), scope)
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in COMPARE:
                    new = COMPARE[type(op)]
                    ops = list(node.ops)
                    ops[k] = new()
                    text = ast.unparse(ast.Compare(node.left, ops, node.comparators))
                    self._add(node, "compare", self._seg(node), _short(text),
                              lambda n=node, k=k, new=new: n.ops.__setitem__(k, new()), scope)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            for k in range(len(node.values) - 1):
                def apply(n=node, k=k, other=other):
                    pair = ast.BoolOp(op=other(), values=[n.values[k], n.values[k + 1]])
                    n.values[k:k + 2] = [ast.copy_location(pair, n.values[k])]
                    if len(n.values) == 1:     # keep a BoolOp node valid: (x or y) alone
                        n.op, n.values = other(), pair.values
                word = "or" if other is ast.Or else "and"
                self._add(node.values[k], "boolop",
                          f"{self._seg(node.values[k])} {'and' if word == 'or' else 'or'} ...",
                          f"{self._seg(node.values[k])} {word} ...", apply, scope)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            self._add(node, "unary", self._seg(node), self._seg(node.operand),
                      lambda n=node: _replace_in_parent(self.tree, n, n.operand), scope)
        elif isinstance(node, ast.IfExp):
            self._negate(node, "test", scope)
        elif isinstance(node, ast.Constant):
            self._constant(node, scope)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in NAME_SWAP:
                self._add(node, "call", func.id, NAME_SWAP[func.id],
                          lambda f=func: setattr(f, "id", NAME_SWAP[f.id]), scope)
            for kw in node.keywords:
                if kw.arg == "out":
                    self._add(kw.value, "out", f"out={self._seg(kw.value)}", "(removed)",
                              lambda n=node, kw=kw: n.keywords.remove(kw), scope)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in ("np", "numpy") and node.attr in NP_SWAP):
            self._add(node, "ufunc", self._seg(node), f"np.{NP_SWAP[node.attr]}",
                      lambda n=node: setattr(n, "attr", NP_SWAP[n.attr]), scope)
        if isinstance(node, ast.Lambda):
            self._expr(node.body, scope)
            return
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for v in value:
                    if isinstance(v, ast.comprehension):
                        self._expr(v.iter, scope)
                        for c in v.ifs:
                            self._expr(c, scope)
                    elif isinstance(v, ast.keyword):
                        self._expr(v.value, scope)
                    elif isinstance(v, ast.AST):
                        self._expr(v, scope)
            elif isinstance(value, ast.AST) and not isinstance(value, (ast.expr_context, ast.operator,
                                                                         ast.cmpop, ast.boolop, ast.unaryop)):
                self._expr(value, scope)

    def _constant(self, node, scope):
        v = node.value
        if isinstance(v, bool):
            new = not v
        elif isinstance(v, int):
            new = 1 if v == 0 else 0 if v == 1 else v + 1
        elif isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                return
            new = 1.0 if v == 0.0 else v + 1.0
        else:
            return                                                  # strings, None, ...
        self._add(node, "const", repr(v), repr(new), lambda n=node, new=new: setattr(n, "value", new), scope)


def _replace_in_parent(tree, old, new):
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = new
                        return
    raise RuntimeError("node not found")


def enumerate_mutants(path: Path) -> list[Mutant]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = _Enumerator(ast.parse(source), source).run()
    rel = str(path.resolve().relative_to(ROOT))
    return [Mutant(i, rel, line, end, kind, old, new, scope, lines[line - 1].strip(), where)
            for i, (line, end, kind, old, new, _apply, scope, where) in enumerate(found)]


def mutated_code(path: Path, index: int):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = _Enumerator(tree, source).run()
    found[index][5]()
    ast.fix_missing_locations(tree)
    return compile(tree, str(path), "exec")


def module_name(path: Path) -> tuple[str, bool]:
    rel = path.resolve().relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


class _MutantImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module from a code object instead of its file."""

    def __init__(self, name: str, path: Path, code, package: bool):
        self.name, self.path, self.code, self.package = name, path, code, package

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        locations = [str(self.path.parent)] if self.package else None
        return importlib.util.spec_from_file_location(fullname, str(self.path), loader=self,
                                                      submodule_search_locations=locations)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.code, module.__dict__)


# -- running tests in forked children --------------------------------------------------------
def _pytest_args(files, basetemp, stop_first=True):
    return (["-x"] if stop_first else []) + ["-qq", "-s", "-p", "no:cacheprovider", "-o", "addopts=",
                                              "--basetemp", basetemp, *files]


def _quiet_child(log_path=None):
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    fd = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def _run_items(items, trace=None) -> dict:
    """Run pytest items in order (as pytest's own loop does); returns {nodeid: passed}."""
    from _pytest.runner import runtestprotocol
    out = {}
    for i, item in enumerate(items):
        nxt = items[i + 1] if i + 1 < len(items) else None
        if trace is not None:
            trace.start()
        t0 = time.perf_counter()
        try:
            reports = runtestprotocol(item, nextitem=nxt, log=False)
        finally:
            if trace is not None:
                trace.stop(item.nodeid, time.perf_counter() - t0)
        out[item.nodeid] = (not any(r.failed for r in reports) and
                            any(r.when == "call" and r.passed and not hasattr(r, "wasxfail") for r in reports))
        if trace is None and not out[item.nodeid]:
            break
    return out


class _Trace:
    """Per-test line coverage of minimlp's files (``sys.settrace``) and each test's time."""

    def __init__(self, files):
        self.files = set(files)
        self.lines: dict[str, set] = {}
        self.seconds: dict[str, float] = {}
        self._sink = set()

    def _local(self, frame, event, arg):
        if event == "line":
            self._sink.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename in self.files:
            self._sink.add((frame.f_code.co_filename, frame.f_lineno))
            return self._local
        return None

    def start(self):
        self._sink = set()
        sys.settrace(self._global)
        threading.settrace(self._global)

    def stop(self, nodeid, seconds):
        sys.settrace(None)
        threading.settrace(None)
        self.lines[nodeid] = self._sink
        self.seconds[nodeid] = seconds


def _fingerprint(tests: list[str]) -> str:
    """A hash of every source and test file: the cached coverage is reused while none changes."""
    import hashlib
    h = hashlib.sha256(" ".join([str(ROOT), *tests]).encode())
    for folder in [ROOT / "minimlp", *(ROOT / t for t in tests)]:
        files = sorted(folder.rglob("*")) if folder.is_dir() else [folder]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(ROOT)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def collect_coverage(items, cached: Path | None, log: str) -> dict:
    """Run every test once under the tracer, in a child, and return for each test the lines of
    minimlp's files it runs, its time and whether it passed (cached while nothing changes)."""
    if cached is not None and cached.exists():
        print(f"mutate: reusing the coverage in {cached}", flush=True)
        return json.loads(cached.read_text())
    targets = [str(p) for p in (ROOT / "minimlp").rglob("*.py") if "__pycache__" not in p.parts]
    out = Path(tempfile.mkdtemp(prefix="mutate-cov-")) / "coverage.json"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _quiet_child(log)
            trace = _Trace(targets)
            passed = _run_items(items, trace)
            by_test = {}
            for nid, lines in trace.lines.items():
                per_file = {}
                for f, ln in lines:
                    per_file.setdefault(f, []).append(ln)
                by_test[nid] = {"lines": per_file, "seconds": trace.seconds[nid], "passed": passed[nid]}
            out.write_text(json.dumps(by_test))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if not out.exists():
        sys.exit(f"mutate: the coverage run failed (exit status {status}); see {log}")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(out.read_bytes())
    return json.loads(out.read_text())


# -- applying a mutant -----------------------------------------------------------------------
def _code_objects(code, out: dict) -> dict:
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out[(c.co_qualname, c.co_firstlineno)] = c
            _code_objects(c, out)
    return out


def _live_functions(module):
    """The functions and methods defined in ``module`` (the objects every reference shares)."""
    seen = set()

    def from_class(cls):
        if id(cls) in seen:
            return
        seen.add(id(cls))
        for v in vars(cls).values():
            yield from from_value(v)

    def from_value(v):
        if isinstance(v, types.FunctionType) and v.__module__ == module.__name__:
            yield v
        elif isinstance(v, (staticmethod, classmethod)):
            yield from from_value(v.__func__)
        elif isinstance(v, property):
            for f in (v.fget, v.fset, v.fdel):
                yield from from_value(f)
        elif isinstance(v, type) and v.__module__ == module.__name__:
            yield from from_class(v)

    for v in list(vars(module).values()):
        yield from from_value(v)


def patch_in_place(module, code) -> int:
    """Give every function of ``module`` the code of its mutated twin (same qualified name and
    first line); returns how many changed. Every reference (``mm.ReLU``, an instance, a
    registry) sees the mutant, and nothing is re-imported or re-collected."""
    new = _code_objects(code, {})
    changed = 0
    for f in _live_functions(module):
        c = new.get((f.__code__.co_qualname, f.__code__.co_firstlineno))
        if c is not None and c != f.__code__:
            f.__code__ = c                     # ValueError if the free variables differ
            changed += 1
    return changed


def _fast_child(path: Path, index: int, items) -> None:
    """In a fork of the collected session: patch the functions, run the items, exit 0/1."""
    code = 3
    try:
        _quiet_child()
        name, _ = module_name(path)
        try:
            compiled = mutated_code(path, index)
        except Exception:
            code = 7                                   # does not compile: not run
            raise
        try:
            changed = patch_in_place(sys.modules[name], compiled)
        except (ValueError, KeyError):
            changed = 0
        if not changed:
            code = 8                                   # not inside a function: the slow path
        else:
            passed = _run_items(items)
            code = 0 if all(passed.values()) and len(passed) == len(items) else 1
    finally:
        os._exit(code)


def _slow_child_main(spec_file: str) -> int:
    """A fresh interpreter that imports the mutated module through an import hook (for
    mutants of import-time code: defaults, class attributes, module constants)."""
    spec = json.loads(Path(spec_file).read_text())
    path = Path(spec["path"])
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    name, package = module_name(path)
    try:
        compiled = mutated_code(path, spec["index"])
    except Exception:
        return 7
    sys.meta_path.insert(0, _MutantImporter(name, path, compiled, package))
    import pytest

    class Select:
        def pytest_collection_modifyitems(self, session, config, items):
            order = {nid: i for i, nid in enumerate(spec["ids"])}
            items[:] = sorted((it for it in items if it.nodeid in order), key=lambda it: order[it.nodeid])
    return int(pytest.main(_pytest_args(spec["files"], spec["basetemp"]), plugins=[Select()]))


# -- selection and the run -------------------------------------------------------------------
def select_tests(m: Mutant, abspath: str, coverage: dict) -> list[str]:
    wanted = set(range(m.line, m.end_line + 1))
    chosen = [nid for nid, c in coverage.items()
              if c["passed"] and wanted.intersection(c["lines"].get(abspath, ()))]
    if not chosen and m.scope is not None:
        if m.scope[0] == "module":
            chosen = [nid for nid, c in coverage.items() if c["passed"] and c["lines"].get(abspath)]
        else:
            span = set(range(m.scope[1], m.scope[2] + 1))
            chosen = [nid for nid, c in coverage.items()
                      if c["passed"] and span.intersection(c["lines"].get(abspath, ()))]
    return sorted(chosen, key=lambda nid: coverage[nid]["seconds"])


class _Job:
    def __init__(self, m, path, ids, limit, slow, by_id, basetemp):
        self.m, self.path, self.ids, self.limit, self.slow = m, path, ids, limit, slow
        self.t0 = time.perf_counter()
        if slow:
            import subprocess
            tmp = tempfile.mkdtemp(prefix=f"m{m.index}-", dir=basetemp)
            spec = Path(tmp) / "spec.json"
            spec.write_text(json.dumps({"path": str(path), "index": m.index, "ids": ids, "basetemp": tmp,
                                        "files": sorted({nid.split("::")[0] for nid in ids})}))
            self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--_child", str(spec)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, cwd=ROOT)
            self.pid = self.proc.pid
        else:
            items = [by_id[nid] for nid in ids if nid in by_id]
            self.pid = os.fork()
            if self.pid == 0:
                _fast_child(path, m.index, items)
            try:
                os.setpgid(self.pid, self.pid)
            except OSError:
                pass

    def poll(self):
        """None while running; else the exit code (-9 for a timeout)."""
        if self.slow:
            code = self.proc.poll()
        else:
            got, status = os.waitpid(self.pid, os.WNOHANG)
            code = None if got == 0 else os.waitstatus_to_exitcode(status)
        if code is None and time.perf_counter() - self.t0 > self.limit:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            if self.slow:
                self.proc.wait()
            else:
                os.waitpid(self.pid, 0)
            return "timeout"
        return code


def run_mutants(work: list, coverage: dict, by_id: dict, args, basetemp: str) -> None:
    """``work``: (Mutant, Path) pairs; fills in each mutant's status."""
    pending = []
    for m, path in work:
        ids = [nid for nid in select_tests(m, str(path), coverage) if nid in by_id]
        if not ids:
            m.status = "uncovered"
            continue
        m.tests = len(ids)
        limit = args.timeout_base + args.timeout_factor * sum(coverage[n]["seconds"] for n in ids)
        pending.append((m, path, ids, limit, False))   # a fork first; exit 8 sends it to a fresh import
    running, done, total = [], 0, len(pending)
    t_start = time.perf_counter()
    while pending or running:
        while pending and len(running) < args.jobs:
            running.append(_Job(*pending.pop(0), by_id, basetemp))
        time.sleep(0.005)
        for job in list(running):
            code = job.poll()
            if code is None:
                continue
            running.remove(job)
            m = job.m
            m.seconds += time.perf_counter() - job.t0
            if code == 8:                     # the fast path found no function to patch
                pending.insert(0, (m, job.path, job.ids, job.limit, True))
                continue
            m.status = ("timeout" if code == "timeout" else
                        {0: "survived", 5: "error", 7: "invalid"}.get(code, "killed"))
            done += 1
            if args.progress:
                rate = (time.perf_counter() - t_start) / done
                print(f"  [{done}/{total}] {m.path}:{m.line} {m.mutation} -> {m.status} "
                      f"({m.seconds:.1f}s, {m.tests} tests{', fresh import' if job.slow else ''}; "
                      f"~{rate * (total - done) / 60:.1f} min left)", flush=True)


def read_equivalents(path: Path) -> dict:
    out = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 4:
            out[tuple(fields[:4])] = fields[4] if len(fields) > 4 else ""
    return out


def report(mutants: list[Mutant], equivalents: dict, show_keys: bool) -> str:
    rows = ["| module | mutants | run | killed | timeouts | survived | uncovered | equivalent "
            "| score | score w/o equiv. |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    details = []
    for path in dict.fromkeys(m.path for m in mutants):
        ms = [m for m in mutants if m.path == path]
        run = [m for m in ms if m.status not in ("pending", "invalid")]
        count = lambda s: sum(m.status == s for m in run)
        killed, timeouts = count("killed"), count("timeout")
        live = [m for m in run if m.status in ("survived", "uncovered", "error")]
        equiv = [m for m in live if m.key() in equivalents]
        score = (killed + timeouts) / len(run) if run else float("nan")
        real = len(run) - len(equiv)
        score2 = (killed + timeouts) / real if real else float("nan")
        rows.append(f"| {path} | {len(ms)} | {len(run)} | {killed} | {timeouts} | {count('survived')} "
                    f"| {count('uncovered')} | {len(equiv)} | {score:.1%} | {score2:.1%} |")
        for m in live:
            tag = f"  [equivalent: {equivalents[m.key()]}]" if m.key() in equivalents else ""
            details.append(f"{m.path}:{m.line}  {m.status}  {m.mutation}{tag}")
            if show_keys:
                details.append("\t".join(m.key()) + "\t")
    return "\n".join(rows + ["", "Surviving mutants:" if details else "No surviving mutants."] + details)




class _Driver:
    """A pytest plugin that replaces the test loop: the session is collected once, then every
    mutant runs in a fork of it."""

    def __init__(self, args, work, argv):
        self.args, self.work, self.argv = args, work, argv

    def pytest_runtestloop(self, session):
        args, t0 = self.args, time.perf_counter()
        items = list(session.items)
        mod = sys.modules.get("minimlp")
        if mod is None or not Path(mod.__file__).resolve().is_relative_to(ROOT):
            sys.exit(f"mutate: the tests imported minimlp from {getattr(mod, '__file__', None)}, not {ROOT}")
        by_id = {it.nodeid: it for it in items}
        basetemp = tempfile.mkdtemp(prefix="mutate-")
        if args.coverage_file:
            cached = Path(args.coverage_file)
        elif args.no_cache:
            cached = None
        else:
            cached = Path(tempfile.gettempdir()) / "minimlp-mutate" / f"coverage-{_fingerprint(args.tests)}.json"
        print(f"mutate: per-test coverage of {len(items)} tests ...", flush=True)
        coverage = collect_coverage(items, cached, str(Path(basetemp) / "coverage.log"))
        npass = sum(c["passed"] for c in coverage.values())
        print(f"mutate: {len(coverage)} tests traced ({npass} passing), {time.perf_counter() - t0:.0f}s; "
              f"running {len(self.work)} mutants with --jobs {args.jobs}", flush=True)
        run_mutants([w for w in self.work if w[0].status == "pending"], coverage, by_id, args, basetemp)
        mutants = [m for m, _ in self.work]
        print()
        print(report(mutants, read_equivalents(Path(args.equivalent)), args.keys))
        print(f"\n{time.perf_counter() - t0:.0f}s; {time.strftime('%Y-%m-%d')}; "
              f"python tools/mutate.py {' '.join(self.argv)}", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps([m.__dict__ for m in mutants], indent=1, default=str))
        return True


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_child"]:
        return _slow_child_main(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="+", help="source files to mutate, e.g. minimlp/losses.py")
    ap.add_argument("--tests", nargs="+", default=["tests"], help="test files or folders (default: tests)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (default 1)")
    ap.add_argument("--max-mutants", type=int, default=None, help="sample at most N mutants per module")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    ap.add_argument("--lines", default=None, help="only mutants on these lines, e.g. 40-80")
    ap.add_argument("--timeout-factor", type=float, default=4.0)
    ap.add_argument("--timeout-base", type=float, default=20.0)
    ap.add_argument("--equivalent", default=str(ROOT / "tools" / "mutate_equivalent.txt"))
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--keys", action="store_true", help="print each survivor's equivalents-file line")
    ap.add_argument("--json", default=None, help="write every mutant's result to this file")
    ap.add_argument("--no-cache", action="store_true",
                    help="trace the tests again even if $TMPDIR/minimlp-mutate holds their coverage")
    ap.add_argument("--coverage-file", default=None,
                    help="use (or write) this coverage file whatever the sources' state")
    ap.add_argument("--report", default=None, metavar="JSON",
                    help="print the report of an earlier --json file (with today's equivalents) and exit")
    ap.add_argument("--resume", nargs="+", default=[], metavar="JSON",
                    help="earlier --json files: a mutant killed there (same file, line, mutation and "
                         "source line) is not run again; valid while only tests were added since")
    ap.add_argument("--quiet", dest="progress", action="store_false", help="no line per mutant")
    args = ap.parse_args(argv)

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    if args.report:
        fields = set(Mutant.__dataclass_fields__)
        done, listed = [], {}
        for d in json.loads(Path(args.report).read_text()):
            if "where" not in d:       # written before the enclosing name was recorded
                if d["path"] not in listed:
                    listed[d["path"]] = enumerate_mutants(ROOT / d["path"])
                d["where"] = listed[d["path"]][d["index"]].where
            done.append(Mutant(**{k: v for k, v in d.items() if k in fields}))
        wanted = {str(Path(p).resolve().relative_to(ROOT)) for p in args.modules}
        print(report([m for m in done if m.path in wanted], read_equivalents(Path(args.equivalent)), args.keys))
        return 0
    work = []
    for path in (Path(p).resolve() for p in args.modules):
        ms = enumerate_mutants(path)
        if args.lines:
            lo, _, hi = args.lines.partition("-")
            ms = [m for m in ms if int(lo) <= m.line <= int(hi or lo)]
        if args.max_mutants is not None and len(ms) > args.max_mutants:
            ms = sorted(random.Random(args.seed).sample(ms, args.max_mutants), key=lambda m: m.index)
        work += [(m, path) for m in ms]
        if args.list:
            for m in ms:
                print(f"{m.path}:{m.line}  {m.mutation}")
    if args.list:
        return 0
    if args.resume:
        earlier = {}
        for f in args.resume:
            for d in json.loads(Path(f).read_text()):
                if d["status"] in ("killed", "timeout"):
                    earlier[(d["path"], d["index"], d["line"], d["kind"], d["old"], d["new"],
                             d["source_line"])] = d
        for m, _ in work:   # the index tells apart identical mutations on one line
            d = earlier.get((m.path, m.index, m.line, m.kind, m.old, m.new, m.source_line))
            if d is not None:
                m.status, m.tests, m.seconds = d["status"], d["tests"], d["seconds"]
        print(f"mutate: {sum(m.status != 'pending' for m, _ in work)} of {len(work)} mutants "
              f"killed in {', '.join(args.resume)}; running the others", flush=True)
    import pytest
    session_tmp = tempfile.mkdtemp(prefix="mutate-session-")
    pytest.main(_pytest_args(args.tests, session_tmp, stop_first=False), plugins=[_Driver(args, work, argv)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
