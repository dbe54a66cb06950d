"""Subscripts in the SVG figures, as a browser lays them out: Chromium (headless) measures the
step figures' captions, and a screenshot shows no gaps where the subscripts are."""

import re
import shutil
import subprocess
import unicodedata

import pytest

from rnn import draw
from rnn.draw.svgtext import join_runs

RAW = (
    '<text text-anchor="start" x="10" y="-5" font-family="Helvetica" font-size="16.00">f</text>\n'
    '<text text-anchor="start" x="17" y="-5" font-family="Helvetica" baseline-shift="sub" '
    'font-size="16.00">t</text>\n'
    '<text text-anchor="start" x="23" y="-5" font-family="Helvetica" font-size="16.00"> = 1'
    '</text>\n'
    '<text text-anchor="middle" x="50" y="-30" font-size="14.00">alone</text>\n'
)


def test_runs_of_a_line_become_one_text_with_shifted_smaller_scripts():
    out = join_runs(RAW)
    assert out.count("<text") == 2 and "baseline-shift" not in out
    line = out.splitlines()[0]
    assert re.findall(r"<tspan([^>]*)>([^<]*)</tspan>", line) == [
        ("", "f"), (' dy="4.80" font-family="Helvetica" font-size="12.00"', "t"),
        (' dy="-4.80"', " = 1")]
    assert 'x="10"' in line and 'xml:space="preserve"' in line
    assert '<text text-anchor="middle" x="50" y="-30" font-size="14.00">alone</text>' in out
    assert join_runs(out) == out  # nothing left to join


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if chromium() is None:
        pytest.skip("Chromium is not installed: apt-get install -y chromium (as root)")
    return chromium()


MEASURE = """<!doctype html><html><body style="margin:0">%s
<pre id="out"></pre><script>
// every <text> holding a tspan: its characters' boxes as Chromium lays them out
var rows = [];
document.querySelectorAll("text").forEach(function (t) {
  if (!t.querySelector("tspan")) return;
  for (var i = 0; i < t.getNumberOfChars(); i++) {
    var b = t.getExtentOfChar(i);
    rows.push([t.textContent[i], b.x, b.y, b.width, b.height].join("\\t"));
  }
  rows.push("-");
});
document.getElementById("out").textContent = rows.join("\\n");
</script></body></html>"""


@pytest.mark.parametrize("step", ["forget", "input", "update", "output"])
def test_caption_characters_follow_each_other_in_chromium(browser, tmp_path, step):
    svg = tmp_path / f"{step}.svg"
    draw.render(draw.lstm_step(step), svg)
    page = tmp_path / "measure.html"
    page.write_text(MEASURE % svg.read_text(encoding="utf-8").split("?>", 1)[-1],
                    encoding="utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    lines = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)[1].split("\n-")
    measured = [[row.split("\t") for row in line.strip().splitlines()] for line in lines]
    measured = [rows for rows in measured if len(rows) > 3]
    caption = max(measured, key=len)  # the equation under the figure
    assert len(caption) >= 15
    boxes = [(c, float(x), float(y), float(w), float(h)) for c, x, y, w, h in caption
             if not unicodedata.combining(c)]  # a combining tilde sits on the letter before
    for (c0, x0, _, w0, _), (c1, x1, _, _, _) in zip(boxes, boxes[1:]):
        # each character starts where the one before ends: no gap, no overlap
        assert abs(x1 - (x0 + w0)) < 0.5, f"{c0!r} ends at {x0 + w0:.1f}, {c1!r} at {x1:.1f}"
    tops = sorted({round(y, 1) for _, _, y, _, _ in boxes})
    heights = sorted({round(h, 1) for _, _, _, _, h in boxes})
    assert len(tops) >= 2 and len(heights) >= 2  # subscripts sit lower and are smaller


def test_a_screenshot_of_the_forget_step_shows_no_wide_gaps(browser, tmp_path):
    image = pytest.importorskip("PIL.Image")
    svg = tmp_path / "forget.svg"
    draw.render(draw.lstm_step("forget"), svg)
    width, height = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"',
                                                 svg.read_text(encoding="utf-8")).groups())
    png = tmp_path / "forget.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={png}", f"--window-size={int(width * 4 / 3) + 40},"
                    f"{int(height * 4 / 3) + 60}", svg.as_uri()],
                   capture_output=True, timeout=120)
    pixels = image.open(png).convert("L")
    w, h = pixels.size
    # the caption is the lowest line of dark ink: find its rows, then its ink columns
    dark = [[pixels.getpixel((x, y)) < 110 for x in range(w)] for y in range(h)]
    rows = [y for y in range(h) if any(dark[y])]
    band = [rows[-1]]
    for y in reversed(rows[:-1]):  # up through the caption's rows, to the blank above it
        if band[-1] - y > 3:
            break
        band.append(y)
    columns = [x for x in range(w) if any(dark[y][x] for y in band)]
    gaps = [b - a - 1 for a, b in zip(columns, columns[1:])]
    assert columns[-1] - columns[0] > 200  # the whole equation was found
    # a space with the bearings around it is about 9 px here; Graphviz's own runs (before
    # rnn.draw.svgtext) leave 18 px where the subscripts are
    assert max(gaps) <= 12, f"a gap of {max(gaps)} px in the caption"
