"""`python -m rnn` runs the same CLI as the `rnn-lab` console script."""

import sys

from rnn.cli import main

sys.exit(main())
