"""examples/backprop_222.ipynb runs through a real Jupyter kernel, and its stored outputs are current.

Every number in the notebook is asserted there against the hand formula (and the post's
printed figures), so executing it is the test: any error or failed assert fails here.
"""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the dev extra (nbclient)")
pytest.importorskip("ipykernel", reason="the notebook test needs the dev extra (ipykernel)")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "backprop_222.ipynb"


def streams(nb):
    """Each code cell's printed text (a kernel may split one cell's output into several chunks)."""
    return ["".join(o["text"] for o in c.get("outputs", []) if o["output_type"] == "stream"
                    and o["name"] == "stdout") for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")  # this checkout's minimlp
    try:
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()        # raises CellExecutionError on any error or failed assert
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_path
    return nb


def test_notebook_runs_without_error_in_a_kernel(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o["output_type"] == "error"]
    assert not errors
    text = "".join(streams(executed))
    assert "dE/dw5 = 0.082167041" in text and "E after one step = 0.291027774" in text
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2       # the loss curve and the network picture


def test_stored_notebook_has_its_current_outputs(executed):
    stored = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(stored)
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code), "every code cell is stored with its outputs"
    assert streams(stored) == streams(executed), (
        "examples/backprop_222.ipynb is stale: re-run it (jupyter nbconvert --execute --inplace)")
