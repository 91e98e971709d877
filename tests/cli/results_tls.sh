#!/usr/bin/env bash
# TLS verification is always on (docs/server-api.md "Transport"): a self-signed server is
# refused, a private CA given in SBENGINE_CA_BUNDLE is trusted, and the host name must match.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
command -v openssl >/dev/null || { echo "openssl not found: skipped"; exit 77; }

# One self-signed certificate for 127.0.0.1, another for a different name.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout key.pem -out cert.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=elsewhere.example" \
    -addext "subjectAltName=DNS:elsewhere.example" -keyout other-key.pem -out other.pem 2>/dev/null

start_fake_server port --tls cert.pem key.pem
start_fake_server port2 --tls other.pem other-key.pem
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SOTABENCH_TOKEN=tls-token
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SBENGINE_CA_BUNDLE

printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\n' >one.lua
run_sb --out store.json one.lua
expect_exit 0

case_ "a self-signed certificate is refused, without retries"
SOTABENCH_URL="https://127.0.0.1:$(cat port)" run_sb submit store.json
expect_exit 3
expect_err_re "SSL certificate problem|certificate"
expect_err "after 1 attempt"

case_ "SBENGINE_CA_BUNDLE trusts a private CA"
SBENGINE_CA_BUNDLE="$SB_TMP/cert.pem" SOTABENCH_URL="https://127.0.0.1:$(cat port)" run_sb submit store.json
expect_exit 0
expect_err "submitted M on D (new)"

case_ "the host name is verified even for a trusted certificate"
SBENGINE_CA_BUNDLE="$SB_TMP/other.pem" SOTABENCH_URL="https://127.0.0.1:$(cat port2)" run_sb submit store.json
expect_exit 3
expect_err_re "certificate|SSL|host"

finish
