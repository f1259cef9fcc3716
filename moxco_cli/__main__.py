"""`python -m moxco_cli` == `moxco`."""

from moxco_cli.cli import main

main()
