"""``ptycho-engine``: the headless command line for batch work and clusters.

A user's mistake (bad file, bad setting) prints one line and exits 2; Ctrl+C
during training saves a checkpoint and exits 130; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..core.errors import PtychoError
from ..core.version import __version__
from . import bundle_commands, data_commands, model_commands

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="ptycho-engine",
        description="Ptycho Studio engine: simulate, inspect, train, reconstruct, evaluate, "
                    "export, info, export-onnx.")
    parser.add_argument("--version", action="version", version=f"ptycho-engine {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data_commands.register(commands)
    model_commands.register(commands)
    bundle_commands.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PtychoError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `ptycho-engine info … | head`: the reader left
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
