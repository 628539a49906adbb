"""Command line: ``python -m vcc_core COMMAND ...``.

Each command lives in ``vcc_core/commands/<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
Errors a user can fix (bad files, bad arguments) exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from vcc_core import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vcc_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"vcc_core.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message holds
        return 2


if __name__ == "__main__":
    sys.exit(main())
