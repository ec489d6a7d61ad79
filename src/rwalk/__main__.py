"""``python -m rwalk``, and the ``rwalk`` console script: the ``rwalk`` command."""

import sys


def run() -> None:
    """Load the command and run it; Ctrl-C while it is still loading exits 130 too.

    The console script starts here rather than in :mod:`rwalk.cli`, whose imports
    (typer) take most of the command's startup: a Ctrl-C during them would otherwise
    print a traceback.
    """
    try:
        from rwalk.cli import EXIT_INTERRUPTED, main
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    run()
