"""The ``xunqin`` command."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("xunqin: nothing yet", file=sys.stderr)
    return 0
