"""minimlp.study and `minimlp study batch-size`: trials, resume, local workers, Dask."""
import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minimlp import study
from minimlp.config import check_config
from minimlp.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _config(**training):
    return check_config({"data": {"name": "moons", "n": 240, "noise": 0.2},
                         "model": {"layers": "2-8-2", "activation": "tanh"},
                         "optimizer": {"name": "sgd", "lr": 0.1},
                         "training": {"validation_split": 0.25, "verbose": 0, **training}})


def _comparable(rows):
    """Rows without the wall-clock columns, in a fixed order."""
    keep = [c for c in study.COLUMNS if c not in ("seconds", "seconds_per_step")]
    return sorted(tuple(r[c] for c in keep) for r in rows)


KW = dict(batch_sizes=[4, 16, 64], lrs="0.05,0.2", seeds=2, target="val_accuracy=0.85",
          max_steps=300, bench=False, progress=False, plots=False, say=lambda *a: None)


def test_tiny_study_runs_locally_and_writes_its_outputs(tmp_path):
    res = study.batch_size_study(_config(), workers=1, out=str(tmp_path), **{**KW, "plots": True, "bench": True})
    rows = study.read_trials(tmp_path / "trials.csv")
    assert len(rows) == 3 * 2 * 2
    with open(tmp_path / "trials.csv") as f:
        header = next(csv.reader(f))
    assert header[:7] == ["batch_size", "lr", "seed", "steps_to_target", "seconds",
                          "seconds_per_step", "final_metric"]
    for r in rows:
        if r["steps_to_target"] is not None:
            assert r["final_metric"] >= 0.85 and r["steps"] == r["steps_to_target"]
        else:
            assert r["steps"] == 300
    assert set(res.best) == {4, 16, 64}
    for B, v in res.best.items():   # the best rate has the fewest median steps
        mine = [r for r in rows if r["batch_size"] == B]
        med = {lr: np.median([r["steps_to_target"] or math.inf for r in mine if r["lr"] == lr])
               for lr in (0.05, 0.2)}
        assert v["lr"] == min(med, key=lambda k: (med[k], k))
    text = (tmp_path / "summary.md").read_text()
    assert "| 16 |" in text and "fastest batch size here" in text
    for name in ("steps_to_target.png", "seconds_to_target.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_steps_to_target_is_the_first_check_that_meets_it():
    data = study.prepare_data(_config(), say=lambda *a: None)
    spec = {"config": _config(), "batch_size": 4, "lr": 0.05, "seed": 1,
            "target": "val_accuracy=0.85", "max_steps": 400, "eval_growth": 1.1}
    row = study.run_trial(spec, data)
    hit = row["steps_to_target"]
    assert hit is not None and hit > 10
    checks = list(study._eval_steps(400, 1.1))
    before = checks[checks.index(hit) - 1]
    short = study.run_trial({**spec, "max_steps": before}, data)   # one check earlier: not yet
    assert short["steps_to_target"] is None and short["final_metric"] < 0.85 and short["steps"] == before


def test_same_seed_same_row_bit_for_bit():
    data = study.prepare_data(_config(), say=lambda *a: None)
    spec = {"config": _config(), "batch_size": 16, "lr": 0.1, "seed": 1,
            "target": "val_loss=0.01", "max_steps": 50, "eval_growth": 1.1}
    a, b = study.run_trial(spec, data), study.run_trial(spec, data)
    assert _comparable([a]) == _comparable([b])
    c = study.run_trial({**spec, "seed": 2}, data)
    assert c["final_metric"] != a["final_metric"]


def test_two_local_workers_match_the_serial_run(tmp_path):
    serial = study.batch_size_study(_config(), workers=1, out=str(tmp_path / "a"), **KW)
    pooled = study.batch_size_study(_config(), workers=2, out=str(tmp_path / "b"), **KW)
    assert _comparable(serial.trials) == _comparable(pooled.trials)
    assert len(pooled.trials) == 12


def _start(cmd, env, log):
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_study_on_a_real_dask_cluster_matches_the_local_run(tmp_path):
    pytest.importorskip("distributed", reason="the Dask tests need the distributed extra: "
                                              'pip install "minimlp[distributed]"')
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = [_start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                     "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)], env, log)]
    try:
        for _ in range(2):
            procs.append(_start([sys.executable, "-m", "distributed.cli.dask_worker",
                                 "--scheduler-file", str(sched_file), "--host", "127.0.0.1",
                                 "--nthreads", "1", "--nworkers", "1", "--no-dashboard"], env, log))
        _wait_until(sched_file.exists, "the Dask scheduler to write its address file")
        import json
        from distributed import Client
        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        remote = study.batch_size_study(_config(), scheduler=address, out=str(tmp_path / "dask"), **KW)
        local = study.batch_size_study(_config(), workers=1, out=str(tmp_path / "local"), **KW)
        assert _comparable(remote.trials) == _comparable(local.trials)
        assert len(remote.trials) == 12
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()


def _wait_until(condition, what: str, limit_s: float = 120.0) -> None:
    """Poll ``condition`` until it holds; a clear failure if a subprocess never gets there.
    (A bound on a wait for another process, not a measurement: nothing is timed.)"""
    for _ in range(int(limit_s / 0.05)):
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what} after {limit_s:g} s")


CLI = ["study", "batch-size", "--data", "moons", "--data-param", "n=240", "--data-param", "noise=0.2",
       "--layers", "2-8-2", "--activation", "tanh", "--optimizer", "sgd",
       "--validation-split", "0.25", "--batch-sizes", "4,8,...,64", "--lrs", "linear:0.05@8:1,2",
       "--seeds", "2", "--target", "val_accuracy=0.85", "--max-steps", "300", "--workers", "1",
       "--no-bench", "--no-plots", "--verbose", "0"]


def test_resume_after_the_study_is_killed(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The fourth trial blocks until the kill: the results file then holds exactly three
    # finished rows, whatever the machine's speed.
    code = ("import threading, minimlp.study as s\n"
            "run, done = s.run_trial, []\n"
            "def stop_after_three(spec, data=None):\n"
            "    if len(done) == 3: threading.Event().wait()\n"
            "    done.append(1); return run(spec, data)\n"
            "s.run_trial = stop_after_three\n"
            "from minimlp.cli import main\nimport sys\nsys.exit(main(sys.argv[1:]))\n")
    p = subprocess.Popen([sys.executable, "-c", code, *CLI, "--out", str(out)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    path = out / "trials.csv"
    _wait_until(lambda: path.exists() and len(path.read_text().splitlines()) >= 4,
                "three trials in trials.csv")
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = study.read_trials(path)
    assert len(before) == 3, "the study was not killed after its third trial"
    with open(path, "a") as f:   # a line cut short by the kill
        f.write("64,0.4,1,12")
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main([*CLI, "--out", str(out)]) == 0
    assert f"resuming: {len(before)} trial(s) already in" in buf.getvalue()
    after = study.read_trials(path)
    assert len(after) == 5 * 2 * 2
    assert after[:len(before)] == before       # kept, not run again
    fresh = tmp_path / "fresh"
    with redirect_stdout(io.StringIO()):
        assert main([*CLI, "--out", str(fresh)]) == 0
    assert _comparable(after) == _comparable(study.read_trials(fresh / "trials.csv"))


def test_a_different_study_in_the_same_folder_is_refused(tmp_path):
    study.batch_size_study(_config(), workers=1, out=str(tmp_path), **KW)
    with pytest.raises(ValueError, match="holds a different study.*max_steps"):
        study.batch_size_study(_config(), workers=1, out=str(tmp_path), **{**KW, "max_steps": 100})


def test_cli_errors_exit_2(tmp_path, capsys):
    base = ["study", "batch-size", "--data", "blobs", "--out", str(tmp_path), "--verbose", "0"]
    assert main(base + ["--target", "val_acc"]) == 2
    assert "expected METRIC=VALUE" in capsys.readouterr().err
    assert main(base + ["--lrs", "cubic:0.1@8"]) == 2
    assert "unknown rule 'cubic'" in capsys.readouterr().err
    assert main(base + ["--batch-sizes", "64,8"]) == 2
    assert "must increase" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "batch-sizes"])


def test_parsers():
    assert study.parse_target("val_acc=0.9") == study.Target("val_accuracy", 0.9)
    assert study.parse_target("val_loss=0.1").higher is False
    assert study.parse_target("accuracy=0.5").validation is False
    g = study.parse_lrs("sqrt:0.01@32:0.5,1,2")
    assert g.rates(128) == pytest.approx([0.01, 0.02, 0.04])
    assert study.parse_lrs("linear:0.1@8").rates(32) == pytest.approx([0.4])
    assert study.parse_lrs("0.1,0.3").rates(5) == [0.1, 0.3]
    with pytest.raises(ValueError, match="> 0"):
        study.parse_lrs("0.1,-1")


def test_fit_of_the_critical_batch_size():
    # S = S_min (1 + B_crit / B) exactly, with S_min = 100 and B_crit = 64
    best = {B: {"steps": 100 * (1 + 64 / B)} for B in (8, 16, 32, 64, 128, 256)}
    s_min, b_crit = study.fit_critical_batch(best)
    assert s_min == pytest.approx(100) and b_crit == pytest.approx(64)
