import json
from pathlib import Path

import numpy as np
import pytest

GOLDEN = json.loads((Path(__file__).parent / "golden" / "tutorial_nets.json").read_text())


@pytest.fixture(autouse=True)
def numpy_errors_raise():
    """Overflow, division by zero and invalid operations fail loudly in every test.

    Underflow stays ignored (numpy's default): exp(-1000) = 0 and a product of two tiny
    gradients rounding to 0 are correct results, not errors.
    """
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield


@pytest.fixture
def golden():
    return GOLDEN
