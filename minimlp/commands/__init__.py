"""Subcommands of the ``minimlp`` command, one module each (see ``minimlp.cli``)."""
