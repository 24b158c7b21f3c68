#!/usr/bin/env bash
# Build the one-folder desktop bundle with PyInstaller, from the repository root:
#
#   .venv/bin/pip install -e ".[packaging]"     # once: PyInstaller into the venv
#   packaging/build.sh [--clean] [--archive]
#
# Result: dist/ptycho-studio/ with the executables ptycho-studio (desktop app) and
# ptycho-engine (CLI), the libraries in _internal/ and install_desktop_entry.sh.
# --clean   start from an empty PyInstaller cache (build/pyinstaller)
# --archive also write dist/ptycho-studio-<version>-<os>-<arch>.tar.gz to copy around
# The bundle holds the torch build of the venv it is made from: build it in a venv
# with CUDA torch for GPU machines (packaging/setup_venv.sh picks one when a GPU is seen).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
clean=()
archive=0
for arg in "$@"; do
    case "$arg" in
        --clean) clean=(--clean) ;;
        --archive) archive=1 ;;
        *) echo "usage: packaging/build.sh [--clean] [--archive]" >&2; exit 2 ;;
    esac
done

if ! "$python" -m PyInstaller --version >/dev/null 2>&1; then
    echo "PyInstaller is not installed in $python; run: $python -m pip install -e '.[packaging]'" >&2
    exit 1
fi
if [ ! -f resources/icons/ptycho-studio-256.png ]; then
    "$python" packaging/render_icons.py >/dev/null
fi

started=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN "${clean[@]}" \
    --distpath dist --workpath build/pyinstaller packaging/ptycho_studio.spec
cp packaging/install_desktop_entry.sh dist/ptycho-studio/
elapsed=$(( $(date +%s) - started ))

version=$(dist/ptycho-studio/ptycho-engine --version | awk '{print $2}')
size=$(du -sh dist/ptycho-studio | cut -f1)
echo "built dist/ptycho-studio (version $version) in ${elapsed} s: $size"
if [ "$archive" = 1 ]; then
    name="ptycho-studio-${version}-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m).tar.gz"
    tar -C dist -czf "dist/$name" ptycho-studio
    echo "archive dist/$name: $(du -sh "dist/$name" | cut -f1)"
fi
