"""PyInstaller entry script of the ``ptycho-engine`` executable (the headless CLI)."""

import multiprocessing
import sys

from ptycho_engine.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not run the CLI again
    sys.exit(main())
