"""The demo page shows each figure at its natural size (at most its column's width), checked
in headless Chromium: a small figure is not blown up beside a large one."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STYLE = re.search(r"<style>.*?</style>",
                  (ROOT / "rnn/demo/index.html").read_text(encoding="utf-8"), re.S)[0]
PAGE = """<!doctype html><html><head>%s</head><body><div class="grid">%s</div>
<pre id="out"></pre><script>
window.onload = function () {
  var rows = [];
  document.querySelectorAll("figure img").forEach(function (img) {
    var fig = img.parentNode, cs = getComputedStyle(fig);
    var inside = fig.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    rows.push([img.getAttribute("src"), img.naturalWidth, img.getBoundingClientRect().width,
               inside].join(" "));
  });
  document.getElementById("out").textContent = rows.join("\\n");
};
</script></body></html>"""


def test_figures_keep_their_natural_size_in_the_demo_grid(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed: apt-get install -y chromium (as root)")
    figures = "".join(f'<figure><img src="{(ROOT / "diagrams" / name).as_uri()}"></figure>'
                      for name in ("folded.svg", "lstm-module.svg", "forget.svg"))
    page = tmp_path / "page.html"
    page.write_text(PAGE % (STYLE, figures), encoding="utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--window-size=1200,900", "--virtual-time-budget=3000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    rows = [line.split() for line in re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)[1]
            .strip().splitlines()]
    shown = {Path(src).name: (float(natural), float(width), float(column))
             for src, natural, width, column in rows}
    assert set(shown) == {"folded.svg", "lstm-module.svg", "forget.svg"}
    for name, (natural, width, column) in shown.items():
        assert natural > 0
        # natural size, or the column's width when the figure is wider than it
        assert width == pytest.approx(min(natural, column), abs=2), name
    folded, module = shown["folded.svg"], shown["lstm-module.svg"]
    assert folded[1] / module[1] == pytest.approx(folded[0] / module[0], rel=0.05) or \
        module[1] < module[0]  # the module was capped by its column
