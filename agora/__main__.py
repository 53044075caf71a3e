"""`python -m agora` runs the command line, as the `agora` script does."""

from agora.cli import main

main()
