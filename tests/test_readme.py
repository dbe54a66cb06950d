"""The README's promises: its code examples run, and CI runs the test command it prints."""

import re
import subprocess
from pathlib import Path

import pytest

from rnn.cells import cell_names, unregister

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_three_job_examples_and_how_to_add_a_cell():
    assert len(EXAMPLES) >= 4
    assert any("class MyMGUCell(Cell)" in code and "cross_check" in code for code in EXAMPLES)
    joined = "\n".join(EXAMPLES)
    for needle in ("symbolic.cross_check", "draw.render", "loss.backward()"):
        assert needle in joined


@pytest.mark.parametrize("code", EXAMPLES, ids=lambda c: c.splitlines()[0][:40])
def test_readme_example_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if "torch" in code:
        pytest.importorskip("torch")
    before = set(cell_names())
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    finally:  # a cell the example defines lives only as long as the example
        for name in set(cell_names()) - before:
            unregister(name)
    for name in re.findall(r'render\([^"]*"([^"]+)"\)', code):
        svg = (tmp_path / name).read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_training_example_learns_the_adding_problem(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = next(c for c in EXAMPLES if "adding_problem" in c)
    scope = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["loss"].item() < 0.05  # the mean predictor scores 0.167


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1).splitlines()
    assert block[0] == "# run the main job" and block[2] == "# run the tests"
    assert "rnn-lab demo" in block[1] and "pytest" in block[3]
    # .ci/run extracts the test command with this awk program: it must find the same line
    program = re.search(r"awk '([^']+)' README.md", (ROOT / ".ci/run").read_text()).group(1)
    found = subprocess.run(["awk", program, str(ROOT / "README.md")], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == block[3]


def test_readme_images_exist():
    for path in re.findall(r"\((diagrams/[^)\s]+)\)|src=\"(diagrams/[^\"]+)\"", README):
        name = path[0] or path[1]
        assert (ROOT / name).is_file(), name
