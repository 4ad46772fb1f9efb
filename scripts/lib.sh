# Shared by scripts/test-all, scripts/autobahn, scripts/interop and
# scripts/eio-interop (sourced, not run): setting up the tests' peers, and
# finding the chapter binaries.
# Every setup step is quick when its work is already done, so each script
# can call what it needs and work on a fresh clone.
#
# The sourcing script has already done `cd` to the repository root.

say() { printf '\n==> %s\n' "$*"; }

# Debian packages, installed with apt-get when run as root (CI), otherwise
# named with the command that installs them.
install_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "missing Debian packages: ${missing[*]}"
        echo "install them with: sudo apt-get install ${missing[*]}"
        return 1
    fi
}

# The sha256 of a file, to tell whether an install is up to date.
_digest() { sha256sum "$1" | cut -d' ' -f1; }

# Python peers (kosoku for Autobahn, websockets, python-engineio) in .venv. pip runs only
# when tests/python/requirements.txt changed since the last install.
setup_python() {
    local requirements=tests/python/requirements.txt stamp=.venv/.netladder-requirements
    command -v python3 >/dev/null || { echo "missing: python3 (apt-get install python3 python3-venv)"; return 1; }
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv || { echo "python3 -m venv failed (apt-get install python3-venv)"; return 1; }
    fi
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(_digest "$requirements")" ] && return 0
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements" || return 1
    _digest "$requirements" >"$stamp"
}

# playwright-core for the browser test (it drives Debian's Chromium; it
# downloads no browser of its own). `npm ci` runs only when
# tests/node/package-lock.json changed since the last install.
setup_node() {
    local lock=tests/node/package-lock.json stamp=tests/node/node_modules/.netladder-lock
    command -v npm >/dev/null || { echo "missing: node and npm (apt-get install nodejs npm)"; return 1; }
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(_digest "$lock")" ] && return 0
    (cd tests/node && npm ci --no-audit --no-fund --silent) || return 1
    _digest "$lock" >"$stamp"
}

# Builds one binary of the workspace and prints where cargo put it, so that
# CARGO_TARGET_DIR and cargo's config are honoured:
#   server=$(cargo_bin ch03-ws-server) || exit 1
#   server=$(cargo_bin --release ch03-ws-server) || exit 1
cargo_bin() {
    local profile=()
    if [ "$1" = --release ]; then profile=(--release); shift; fi
    local name=$1 path
    path=$(cargo build --quiet "${profile[@]}" --bin "$name" --message-format=json-render-diagnostics |
        grep '"reason":"compiler-artifact"' | grep "\"name\":\"$name\"" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [ -n "$path" ] && [ -x "$path" ] || { echo "cargo_bin: could not build $name" >&2; return 1; }
    printf '%s\n' "$path"
}
