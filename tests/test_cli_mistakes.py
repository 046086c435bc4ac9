"""Every user mistake on the command line is one clear line and an exit code, never a
traceback (issue 11 section 3; reliability review M7, L9; newcomer review D1, D2, D8, D9,
D11, D12, D14). Exit codes: 0 done, 1 an output went to a fallback file, 2 a usage mistake,
3 training diverged, 130 Ctrl-C, 141 a closed output pipe."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

import minimlp as mm
from minimlp import cli
from minimlp.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           MPLBACKEND="Agg")
#: A folder that exists but in which nothing can be created, even by root.
PROC = "/proc"
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, command: str) -> str:
    """The stderr of a failed command: exactly one line, prefixed, no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"minimlp {command}: "), err
    return lines[0]


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return str(path)


def small_train(out, *extra):
    return ["train", "--data", "moons", "--data-param", "n=40", "--layers", "2-4-2",
            "--epochs", "2", "--verbose", "0", "--no-plots", "--out", str(out), *extra]


# -- D1: bench checks --json and --plot before the sweep ------------------------------------
@needs_proc
@pytest.mark.parametrize("flag, name", [("--json", "x.json"), ("--plot", "x.png")])
def test_bench_unwritable_output_is_refused_before_timing(flag, name, capsys):
    code, out, err = run_cli(capsys, "bench", "--layers", "2-3-2", "--batch-sizes", "1",
                             "--repeats", "1", "--min-time", "0.0001", flag, f"{PROC}/{name}")
    assert code == 2
    line = one_line_error(err, "bench")
    assert f"cannot write {flag} '{PROC}/{name}'" in line
    assert "x floor" not in out and "batch" not in err   # nothing was timed


def test_bench_output_check_leaves_no_file_behind(tmp_path, capsys):
    code, _, _ = run_cli(capsys, "bench", "--layers", "2-3-2", "--batch-sizes", "1",
                         "--repeats", "1", "--min-time", "0.0001",
                         "--json", str(tmp_path / "b.json"))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


# -- D9: bench reports the spread of the rounds -----------------------------------------------
def test_bench_reports_quartiles_and_iqr_of_the_rounds(tmp_path, capsys, monkeypatch):
    from minimlp import bench

    # Fixed round times, so the quartiles can be computed by hand: step rounds 1..5 us,
    # floor rounds 2, 2, 2, 2, 10 us.
    def fake(candidates, repeats, warmup, min_time, budget):
        return {"minimlp": [1e-6, 2e-6, 3e-6, 4e-6, 5e-6], "floor": [2e-6] * 4 + [10e-6]}
    monkeypatch.setattr(bench, "time_interleaved", fake)
    path = tmp_path / "b.json"
    code, out, _ = run_cli(capsys, "bench", "--layers", "2-3-2", "--batch-sizes", "1",
                           "--json", str(path))
    assert code == 0
    row = json.loads(path.read_text())["rows"][0]
    # inclusive quartiles of 1..5 are 2 and 4 (numpy's default linear method agrees)
    assert np.percentile([1, 2, 3, 4, 5], [25, 75]).tolist() == [2.0, 4.0]
    assert row["us_step_q1"] == pytest.approx(2.0) and row["us_step_q3"] == pytest.approx(4.0)
    assert row["us_step_min"] == pytest.approx(1.0) and row["us_step_max"] == pytest.approx(5.0)
    assert row["us_step"] == pytest.approx(3.0)
    assert row["step_iqr_rel"] == pytest.approx(2 / 3)
    assert row["floor_iqr_rel"] == pytest.approx(0.0) and row["us_floor_max"] == pytest.approx(10)
    assert row["noisy"] is True
    assert "step IQR" in out and "67%*" in out
    assert "1 of 1 rows spread more than 20%" in out


# -- D8: one parser for --layers --------------------------------------------------------------
@pytest.mark.parametrize("spec", ["784x512", "2--3", "784,512,10", "784 - 10", "2-0-3", "7", "a-b"])
def test_layers_are_parsed_alike_by_train_and_bench(spec, tmp_path, capsys):
    code_b, _, err_b = run_cli(capsys, "bench", "--layers", spec)
    code_t, _, err_t = run_cli(capsys, "train", "--layers", spec, "--out", str(tmp_path))
    assert code_b == code_t == 2
    msg_b = one_line_error(err_b, "bench").split("error: ", 1)[1]
    msg_t = one_line_error(err_t, "train").split("error: ", 1)[1]
    assert msg_b == msg_t
    assert msg_t.startswith(f"layers {spec!r}: expected positive widths joined by '-'")


def test_layers_accept_dashes_only():
    from minimlp.config import parse_widths
    assert parse_widths("784-512-512-10") == [784, 512, 512, 10]
    assert parse_widths(" 2-64-3 ") == [2, 64, 3]


# -- D2: --out where nothing can be created ---------------------------------------------------
@needs_proc
@pytest.mark.parametrize("command", [["train", "--data", "moons", "--epochs", "1"],
                                     ["demo", "--no-plots", "--steps", "1", "--epochs", "1"]])
@pytest.mark.parametrize("out", [f"{PROC}/nope", f"{PROC}/nope/deeper", PROC])
def test_out_under_proc_is_one_line(command, out, capsys):
    code, stdout, err = run_cli(capsys, *command, "--out", out)
    assert code == 2
    line = one_line_error(err, command[0])
    assert repr(out) in line and ("cannot create" in line or "not writable" in line)
    assert "trained" not in stdout


@needs_proc
def test_model_file_under_proc_is_refused_before_training(tmp_path, capsys):
    code, out, err = run_cli(capsys, *small_train(tmp_path), "--model-file", f"{PROC}/x.npz")
    assert code == 2
    assert "cannot write" in one_line_error(err, "train") and "trained" not in out


# -- a failed final save: the model is kept ----------------------------------------------------
def test_failed_final_save_goes_to_a_fallback_file(tmp_path, capsys, monkeypatch):
    from minimlp import io
    real_save = io.save
    target = tmp_path / "run" / "model.npz"

    def full_disk(model, path, **kw):
        if Path(path) == target:
            raise OSError(28, "No space left on device", str(path))
        return real_save(model, path, **kw)
    monkeypatch.setattr(io, "save", full_disk)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, out, err = run_cli(capsys, *small_train(tmp_path / "run"))
    assert code == 1
    assert "Traceback" not in err
    rescued = list(cwd.glob("minimlp-rescued-model-*.npz"))
    assert len(rescued) == 1
    assert f"cannot write {target}: No space left on device; wrote it to {rescued[0]}" in err
    model, optimizer = mm.load(rescued[0], with_optimizer=True)
    assert model.in_features == 2 and optimizer is not None
    assert (tmp_path / "run" / "history.csv").exists()          # the other output is kept
    assert f"wrote {rescued[0]}" in out


# -- Ctrl-C during train --------------------------------------------------------------------
def test_ctrl_c_during_train_saves_the_last_epoch_and_exits_130(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "minimlp", "train", "--data", "spirals", "--data-param", "n=3000",
         "--epochs", "100000", "--verbose", "2", "--no-plots", "--out", str(out)],
        cwd=tmp_path, env=dict(ENV, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:                  # wait until two epochs have finished
            if re.match(r"epoch\s+2/", line):
                break
            assert time.monotonic() < deadline, "training did not start"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    line = one_line_error(err, "train")
    m = re.search(r"interrupted after epoch (\d+)/100000; saved that epoch's outputs: "
                  r"(\S+), (\S+)$", line)
    assert m, line
    epoch = int(m.group(1))
    assert epoch >= 2
    assert m.group(2) == str(out / "model.npz") and m.group(3) == str(out / "history.csv")
    model, optimizer = mm.load(out / "model.npz", with_optimizer=True)
    assert optimizer is not None and all(np.isfinite(p.value).all() for p in model.parameters())
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 1 + epoch
    assert rows[-1].startswith(f"{epoch},")


# -- TrainingDiverged: one line, exit 3 ----------------------------------------------------------
def test_diverged_training_exits_3_with_advice(tmp_path, capsys):
    with np.errstate(all="ignore"):
        code, out, err = run_cli(capsys, *small_train(tmp_path, "--optimizer", "sgd",
                                                      "--lr", "1e200"))
    assert code == 3
    line = one_line_error(err, "train")
    assert "training diverged" in line and "smaller --lr" in line
    assert "wrote" not in out and not (tmp_path / "model.npz").exists()


def test_diverged_exit_code_is_documented():
    text = (ROOT / "docs" / "errors.md").read_text()
    assert re.search(r"\|\s*`?3`?\s*\|[^|]*diverged", text), "exit code 3 is not in docs/errors.md"


# -- missing optional packages -----------------------------------------------------------------
def block_matplotlib(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import raises ModuleNotFoundError


def test_train_without_matplotlib_says_what_to_install_before_training(tmp_path, capsys, monkeypatch):
    block_matplotlib(monkeypatch)
    argv = [a for a in small_train(tmp_path) if a != "--no-plots"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    line = one_line_error(err, "train")
    assert "pip install matplotlib" in line and "--no-plots" in line
    assert "trained" not in out


def test_bench_plot_without_matplotlib_is_refused_before_timing(tmp_path, capsys, monkeypatch):
    block_matplotlib(monkeypatch)
    code, out, err = run_cli(capsys, "bench", "--layers", "2-3-2", "--batch-sizes", "1",
                             "--plot", str(tmp_path / "p.png"))
    assert code == 2 and "pip install matplotlib" in one_line_error(err, "bench")
    assert "x floor" not in out


@pytest.mark.parametrize("module, advice", [("sklearn", 'pip install "minimlp[sklearn]"'),
                                            ("matplotlib.pyplot", "pip install matplotlib")])
def test_a_missing_optional_package_anywhere_is_one_line(module, advice, capsys):
    def needs_it(args):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    assert cli._run(Namespace(command="demo", func=needs_it)) == 2
    assert advice in one_line_error(capsys.readouterr().err, "demo")


# -- MemoryError from sizes in a config -----------------------------------------------------------
@pytest.mark.parametrize("layers", ["2-100000000000-3", "2-3000000-3000000-3"])
def test_absurd_widths_are_refused_before_allocating(layers, tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--layers", layers, "--out", str(tmp_path))
    assert code == 2
    line = one_line_error(err, "train")
    assert "parameters would need about" in line and "use smaller widths" in line


def test_absurd_layer_table_is_refused_before_allocating(tmp_path, capsys):
    config = write(tmp_path, '[model]\nlayers = [{type = "Dense", in_features = 2, '
                             'out_features = 1000000000000}, {type = "Dense", in_features = '
                             '1000000000000, out_features = 3}]\n')
    code, _, err = run_cli(capsys, "train", "--config", config, "--out", str(tmp_path))
    assert code == 2 and "parameters would need about" in one_line_error(err, "train")


def test_data_set_too_large_for_memory_is_one_line(tmp_path, capsys):
    config = write(tmp_path, "[data]\nname = \"spirals\"\nn = 1000000000000\n")   # 16 TB
    code, _, err = run_cli(capsys, "train", "--config", config, "--out", str(tmp_path))
    assert code == 2
    assert "not enough memory for the data set with n=1000000000000" in one_line_error(err, "train")


def test_memory_error_anywhere_is_one_line(capsys):
    def huge(args):
        raise MemoryError("Unable to allocate 8.00 TiB")
    assert cli._run(Namespace(command="train", func=huge)) == 2
    assert "not enough memory (Unable to allocate 8.00 TiB)" in one_line_error(
        capsys.readouterr().err, "train")


# -- TOML that cannot be read ---------------------------------------------------------------------
def test_latin1_toml_is_one_line(tmp_path, capsys):
    config = write(tmp_path, b'[data]\nname = "caf\xe9"\n')
    code, _, err = run_cli(capsys, "train", "--config", config, "--out", str(tmp_path))
    assert code == 2
    assert "is not UTF-8 text (byte 0xe9 on line 2)" in one_line_error(err, "train")


def test_deeply_nested_toml_is_one_line(tmp_path, capsys):
    config = write(tmp_path, "[data]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run_cli(capsys, "train", "--config", config, "--out", str(tmp_path))
    assert code == 2 and "nests arrays or tables too deeply" in one_line_error(err, "train")


def test_toml_with_a_bom_is_read(tmp_path, capsys):
    config = write(tmp_path, b"\xef\xbb\xbf[training]\nepochs = 1\n")
    from minimlp.config import read_config
    assert read_config(config)["training"]["epochs"] == 1


# -- a closed pipe ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["train", "--list"], ["--help"], ["train", "--help"]])
def test_a_closed_pipe_is_quiet(argv, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "minimlp", *argv], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == "", err
    assert proc.returncode in (0, 141)


def test_predict_into_head_is_quiet(tmp_path):
    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    mm.save(net, tmp_path / "m.npz")
    (tmp_path / "in.csv").write_text("0.5,0.1\n" * 100_000)
    cmd = (f"{sys.executable} -m minimlp predict --model m.npz --input in.csv | head -1")
    proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout == "y0,y1\n" and proc.stderr == "", proc.stderr


# -- L9, D11: CSV input ---------------------------------------------------------------------
@pytest.fixture
def model_file(tmp_path):
    net = mm.Sequential(mm.Dense(2, 2, rng=0))
    mm.save(net, tmp_path / "m.npz")
    return str(tmp_path / "m.npz"), net


@pytest.mark.parametrize("text", [b"\xef\xbb\xbf0.5,0.1\n-0.3,0.7\n",
                                  b"\xef\xbb\xbfx1,x2\n0.5,0.1\n-0.3,0.7\n"])
def test_csv_with_a_utf8_bom_is_read(text, model_file, tmp_path, capsys):
    path, net = model_file
    csv = write(tmp_path, text, "in.csv")
    code, out, err = run_cli(capsys, "predict", "--model", path, "--input", csv)
    assert code == 0, err
    got = np.loadtxt(out.splitlines()[1:], delimiter=",")
    np.testing.assert_array_equal(got, net.predict(np.array([[0.5, 0.1], [-0.3, 0.7]])))


def test_csv_bom_on_stdin_is_read(model_file, tmp_path):
    path, _ = model_file
    proc = subprocess.run([sys.executable, "-m", "minimlp", "predict", "--model", path,
                           "--input", "-"], input="\ufeff0.5,0.1\n", env=dict(ENV, PYTHONIOENCODING="utf-8"),
                          capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2


def test_csv_header_line_is_bounded(model_file, tmp_path, capsys):
    from minimlp.commands.predict import MAX_LINE_CHARS
    path, _ = model_file
    csv = write(tmp_path, "h" * (MAX_LINE_CHARS + 10) + "\n0.5,0.1\n", "in.csv")
    code, _, err = run_cli(capsys, "predict", "--model", path, "--input", csv)
    assert code == 2
    assert f"line 1 is longer than {MAX_LINE_CHARS:,} characters" in one_line_error(err, "predict")


def test_binary_input_names_the_file(model_file, capsys):
    path, _ = model_file
    code, _, err = run_cli(capsys, "predict", "--model", path, "--input", path)
    assert code == 2
    line = one_line_error(err, "predict")
    assert f"{path!r} is not a text file of numbers" in line and "codec" not in line


def test_input_folder_names_the_folder(model_file, tmp_path, capsys):
    path, _ = model_file
    code, _, err = run_cli(capsys, "predict", "--model", path, "--input", str(tmp_path))
    assert code == 2
    assert f"input {str(tmp_path)!r} is a folder; name a CSV file" in one_line_error(err, "predict")


# -- D11: messages that say which thing is wrong -----------------------------------------------
@pytest.mark.parametrize("flag, value, message", [
    ("--repeats", "0", "--repeats must be >= 1, got 0"),
    ("--warmup", "-1", "--warmup must be >= 0, got -1"),
    ("--min-time", "0", "--min-time must be > 0 seconds, got 0.0"),
])
def test_bench_names_the_flag_that_is_wrong(flag, value, message, capsys):
    code, _, err = run_cli(capsys, "bench", flag, value)
    assert code == 2 and one_line_error(err, "bench").endswith(message)


def test_default_data_set_is_named_when_the_widths_do_not_fit(tmp_path, capsys):
    config = write(tmp_path, '[model]\nlayers = "2-8-2"\n')
    code, _, err = run_cli(capsys, "train", "--config", config, "--out", str(tmp_path))
    assert code == 2
    line = one_line_error(err, "train")
    assert "need 3 outputs (data set 'spirals', the default when neither [data] name nor " \
           "--data names one)" in line


def test_two_classes_with_one_output_mentions_bce_with_logits(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--data", "moons", "--layers", "2-32-1",
                           "--out", str(tmp_path))
    assert code == 2
    assert "(or 1 output with --loss bce_with_logits)" in one_line_error(err, "train")


# -- D14: "1 epoch" ------------------------------------------------------------------------------
def test_one_epoch_is_singular(tmp_path, capsys):
    code, out, _ = run_cli(capsys, *small_train(tmp_path, "--epochs", "1"))
    assert code == 0
    assert "trained 1 epoch in" in out and "1 epochs" not in out


# -- D12: the README, as a newcomer runs it ---------------------------------------------------
README = (ROOT / "README.md").read_text()


def readme_blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, flags=re.S | re.M)


def test_readme_says_to_activate_the_venv_before_a_bare_minimlp():
    commands = [(m.start(1), line) for m in re.finditer(r"^```sh\n(.*?)^```", README, re.S | re.M)
                for line in m.group(1).splitlines() if line.startswith("minimlp ")]
    assert commands, "the README has no bare 'minimlp' command"
    first = min(pos for pos, _ in commands)
    activate = README.find("source .venv/bin/activate")
    assert 0 <= activate < first, "bare 'minimlp' commands come before the venv is activated"
    assert ".venv/bin/minimlp" in README[:first]


def test_readme_shell_commands_write_only_into_minimlp_out():
    written = []
    for block in readme_blocks("sh"):
        text = block.replace("\\\n", " ")
        written += re.findall(r"(?:>|--plot|--json|--out|--output)\s+(\S+)", text)
    assert written, "found no output paths in the README's commands"
    outside = [p for p in written if not p.startswith("minimlp-out/")]
    assert not outside, f"README commands write outside minimlp-out/: {outside}"


def test_readme_python_blocks_write_only_into_minimlp_out(tmp_path):
    script = tmp_path / "run" / "readme.py"
    script.parent.mkdir()
    script.write_text("\n\n".join(readme_blocks("python")))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, str(script)], cwd=work, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    made = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    assert made, "the README's Python wrote nothing"
    assert all(p.startswith("minimlp-out" + os.sep) for p in made), made


# -- D11, D14: explain --------------------------------------------------------------------------
def test_explain_given_a_train_config_says_so(capsys):
    code, _, err = run_cli(capsys, "explain", "--config", str(ROOT / "examples" / "spirals.toml"))
    assert code == 2
    line = one_line_error(err, "explain")
    assert "this is a 'minimlp train' config" in line and "minimlp train --config" in line
    assert "did you mean" not in line


@pytest.mark.parametrize("argv, title", [
    (["--activation", "relu", "--inputs", "[0.1, 0.2]"],
     "Mazur's 2-2-2 network, with its activation and inputs changed"),
    (["--lr", "0.1"], "Mazur's 2-2-2 network, with its learning rate changed"),
    (["--weights", "[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]", "--biases", "[0, 0]",
      "--inputs", "[1, 1]", "--targets", "[0, 1]"], "A 2-2-2 network of your own"),
])
def test_explain_title_reads_as_english(argv, title, capsys):
    code, out, _ = run_cli(capsys, "explain", *argv)
    assert code == 0
    assert out.splitlines()[0] == f"{title}: one SGD step, by the chain rule"


def test_ctrl_c_saves_exactly_the_state_at_the_end_of_the_last_epoch(tmp_path, capsys, monkeypatch):
    """Interrupted in epoch 3, batch 2: the file holds the parameters and optimizer state as
    they were when epoch 2 ended, not the half-updated ones."""
    from minimlp import training
    from minimlp.callbacks import Callback
    real_fit = training.fit
    seen = {}

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs):
            seen[epoch] = ([p.value.copy() for p in self.model.parameters()],
                           self.optimizer.state_dict())

        def on_batch_end(self, batch, logs):
            if len(seen) == 2 and batch == 2:
                raise KeyboardInterrupt

    def fit(*args, callbacks=(), **kw):
        return real_fit(*args, callbacks=[*callbacks, Spy()], **kw)
    import minimlp.commands.train as train_command
    monkeypatch.setattr(training, "fit", fit)
    monkeypatch.setattr(train_command, "fit", fit)
    code, _, err = run_cli(capsys, *small_train(tmp_path, "--epochs", "10", "--batch-size", "4"))
    assert code == 130
    assert one_line_error(err, "train").endswith(
        f"interrupted after epoch 2/10; saved that epoch's outputs: {tmp_path / 'model.npz'}, "
        f"{tmp_path / 'history.csv'}")
    model, optimizer = mm.load(tmp_path / "model.npz", with_optimizer=True)
    params, state = seen[2]
    for p, expected in zip(model.parameters(), params):
        np.testing.assert_array_equal(p.value, expected)
    assert optimizer.steps == state["steps"] == 2 * 8      # 32 training rows / batch 4
    loaded = optimizer.state_dict()
    arrays = [k for k, v in state.items() if isinstance(v, list)]
    assert arrays                                          # Adam's moments
    for k in arrays:
        for a, b in zip(loaded[k], state[k]):
            np.testing.assert_array_equal(a, b)
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 2


def test_ctrl_c_in_the_first_epoch_saves_nothing_and_says_so(tmp_path, capsys, monkeypatch):
    from minimlp import training

    import minimlp.commands.train as train_command

    def fit(*args, **kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "fit", fit)
    monkeypatch.setattr(train_command, "fit", fit)
    code, _, err = run_cli(capsys, *small_train(tmp_path))
    assert code == 130
    assert "before any epoch finished; nothing was saved" in one_line_error(err, "train")
    assert not (tmp_path / "model.npz").exists()


def test_memory_error_without_a_message_still_says_memory(capsys):
    def huge(args):
        raise MemoryError
    assert cli._run(Namespace(command="train", func=huge)) == 2
    assert "not enough memory (MemoryError)" in one_line_error(capsys.readouterr().err, "train")


def test_csv_rows_read_in_blocks_equal_numpy_loadtxt(tmp_path):
    from minimlp.commands.predict import _lines, _parse_rows
    rng = np.random.default_rng(0)
    X = rng.standard_normal((25, 3))
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c", comments="", fmt="%.17g")
    with open(path, encoding="utf-8-sig") as f:
        got = _parse_rows(str(path), _lines(str(path), f), chunk=4)   # 6 full blocks and 1
    np.testing.assert_array_equal(got, np.loadtxt(path, delimiter=",", skiprows=1))
    (tmp_path / "ragged.csv").write_text("1,2\n" * 5 + "1,2,3\n")
    with pytest.raises(ValueError, match="line 6: 3 columns, but the first row has 2"):
        with open(tmp_path / "ragged.csv") as f:
            _parse_rows("ragged.csv", _lines("ragged.csv", f), chunk=2)


def test_a_loss_that_explodes_without_reaching_inf_exits_3(tmp_path, capsys):
    """--lr 1e6 on sine once ended with 'loss 2.8e13' and exit 0."""
    with np.errstate(all="ignore"):
        code, out, err = run_cli(capsys, "train", "--data", "sine", "--layers", "1-8-1",
                                 "--activation", "tanh", "--epochs", "3", "--verbose", "0",
                                 "--no-plots", "--out", str(tmp_path), "--optimizer", "sgd",
                                 "--lr", "1e6")
    assert code == 3
    line = one_line_error(err, "train")
    assert "training diverged" in line and "max_loss_growth" in line and "smaller --lr" in line


def test_the_loss_growth_check_can_be_turned_off(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--data", "sine", "--layers", "1-8-1",
                             "--activation", "tanh", "--epochs", "2", "--verbose", "0",
                             "--no-plots", "--out", str(tmp_path), "--optimizer", "sgd",
                             "--lr", "2", "--max-loss-growth", "0")
    assert code == 0, err
    code, out, err = run_cli(capsys, *small_train(tmp_path, "--max-loss-growth", "0.5"))
    assert code == 2 and "training.max_loss_growth" in one_line_error(err, "train")


def test_train_says_when_it_replaces_an_earlier_runs_files(tmp_path, capsys):
    """D12: a second run into the same folder replaced model.npz without a word."""
    assert run_cli(capsys, *small_train(tmp_path))[0] == 0
    code, out, err = run_cli(capsys, *small_train(tmp_path))
    assert code == 0
    assert f"wrote {tmp_path / 'model.npz'} (replacing the file of an earlier run)" in out
