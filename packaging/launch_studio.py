"""PyInstaller entry script of the ``ptycho-studio`` executable (the desktop app)."""

import multiprocessing
import sys

from app.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start the app again
    sys.exit(main())
