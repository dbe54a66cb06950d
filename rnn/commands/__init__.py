"""Subcommands of `rnn-lab`, one module each, registered in `rnn.cli.COMMANDS`."""
