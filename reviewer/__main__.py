"""`python -m reviewer ...`: the same command line as `reviewer ...`."""

from reviewer.cli import app

if __name__ == "__main__":
    app(prog_name="reviewer")
