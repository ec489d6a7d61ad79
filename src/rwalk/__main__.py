"""``python -m rwalk``: the ``rwalk`` command."""

from rwalk.cli import main

if __name__ == "__main__":
    main()
