"""Every script and config in examples/ runs, on a reduced setting, so that none can rot."""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from minimlp.cli import main

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: script -> (reduced epochs, what its output must contain, the plots it writes)
SCRIPTS = {
    "xor.py": (5, "xor: 5 epochs, loss", ["xor.png"]),
    "spirals.py": (3, "spirals: 3 epochs, accuracy", ["spirals_history.png", "spirals_boundary.png"]),
    "moons.py": (3, "moons: 3 epochs, test loss", ["moons.png"]),
    "sine.py": (3, "sine: 3 epochs, test MSE", ["sine.png"]),
    "digits.py": (1, "digits: 1 epochs, test accuracy", ["digits_history.png"]),
    "tutorial_222.py": (500, "Output after 500 epochs of training", ["tutorial_222.png"]),
}


def load(name):
    return runpy.run_path(str(EXAMPLES / name), run_name="example_under_test")


#: scripts with a test file of their own
TESTED_ELSEWHERE = {"mnist1d_mlp.py": "tests/test_mnist1d.py"}


def test_every_example_script_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*SCRIPTS, *TESTED_ELSEWHERE])


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_example_runs_prints_its_metrics_and_saves_its_plot(name, tmp_path, capsys):
    epochs, expected, plots = SCRIPTS[name]
    if name == "digits.py":
        pytest.importorskip("sklearn", reason="the digits example needs the digits extra")
    load(name)["main"](["--epochs", str(epochs), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert expected in out
    for plot in plots:
        assert (tmp_path / plot).stat().st_size > 1000
        assert f"wrote {tmp_path / plot}" in out


def test_tutorial_example_prints_the_golden_figures(tmp_path, capsys, golden):
    out, E = load("tutorial_222.py")["main"](["--out", str(tmp_path)])
    g = golden["notebook"]["training"]["mse"]["frozen"]
    assert E == pytest.approx(g["E_after_steps"]["500"], abs=1e-12)   # 0.00016174519813361927
    assert out[0].tolist() == pytest.approx(g["outputs_after_steps"]["500"], abs=1e-12)
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("E = 1/2 sum (t - o)^2 = "))
    assert float(line.rsplit("= ", 1)[1]) == pytest.approx(0.00016174519813361927, abs=1e-12)


def test_digits_example_explains_a_missing_scikit_learn(tmp_path, capsys, monkeypatch):
    for mod in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "sklearn", None)   # "import sklearn" now raises ImportError
    code = load("digits.py")["main"](["--epochs", "1", "--out", str(tmp_path)])
    assert code == 0   # it says "skipped": nothing failed
    err = capsys.readouterr().err
    assert "skipped" in err and "scikit-learn" in err and 'pip install "minimlp[digits]"' in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_example_refuses_an_abbreviated_flag(name, tmp_path, capsys):
    # "--epoch" is a prefix of "--epochs": argparse would take it silently unless allow_abbrev=False
    with pytest.raises(SystemExit) as e:
        load(name)["main"](["--epoch", "1", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert "unrecognized arguments: --epoch" in capsys.readouterr().err


def test_an_example_runs_as_a_script(tmp_path):
    env = dict(os.environ, MINIMLP_EPOCHS="2")
    env.pop("DISPLAY", None)
    out = subprocess.run([sys.executable, str(EXAMPLES / "xor.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "xor: 2 epochs" in out.stdout and (tmp_path / "xor.png").exists()


CONFIGS = sorted(p.name for p in EXAMPLES.glob("*.toml"))


def test_there_are_example_configs():
    assert {"spirals.toml", "sine.toml", "stack.toml"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_example_config_trains(name, tmp_path, capsys):
    code = main(["train", "--config", str(EXAMPLES / name), "--epochs", "2", "--verbose", "0",
                 "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "trained 2 epochs" in out
    assert (tmp_path / "model.npz").exists() and (tmp_path / "history.png").exists()
    assert (tmp_path / "history.csv").read_text().count("\n") == 1 + 2   # header and 2 epochs
    if (tmp_path / "history.json").exists():
        assert json.loads((tmp_path / "history.json").read_text())["epoch"] == [1, 2]
