"""The command line: --help, `gradcheck`, `bench` dispatch, and bad arguments."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite import ops
from rnn import cli
from rnn.commands import gradcheck as gradcheck_command
from rnn.kernels.testing import kernel_cases

ROOT = Path(__file__).resolve().parents[1]


def rnn_lab(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "rnn", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(result, status=2):
    assert result.returncode == status
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_commands():
    result = rnn_lab("--help")
    assert result.returncode == 0
    assert "gradcheck" in result.stdout and "bench" in result.stdout


def test_gradcheck_prints_a_passing_table():
    result = rnn_lab("gradcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["op", "case"] and "max abs err" in lines[0]
    rows = {line.split()[0] for line in lines[1:] if line.strip() and "pass" in line.split()}
    engine_ops = {v.name for v in vars(ops).values() if isinstance(v, ops.Op)}
    assert engine_ops <= rows
    assert {name for name, *_ in kernel_cases()} <= rows  # the fused kernels too
    assert "FAIL" not in result.stdout
    assert "checks passed" in lines[-1]


def test_gradcheck_help_has_an_example():
    result = rnn_lab("gradcheck", "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "rnn-lab gradcheck --op" in result.stdout


@pytest.mark.parametrize("args", [
    ["gradcheck", "--eps", "abc"],
    ["gradcheck", "--rtol", "-1"],
    ["gradcheck", "--bogus"],
    ["no-such-command"],
    [],
    ["bench"],
    ["bench", "no-such-benchmark"],
    ["bench", "overhead", "--ops", "0"],
    ["bench", "overhead", "--repeats", "many"],
])
def test_bad_arguments_exit_2_with_one_line(args):
    assert_one_line_error(rnn_lab(*args), status=2)


def test_unknown_op_is_a_usage_error():
    result = rnn_lab("gradcheck", "--op", "no_such_op")
    assert_one_line_error(result, status=2)
    assert "invalid choice: 'no_such_op'" in result.stderr and "'fused_lstm'" in result.stderr


def test_bench_help_lists_every_benchmark():
    result = rnn_lab("bench", "--help")
    assert result.returncode == 0
    for name in ["overhead", "lstm", "symbolic", "draw"]:
        assert any(line.split()[:1] == [name] for line in result.stdout.splitlines()), name


def test_bench_name_help_reaches_the_benchmark_parser():
    result = rnn_lab("bench", "overhead", "--help")
    assert result.returncode == 0
    assert "--ops" in result.stdout and "--repeats" in result.stdout


def test_bench_overhead_runs_and_reports_ratio():
    result = rnn_lab("bench", "overhead", "--ops", "60", "--repeats", "2")
    assert result.returncode == 0, result.stderr
    assert "autograd_lite" in result.stdout and "numpy (no graph)" in result.stdout
    assert "max |diff| 0.0e+00" in result.stdout  # same gradients as the hand-written floor


# In-process checks of the gradcheck command's failure paths.


def test_gradcheck_exits_1_when_a_rule_is_wrong(monkeypatch, capsys):
    wrong = [("mul", "a * b (wrong)", lambda a, b: a * b.detach() + a * 0.0 * b,
              [np.ones(2), np.ones(2)])]
    monkeypatch.setattr(gradcheck_command, "cases", lambda: wrong)
    assert cli.main(["gradcheck", "--op", "mul"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: gradcheck failed for output 0 w.r.t. input 1" in out
    assert "0 of 1 checks passed" in out


def test_gradcheck_fails_for_an_op_without_a_case(capsys):
    ops.defop("test_untested_op", np.negative, lambda B, g, out, a: (-g,))
    try:
        assert cli.main(["gradcheck", "--op", "test_untested_op"]) == 1
        assert "FAIL: no gradcheck case for this op" in capsys.readouterr().out
    finally:
        del al.OPS["test_untested_op"]
