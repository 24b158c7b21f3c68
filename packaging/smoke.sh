#!/usr/bin/env bash
# Smoke test of the BUILT bundle (packaging/build.sh first), offscreen, no Python needed:
#
#   packaging/smoke.sh [dist/ptycho-studio]
#
# 1. both executables report the version of pyproject.toml;
# 2. ptycho-engine describes the bundled demo scan, trains one tiny epoch on it with the
#    bundled default config, exports a model bundle (which records the version),
#    reconstructs the demo scan with it and scores the result;
# 3. ptycho-studio starts offscreen with the demo scan and the default config, and opens
#    the scan (seen in its settings file, which records a scan once it has opened);
#    it must still be running then, and is stopped with SIGTERM.
# Exits non-zero, naming the failed step, on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

dist=${1:-dist/ptycho-studio}
engine="$dist/ptycho-engine"
studio="$dist/ptycho-studio"
resources="$dist/_internal/resources"
demo="$resources/demo/demo_scan.npz"
config="$resources/quick_look_cpu.toml"
work=$(mktemp -d "${TMPDIR:-/tmp}/ptycho-smoke.XXXXXX")
studio_pid=""

cleanup() {
    if [ -n "$studio_pid" ] && kill -0 "$studio_pid" 2>/dev/null; then
        kill -KILL "$studio_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
step() { echo "smoke: $*"; }

for file in "$engine" "$studio" "$demo" "$config" "$resources/icons/ptycho-studio-256.png"; do
    [ -e "$file" ] || fail "$file is missing; build with packaging/build.sh"
done
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_RUNTIME_DIR="$work/runtime"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

step "versions"
expected=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)
[ "$("$engine" --version)" = "ptycho-engine $expected" ] \
    || fail "ptycho-engine --version says '$("$engine" --version)', expected $expected"
[ "$("$studio" --version)" = "ptycho-studio $expected" ] \
    || fail "ptycho-studio --version says '$("$studio" --version)', expected $expected"

step "inspect the demo scan"
"$engine" inspect "$demo" > "$work/inspect.txt" || fail "ptycho-engine inspect"
grep -Eq "^patterns +[0-9]+ x [0-9]+ x [0-9]+ px" "$work/inspect.txt" || fail "inspect does not describe the demo patterns: $(cat "$work/inspect.txt")"

step "train one tiny epoch"
started=$(date +%s)
"$engine" train --scan "$demo" --config "$config" --epochs 1 --set data.n_groups=64 \
    --out "$work/run" > "$work/train.txt" 2> "$work/train.err" \
    || { cat "$work/train.err" >&2; fail "ptycho-engine train"; }
grep -q "^finished: 1 epochs" "$work/train.txt" || fail "training did not finish: $(cat "$work/train.txt")"
[ -f "$work/run/checkpoints/last.ckpt" ] || fail "training wrote no checkpoint"
echo "smoke:   $(cat "$work/train.txt") [$(( $(date +%s) - started )) s]"

step "export, inspect, reconstruct, evaluate"
"$engine" export "$work/run" --out "$work/model.ptyz" > /dev/null || fail "ptycho-engine export"
"$engine" info --json "$work/model.ptyz" > "$work/info.json" || fail "ptycho-engine info"
grep -q "\"engine_version\": \"$expected\"" "$work/info.json" \
    || fail "the bundle does not record engine_version $expected"
"$engine" reconstruct --model "$work/model.ptyz" --scan "$demo" --out "$work/recon.npz" \
    > /dev/null || fail "ptycho-engine reconstruct"
"$engine" evaluate "$work/recon.npz" --truth "$demo" --json > "$work/scores.json" \
    || fail "ptycho-engine evaluate"

step "start the desktop app offscreen with the demo scan"
"$studio" --config "$config" "$demo" > "$work/studio.log" 2>&1 &
studio_pid=$!
deadline=$(( $(date +%s) + ${SMOKE_GUI_TIMEOUT:-120} ))
until grep -rqs "demo_scan.npz" "$XDG_CONFIG_HOME"; do
    if ! kill -0 "$studio_pid" 2>/dev/null; then
        wait "$studio_pid" && status=0 || status=$?
        cat "$work/studio.log" >&2
        fail "ptycho-studio exited (status $status) before opening the demo scan"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$work/studio.log" >&2; fail "ptycho-studio did not open the demo scan in time"; }
    sleep 0.2
done
sleep 1  # still alive a moment after opening (no crash drawing the panels)
kill -0 "$studio_pid" 2>/dev/null || { cat "$work/studio.log" >&2; fail "ptycho-studio died after opening the scan"; }
kill -TERM "$studio_pid"
wait "$studio_pid" && status=0 || status=$?
studio_pid=""
[ "$status" = 0 ] || [ "$status" = 143 ] || { cat "$work/studio.log" >&2; fail "ptycho-studio ended with status $status on SIGTERM"; }
if grep -q "Traceback" "$work/studio.log"; then
    cat "$work/studio.log" >&2
    fail "ptycho-studio logged a traceback"
fi
step "passed"
