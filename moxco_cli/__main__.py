"""`python -m moxco_cli` == `moxco`."""

from moxco_cli.entry import main

main()
