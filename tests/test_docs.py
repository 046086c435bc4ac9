"""Docs that cannot rot.

* Every ```python block in docs/*.md and README.md runs: each file's blocks in order, in one
  namespace, in a temporary working directory.
* Source quotes (```python source=<file>) still appear, line for line, in that file.
* The numbers on docs/backprop.md are minimlp's: the embedded ``minimlp explain`` trace equals
  what it prints now, and every ``name = number`` in the prose equals that quantity of the
  trace at the digits shown.
* The numbers on docs/tutorial-errata.md are those of tests/golden (computed without minimlp).
* Relative links between the pages point at files that exist; api.md names every public name.
"""
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

import minimlp as mm
from minimlp.explain import trace_step
from minimlp.tutorial import tutorial_network

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.M | re.S)

sys.path.insert(0, str(DOCS))
import make_figures  # noqa: E402  (docs/make_figures.py: the trace embedded in backprop.md)


def blocks(path, want):
    """(info string, code) of the fenced blocks whose info string satisfies ``want``."""
    return [(info.strip(), code) for info, code in FENCE.findall(path.read_text()) if want(info.strip())]


def page_id(path):
    return str(path.relative_to(ROOT))


RUNNER = """
import json, sys
import numpy as np
np.seterr(over="raise", divide="raise", invalid="raise", under="ignore")
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for i, code in enumerate(blocks):
    try:
        exec(compile(code, f"python block {i + 1}", "exec"), namespace)
    except BaseException:
        print(f"FAILED: python block {i + 1}", file=sys.stderr)
        raise
"""


RUNNABLE = [p for p in PAGES if blocks(p, lambda info: info == "python")]


def test_the_guides_have_runnable_examples():
    names = {p.name for p in RUNNABLE}
    assert {"README.md", "index.md", "backprop.md", "tutorial-errata.md", "guide.md", "design.md",
            "adding-a-layer.md"} <= names, names


@pytest.mark.parametrize("path", RUNNABLE, ids=page_id)
def test_python_blocks_run(path, tmp_path):
    """Each page's blocks run in order, in one fresh interpreter (so a missing import shows)."""
    code_blocks = [code for _, code in blocks(path, lambda info: info == "python")]
    (tmp_path / "blocks.json").write_text(json.dumps(code_blocks))
    (tmp_path / "run_blocks.py").write_text(RUNNER)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "run_blocks.py", "blocks.json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{page_id(path)}:\n{proc.stderr[-3000:]}"


def test_every_page_has_runnable_or_text_blocks_only():
    """A block must say what it is: python (run), python source=FILE (quoted), or another language."""
    for path in PAGES:
        for info, code in blocks(path, lambda info: True):
            assert info, f"{page_id(path)}: a fenced block without a language:\n{code[:200]}"
            if info.startswith("python") and info != "python":
                assert re.fullmatch(r"python source=\S+", info), f"{page_id(path)}: odd info string {info!r}"


SOURCE_QUOTES = [(path, info.split("=", 1)[1], code) for path in PAGES
                 for info, code in blocks(path, lambda info: info.startswith("python source="))]


@pytest.mark.parametrize("path, source, code", SOURCE_QUOTES,
                         ids=[f"{p.name}:{s}:{i}" for i, (p, s, _) in enumerate(SOURCE_QUOTES)])
def test_source_quotes_are_still_in_the_source(path, source, code):
    src = (ROOT / source).read_text().splitlines()
    stripped = [line.strip() for line in src]
    quoted = [line.strip() for line in code.splitlines() if line.strip()]
    # every quoted line is a line of the file, in the order quoted
    pos = 0
    for line in quoted:
        assert line in stripped[pos:], (
            f"{page_id(path)} quotes {line!r}, which is no longer a line of {source} "
            f"(after the lines quoted before it)")
        pos = stripped.index(line, pos) + 1


def test_backprop_has_source_quotes_for_layers_activations_losses():
    files = {s for p, s, _ in SOURCE_QUOTES if p.name == "backprop.md"}
    assert {"minimlp/layers.py", "minimlp/activations.py", "minimlp/losses.py"} <= files


def test_inline_code_quotes_in_backprop_tables_are_in_the_source():
    """Table cells like `np.matmul(X.T, dY, out=self._W.grad)` quote real lines."""
    text = (DOCS / "backprop.md").read_text()
    src = "\n".join((ROOT / "minimlp" / f).read_text() for f in ("layers.py", "activations.py", "losses.py"))
    cells = re.findall(r"`((?:np\.|G \*=|dX \*=|return np\.)[^`]+)`", text)
    assert len(cells) >= 6
    for cell in cells:
        assert cell in src, f"backprop.md quotes {cell!r}, which is not in minimlp's source"


def test_backprop_embedded_trace_is_current():
    text = (DOCS / "backprop.md").read_text()
    embedded = make_figures.embedded_trace(text)
    assert embedded.strip() == make_figures.explain_markdown().strip(), (
        "docs/backprop.md: the embedded trace differs from `minimlp explain --format markdown`; "
        "run python docs/make_figures.py")


def _mazur_values():
    net, X, T = tutorial_network("mazur")
    return trace_step(net, X, T, lr=0.5).values


def _rounded(value, decimals):
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def _prose(text):
    """The page without fenced blocks and without the embedded trace."""
    text = FENCE.sub("", text)
    return re.sub(r"<!-- begin:.*?<!-- end:[^>]*-->", "", text, flags=re.S)


def test_backprop_numbers_in_the_prose_are_minimlps():
    values = _mazur_values()
    prose = _prose((DOCS / "backprop.md").read_text())
    # "label = number", or "label = <formula without '=' or ' and '> = number", the number
    # not followed by an operator (then it is a factor, not the label's value)
    pairs = re.findall(r"([A-Za-z][\w/+]*) =\s+(?:(?:(?! and )[^=\n:,`])*? = )??(-?\d+\.\d{4,})"
                       r"(?!\d|\.\d| \*| \+| -)", prose)
    checked = 0
    for label, number in pairs:
        assert label in values, f"backprop.md: {label} = {number}: not a quantity of the trace"
        decimals = len(number.split(".")[1])
        assert _rounded(values[label], decimals) == Decimal(number), (
            f"backprop.md says {label} = {number}; minimlp computes {values[label]!r}")
        checked += 1
    assert checked >= 30, checked
    # Every other number with 6 or more decimals is some trace value at its digits, or one
    # of the post's figures that the page points out as wrong.
    allowed_wrong = {"0.291027924"}
    for number in re.findall(r"-?\d+\.\d{6,}", prose):
        if number in allowed_wrong:
            continue
        decimals = len(number.split(".")[1])
        assert any(_rounded(v, decimals) == Decimal(number) for v in values.values()), (
            f"backprop.md quotes {number}, which is no value of minimlp's trace")


def _golden_numbers(golden):
    out = []

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, float):
            out.append(node)
        elif isinstance(node, str):
            out.extend(float(s) for s in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", node))
    walk(golden)
    return out


def test_errata_numbers_come_from_the_golden_figures(golden):
    """Every number with 6+ decimals on the errata page is a golden value (or a published
    figure) at the digits shown: the page copies nothing by hand."""
    path = DOCS / "tutorial-errata.md"
    if not path.exists():
        pytest.fail("docs/tutorial-errata.md is missing")
    known = _golden_numbers(golden)
    prose = FENCE.sub("", path.read_text())
    numbers = re.findall(r"(?<![\w.])[-−+]?\d+\.\d{6,}(?:e-\d+)?", prose)
    assert len(numbers) >= 20
    for number in numbers:
        text = number.replace("−", "-").lstrip("+")
        if "e" in text:
            assert any(abs(v - float(text)) <= abs(float(text)) * 1e-12 for v in known), number
            continue
        decimals = len(text.split(".")[1])
        assert any(_rounded(v, decimals) == Decimal(text) for v in known), (
            f"tutorial-errata.md quotes {number}, which is not in tests/golden")


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def github_anchors(text):
    """The anchors a code host gives the headings of a Markdown page."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+?)\s*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_relative_links_resolve(path):
    for target, fragment in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        dest = path.parent / target
        assert dest.exists(), f"{page_id(path)} links to missing {target}"
        if fragment and dest.suffix == ".md":
            assert fragment[1:] in github_anchors(dest.read_text()), (
                f"{page_id(path)} links to {target}{fragment}: no such heading")


def test_github_anchor_rule():
    assert github_anchors("## 6. A batch of N samples\n# Mazur's figures after training\n") == {
        "6-a-batch-of-n-samples", "mazurs-figures-after-training"}


def test_api_page_lists_every_public_name():
    text = (DOCS / "api.md").read_text()
    missing = [name for name in mm.__all__ if name != "__version__"
               and not re.search(rf"^#+ `?{re.escape(name)}\b", text, re.M)]
    assert not missing, f"docs/api.md lacks {missing}; run python docs/make_api.py"


def test_docs_pages_exist():
    names = {p.name for p in DOCS.glob("*.md")}
    for required in ["index.md", "backprop.md", "tutorial-errata.md", "guide.md", "api.md",
                     "design.md", "adding-a-layer.md"]:
        assert required in names, required
    for image in ["mazur-network.png", "loss-curve.png", "decision-boundary.png"]:
        assert (DOCS / "images" / image).stat().st_size > 10_000, image


def test_design_page_names_every_module():
    """design.md's file table keeps up with minimlp/: a new module must be described there."""
    text = (DOCS / "design.md").read_text()
    modules = [p.name for p in (ROOT / "minimlp").glob("*.py") if p.name not in ("__main__.py", "_checks.py")]
    missing = [m for m in modules if m not in text]
    assert not missing, f"docs/design.md does not describe {missing}"


def test_api_page_is_what_the_docstrings_say_now():
    """api.md is generated from the docstrings: a changed signature or first line makes it stale."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_api", DOCS / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (DOCS / "api.md").read_text() == make_api.render(), "docs/api.md is stale; run python docs/make_api.py"
