"""Write docs/api.md from minimlp's docstrings: every name in ``minimlp.__all__``.

    python docs/make_api.py          # from the repository root

For each public name: its signature and the first line of its docstring; for a class also
its public methods and properties; for a module (``mm.datasets``, ...) its public functions
and classes. ``tests/test_docs.py`` fails when a name of ``__all__`` is missing from api.md.
"""
from __future__ import annotations

import ast
import inspect
import sys
import types
import typing
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import minimlp as mm  # noqa: E402

#: Section titles by defining module, in the order of the page.
SECTIONS = [
    ("minimlp.layer", "The layer contract"),
    ("minimlp.sequential", "Containers"),
    ("minimlp.layers", "Layers"),
    ("minimlp.activations", "Activations"),
    ("minimlp.dropout", "Regularization and normalization"),
    ("minimlp.normalization", "Regularization and normalization"),
    ("minimlp.losses", "Losses"),
    ("minimlp.weighting", "Losses"),
    ("minimlp.optim", "Optimizers"),
    ("minimlp.training", "Training"),
    ("minimlp.callbacks", "Training"),
    ("minimlp.health", "Training"),
    ("minimlp.schedules", "Learning-rate schedules"),
    ("minimlp.io", "Saving and loading"),
    ("minimlp.gradcheck", "Gradient checking"),
    ("minimlp.data", "Mini-batches"),
    ("minimlp.interop", "PyTorch, scikit-learn and ONNX"),
]


def first_line(obj) -> str:
    """The docstring's first paragraph, on one line ("" without a docstring)."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").strip()


def _item(text: str, doc: str) -> str:
    return f"- `{text}`: {doc}" if doc else f"- `{text}`"


def signature(obj, name: str) -> str:
    target = obj
    if inspect.isclass(obj):
        target = obj.__init__ if "__init__" in vars(obj) or obj.__init__ is not object.__init__ else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return name
    params = [_plain(p) for p in sig.parameters.values() if p.name != "self"]
    ret = sig.return_annotation
    sig = sig.replace(parameters=params,
                      return_annotation=_Text(ret) if isinstance(ret, str) else ret)
    text = f"{name}{sig}"
    if inspect.isclass(obj):
        text = text.split(" -> ")[0]
    return text


class _Text:
    """Shown as its text: string annotations without quotes, numpy types by their name."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _plain(p: inspect.Parameter) -> inspect.Parameter:
    ann, default = p.annotation, p.default
    if isinstance(ann, typing.ForwardRef):   # a NamedTuple field's string annotation
        ann = ann.__forward_arg__
    if isinstance(ann, str):
        ann = _Text(ann)
    if isinstance(default, type) and default is not inspect.Parameter.empty:
        mod = "np." if default.__module__ == "numpy" else ""
        default = _Text(mod + default.__name__)
    return p.replace(annotation=ann, default=default)


def members(cls) -> list[tuple[str, object]]:
    """Public methods and properties defined on ``cls`` itself (not inherited)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property) or inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod)):
            out.append((name, value))
    return out


def render_class(name: str, cls) -> list[str]:
    lines = [f"### `{name}`", "", "```text", signature(cls, name), "```", "", first_line(cls), ""]
    bases = [b.__name__ for b in cls.__bases__ if b is not object]
    if bases:
        lines += [f"Subclass of `{'`, `'.join(bases)}`.", ""]
    rows = []
    for mname, value in members(cls):
        if isinstance(value, property):
            rows.append(_item(f"{mname}", first_line(value.fget) if value.fget else "") + " (property)")
        else:
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            rows.append(_item(signature(func, mname), first_line(func)))
    if rows:
        lines += rows + [""]
    return lines


def render_function(name: str, func) -> list[str]:
    return [f"### `{name}`", "", "```text", signature(func, name), "```", "", first_line(func), ""]


def render_module(name: str, module) -> list[str]:
    lines = [f"### `{name}`", "", f"The module `minimlp.{name}`: {first_line(module)}", ""]
    public = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        and (inspect.isfunction(v) or inspect.isclass(v))]
    for n in public:
        v = getattr(module, n)
        if inspect.isfunction(v) or inspect.isclass(v):
            lines.append(_item(signature(v, n), first_line(v)))
        else:
            lines.append(f"- `{n}`: {type(v).__name__}")
    return lines + [""]


#: Modules that ``import minimlp`` does not load, listed (from their source, so that a
#: missing optional package changes nothing) after the exported names.
SUBMODULES = ("plot", "tutorial", "explain", "sklearn")


def render_submodule(name: str) -> list[str]:
    """``minimlp.<name>`` from its source: its docstring's first paragraph and the public
    top-level functions and classes with theirs."""
    tree = ast.parse((DOCS.parent / "minimlp" / f"{name}.py").read_text())

    def first(node) -> str:
        doc = inspect.cleandoc(ast.get_docstring(node) or "")
        return doc.split("\n\n")[0].replace("\n", " ").strip()

    lines = [f"### `minimlp.{name}`", "", f"`import minimlp.{name}`: {first(tree)}", ""]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            lines.append(_item(node.name, first(node)))
    return lines + [""]


def render() -> str:
    names = [n for n in mm.__all__ if n != "__version__"]
    by_section: dict[str, list[str]] = {}
    order = []
    for _, title in SECTIONS:
        if title not in order:
            order.append(title)
    for name in names:
        obj = getattr(mm, name)
        module = getattr(obj, "__module__", None)
        title = next((t for m, t in SECTIONS if m == module), None)
        if isinstance(obj, types.ModuleType):
            title = "Modules"
        title = title or "Other"
        if title not in order:
            order.append(title)
        if isinstance(obj, types.ModuleType):
            block = render_module(name, obj)
        elif inspect.isclass(obj):
            block = render_class(name, obj)
        else:
            block = render_function(name, obj)
        by_section.setdefault(title, []).extend(block)
    out = [
        "# API reference",
        "",
        "Every name that `import minimlp as mm` exports (`mm.__all__`), with its signature and",
        "the first line of its docstring; the docstrings have the formulas, shapes and details",
        "(`help(mm.Dense)`). Generated from the code by `python docs/make_api.py`; do not edit",
        f"by hand. minimlp {mm.__version__}.",
        "",
    ]
    title = "Other modules"
    for name in SUBMODULES:
        by_section.setdefault(title, []).extend(render_submodule(name))
    order.append(title)
    out += [f"- [{t}](#{t.lower().replace(' ', '-')})" for t in order if t in by_section] + [""]
    for title in order:
        if title in by_section:
            out += [f"## {title}", ""] + by_section[title]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    (DOCS / "api.md").write_text(render())
    print("wrote docs/api.md")


if __name__ == "__main__":
    main()
