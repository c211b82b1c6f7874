# Shared set-up for scripts/run and scripts/test: system packages, the virtualenv, the project.
# Sourced, not executed. Everything comes from the package registries (Debian, PyPI) only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"

log() { printf '[setup] %s\n' "$*" >&2; }

_apt_updated=0
apt_install() {
  # apt_install PKG...: install Debian packages that are missing (root, or sudo without password).
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      log "need Debian packages: ${missing[*]} (run as root or install them)"; return 1; fi
  fi
  if [ $_apt_updated -eq 0 ]; then
    log "apt-get update"; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; _apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_for_venv() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$py"; return 0
    fi
  done
  log "Python 3.11 or newer is required"; return 1
}

ensure_venv() {
  # ensure_venv [EXTRAS]: create .venv and install the project (editable) when pyproject changed.
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py="$(python_for_venv)"
    "$py" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && "$py" -m venv "$VENV"; }
  fi
  local spec="." stamp="$VENV/.certledger-installed"
  [ -n "$extras" ] && spec=".[$extras]"
  local want; want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)-$extras"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the project into .venv ($spec)"
    local pip_log="$VENV/pip-install.log"
    if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip setuptools wheel \
           && (cd "$ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"); } \
         >"$pip_log" 2>&1; then
      grep -v '^WARNING: Location' "$pip_log" >&2; log "installation failed (log: $pip_log)"; return 1
    fi
    "$VENV/bin/python" -c 'import certledger, flask, plyvel, sqlalchemy' || { log "installation failed"; return 1; }
    echo "$want" > "$stamp"
  fi
}

ensure_contract_tools() {
  # solc-js and OpenZeppelin for the contracts, exactly as pinned in contracts/package-lock.json
  command -v npm >/dev/null || apt_install nodejs npm
  local lock="$ROOT/contracts/package-lock.json" stamp="$ROOT/contracts/node_modules/.certledger-lock"
  if [ ! -d "$ROOT/contracts/node_modules/solc" ] || ! cmp -s "$lock" "$stamp"; then
    log "npm ci in contracts/"
    (cd "$ROOT/contracts" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$lock" "$stamp"
  fi
}

ensure_web_assets() {
  # ECharts for the statistics page, as pinned in web/assets/package-lock.json, served by the app
  # itself (web/static/vendor/, gitignored, made here): no CDN.
  command -v npm >/dev/null || apt_install nodejs npm
  local dir="$ROOT/web/assets" lock="$ROOT/web/assets/package-lock.json"
  local stamp="$ROOT/web/assets/node_modules/.certledger-lock" out="$ROOT/web/static/vendor/echarts.min.js"
  if [ ! -f "$dir/node_modules/echarts/dist/echarts.min.js" ] || ! cmp -s "$lock" "$stamp"; then
    log "npm ci in web/assets/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$lock" "$stamp"
  fi
  if ! cmp -s "$dir/node_modules/echarts/dist/echarts.min.js" "$out"; then
    mkdir -p "$(dirname "$out")"
    cp "$dir/node_modules/echarts/dist/echarts.min.js" "$out.tmp" && mv "$out.tmp" "$out"
  fi
}
