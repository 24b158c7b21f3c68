#!/usr/bin/env bash
# Put Ptycho Studio in the desktop's application menu, for the current user only.
#
#   install_desktop_entry.sh [PATH/TO/ptycho-studio]
#
# Works from the repository (packaging/) and from a built bundle (dist/ptycho-studio/).
# Without an argument the executable is the bundle's (next to this script), else the
# repository's .venv/bin/ptycho-studio, else ptycho-studio on PATH. Writes
# ~/.local/share/applications/ptycho-studio.desktop and the icons under
# ~/.local/share/icons/hicolor/ (XDG_DATA_HOME is honoured). Undo: delete those files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

for candidate in "$here/_internal/resources" "$here/../resources"; do
    if [ -f "$candidate/ptycho-studio.desktop" ]; then resources=$(cd "$candidate" && pwd); break; fi
done
if [ -z "${resources:-}" ]; then
    echo "cannot find resources/ptycho-studio.desktop next to $here" >&2
    exit 1
fi

exe=${1:-}
if [ -z "$exe" ]; then
    for candidate in "$here/ptycho-studio" "$here/../.venv/bin/ptycho-studio"; do
        if [ -x "$candidate" ]; then exe=$candidate; break; fi
    done
fi
exe=${exe:-$(command -v ptycho-studio || true)}
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
    echo "cannot find the ptycho-studio executable; give its path as the argument" >&2
    exit 1
fi
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")

data=${XDG_DATA_HOME:-$HOME/.local/share}
for size in 16 32 48 64 128 256; do
    install -D -m 644 "$resources/icons/ptycho-studio-$size.png" \
        "$data/icons/hicolor/${size}x${size}/apps/ptycho-studio.png"
done
install -D -m 644 "$resources/icons/ptycho-studio.svg" \
    "$data/icons/hicolor/scalable/apps/ptycho-studio.svg"
mkdir -p "$data/applications"
desktop_exe=$(printf '%s' "$exe" | sed 's/[\\"`$]/\\\\&/g')      # desktop-entry escaping
escaped=$(printf '%s' "$desktop_exe" | sed 's/[\\&|]/\\&/g')          # then sed's
sed -e "s|^Exec=.*|Exec=\"$escaped\" %F|" -e "s|^TryExec=.*|TryExec=$escaped|" \
    "$resources/ptycho-studio.desktop" > "$data/applications/ptycho-studio.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "installed $data/applications/ptycho-studio.desktop (runs $exe)"
