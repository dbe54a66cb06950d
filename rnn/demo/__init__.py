"""The main job (`rnn-lab demo`): derive the LSTM's gradients, draw it, train a tanh RNN and an
LSTM on the adding problem and a character model on text, and gather it all in one index.html.

`config` (sizes, budgets, the text), `parts` (the work of each part), `page` (the summary and
index.html, from the template `index.html`), `run` (the five parts in order).
"""

from rnn.demo.config import (
    DEFAULT_OUT,
    DEFAULT_TEXT_NAME,
    MIN_TEXT,
    DemoConfig,
    default_text,
    load_text,
)
from rnn.demo.page import CAPTIONS, _verdict, index_html, summary_lines
from rnn.demo.run import PARTS, prepare_folder, run_demo
