#!/usr/bin/env bash
# Install the Debian packages pacsflow needs, when missing. Safe to run repeatedly.
#
#   install-system-deps.sh demo   what `make demo` needs: Python's venv module, and
#                                 Orthanc as the local PACS, DCMTK's headers and g++
#                                 for the compiled C-MOVE receiver. Both are optional:
#                                 with no root or sudo to install them, the demo runs
#                                 pynetdicom's bundled qrscp instead and receives with
#                                 pynetdicom, and says so.
#   install-system-deps.sh test   what `make test` needs besides: PostgreSQL's server
#                                 binaries (the tests start a throwaway server from
#                                 /usr/lib/postgresql/*/bin), util-linux (runuser,
#                                 setpriv), Orthanc and its DICOMweb plugin (the
#                                 test PACS), DCMTK (an
#                                 independent DICOM client) and its headers with g++
#                                 (the compiled receiver is built against them), dicom3tools (dciodvfy
#                                 checks exported files) and Chromium (the Prefect
#                                 UI test drives it headless; Playwright never
#                                 downloads a browser).
#
# PACSFLOW_ORTHANC: where Orthanc's binary is looked for (default /usr/sbin/Orthanc).
set -euo pipefail

profile=${1:-test}
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "pacsflow needs Python >= 3.11; python3 is $(python3 --version 2>&1)" >&2
    exit 1
}

required=()
optional=()
python3 -c 'import venv, ensurepip' 2>/dev/null || required+=(python3-venv)
case "$profile" in
demo)
    [ -x "${PACSFLOW_ORTHANC:-/usr/sbin/Orthanc}" ] || optional+=(orthanc)
    [ -f /usr/include/dcmtk/config/osconfig.h ] || optional+=(libdcmtk-dev)
    command -v g++ >/dev/null || optional+=(g++)
    ;;
test)
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || required+=(postgresql)
    { command -v runuser && command -v setpriv; } >/dev/null || required+=(util-linux)
    [ -x /usr/sbin/Orthanc ] || required+=(orthanc)
    [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || required+=(orthanc-dicomweb)
    command -v findscu >/dev/null || required+=(dcmtk)
    [ -f /usr/include/dcmtk/config/osconfig.h ] || required+=(libdcmtk-dev)
    command -v g++ >/dev/null || required+=(g++)
    command -v dciodvfy >/dev/null || required+=(dicom3tools)
    [ -x /usr/bin/chromium ] || required+=(chromium)
    ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac

missing=("${required[@]}" "${optional[@]}")
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

without_optional() {
    echo "${optional[*]} not installed and could not be installed ($1):" \
        "the demo uses pynetdicom's bundled qrscp as its PACS where Orthanc is missing," \
        "and receives with pynetdicom where DCMTK's headers or g++ are."
}

# Root installs; sudo too, but for optional packages only when it needs no password.
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && { [ ${#required[@]} -gt 0 ] || sudo -n true 2>/dev/null; }; then
    sudo=(sudo)
elif [ ${#required[@]} -eq 0 ]; then
    without_optional "no root or sudo"
    exit 0
else
    echo "Missing packages (${required[*]}) and no root or sudo to install them." >&2
    exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if "${sudo[@]}" apt-get update -q && "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    exit 0
fi
if [ ${#required[@]} -eq 0 ]; then
    without_optional "apt-get failed"
    exit 0
fi
echo "Could not install ${missing[*]}; see apt-get's messages above." >&2
exit 1
