#!/usr/bin/env bash
# Install the Debian packages pacsflow's tests and demo need, when missing:
# Python's venv module, PostgreSQL's server binaries (the tests start a
# throwaway server from /usr/lib/postgresql/*/bin), Orthanc (the test PACS)
# DCMTK (an independent DICOM client) and Chromium (the Prefect UI test drives
# it headless; Playwright never downloads a browser). Safe to run repeatedly.
set -euo pipefail

missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "pacsflow needs Python >= 3.11; python3 is $(python3 --version 2>&1)" >&2
    exit 1
}
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v runuser >/dev/null || missing+=(util-linux)
[ -x /usr/sbin/Orthanc ] || missing+=(orthanc)
command -v findscu >/dev/null || missing+=(dcmtk)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "Installing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "Missing packages (${missing[*]}) and no root or sudo to install them." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
