"""``python -m icewatch`` runs the command-line interface."""

from icewatch.cli import main

if __name__ == "__main__":
    main()
