"""Command line: ``python -m vcc_core COMMAND ...``.

Each command lives in ``vcc_core/commands/<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
Errors a user can fix (bad files, bad arguments) exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import pkgutil
import sys

from vcc_core import commands

# numpy asks the kernel for transparent huge pages on every large array; where the kernel then compacts memory on
# demand (THP defrag "madvise", the Linux default), touching a fresh 240 MB array stalls for ~1 s instead of ~0.1 s,
# and a command's arrays are mostly fresh. Set before numpy is imported; NUMPY_MADVISE_HUGEPAGE=1 restores numpy's.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone when it names one (the others' imports, torch and
    scikit-learn among them, take seconds)."""
    parser = argparse.ArgumentParser(prog="python -m vcc_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))
    wanted = command.replace("-", "_") if command else None
    for name in [wanted] if wanted in names else names:
        importlib.import_module(f"vcc_core.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message holds
        return 2


def _exit(code: int) -> None:
    """End the process once the command is done: exit handlers run and output is flushed, but the interpreter's
    teardown (freeing every object of torch, numba and the results one by one: over a second after a large
    evaluation) is left to the operating system, which frees the memory at once."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cli() -> None:
    """The ``vcc`` console command (installed by ``make install``): ``python -m vcc_core`` from any folder."""
    _exit(main())


if __name__ == "__main__":
    cli()
