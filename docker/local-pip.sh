#!/bin/sh
# Run a build command with a local pip helper: only on a machine whose pip reaches the package index
# through a private CA bundle (the project's development machines), never needed elsewhere.
#
#   docker/local-pip.sh docker compose build      (make docker-build LOCAL_BASES=1 does this)
#
# The classic builder has no build secrets, and a --build-arg holding the bundle would stay in the
# image history. Instead this serves a temporary folder on 127.0.0.1 (the builds use the host
# network) holding the CA bundle ($PIP_CERT) and the wheels in docker/local-wheels/ (git-ignored,
# kept out of the build context: e.g. a CPU torch wheel), and passes its URL as LOCAL_PIP_URL. Each
# pip step in the Dockerfiles fetches the bundle to /tmp and deletes it in the same RUN, so no layer
# holds it. The folder and the server go away when the command ends.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
WHEELS=${LOCAL_WHEELS:-$HERE/local-wheels}
CERT=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
[ -n "$CERT" ] && [ -f "$CERT" ] || { echo "local-pip: no CA bundle: set PIP_CERT to pip's cert file" >&2; exit 1; }
[ "$#" -gt 0 ] || { echo "usage: docker/local-pip.sh COMMAND [ARGS...]" >&2; exit 2; }

served=$(mktemp -d)
cp "$CERT" "$served/ca-certificates.crt"
for wheel in "$WHEELS"/*.whl; do
    [ -f "$wheel" ] && ln -s "$wheel" "$served/"
done
# A fixed port: the URL is a build argument, and the classic builder puts build arguments into the cache
# key of every RUN after them, so a new port each time would rebuild every image from its first pip step.
port=${LOCAL_PIP_PORT:-38417}
if python3 -c 'import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$port"; then
    echo "local-pip: port $port is taken (another build?): set LOCAL_PIP_PORT to a free one" >&2
    exit 1
fi
python3 -m http.server --bind 127.0.0.1 --directory "$served" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$served"' EXIT INT TERM
python3 -c "import sys, time, urllib.request
for _ in range(50):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1); break
    except OSError:
        time.sleep(0.1)" "http://127.0.0.1:$port/ca-certificates.crt"

echo "local-pip: serving the CA bundle and $(ls "$served" | grep -c '\.whl$' || true) wheel(s) at http://127.0.0.1:$port"
LOCAL_PIP_URL="http://127.0.0.1:$port" "$@"
