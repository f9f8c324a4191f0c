#!/usr/bin/env bash
# Install the browser the console's acceptance test drives (tests/integration/test_console_browser.py):
# Debian's chromium and chromium-driver, and fonts-noto-cjk so that Chinese renders in screenshots.
#
# Idempotent: does nothing when /usr/bin/chromium, /usr/bin/chromedriver and fonts-noto-cjk are
# already there. Otherwise runs `apt-get update` once and installs the three packages, with sudo when
# not root. Debian (and derivatives whose `chromium` package is a real .deb) only.
# Exits non-zero, saying why, when it can't install.
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-noto-cjk)
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

say() { printf 'install-test-browser: %s\n' "$*" >&2; }

fail() {
    say "$*"
    say "install them by hand: apt-get install --no-install-recommends ${PACKAGES[*]}"
    exit 1
}

fonts_installed() {
    command -v dpkg-query >/dev/null 2>&1 &&
        dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed'
}

missing() {
    local what=()
    [[ -x $CHROMIUM ]] || what+=("$CHROMIUM")
    [[ -x $CHROMEDRIVER ]] || what+=("$CHROMEDRIVER")
    fonts_installed || what+=(fonts-noto-cjk)
    printf '%s\n' "${what[@]}"
}

need=$(missing)
if [[ -z $need ]]; then
    say "chromium, chromedriver and fonts-noto-cjk are already installed"
    exit 0
fi
say "missing: ${need//$'\n'/ }"

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: this script installs Debian packages only"

as_root=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not installed"
    if [[ -t 0 ]]; then
        as_root=(sudo)
    else
        as_root=(sudo -n) # no terminal (CI): fail at once rather than wait for a password
    fi
fi

# sudo resets the environment: pass DEBIAN_FRONTEND through env.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
say "running: ${as_root[*]:+${as_root[*]} }apt-get update"
"${apt[@]}" update || fail "apt-get update failed"
say "running: ${as_root[*]:+${as_root[*]} }apt-get install -y --no-install-recommends ${PACKAGES[*]}"
"${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" || fail "apt-get install failed"

need=$(missing)
[[ -z $need ]] || fail "still missing after installing: ${need//$'\n'/ }"
say "installed: $("$CHROMIUM" --version 2>/dev/null || echo chromium), $("$CHROMEDRIVER" --version 2>/dev/null | head -n 1)"
