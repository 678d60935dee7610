#!/usr/bin/env bash
# One command for a local TLS certificate: `npm run tls-cert [-- DIR]` writes DIR/audex-cert.pem and
# DIR/audex-key.pem (default ./audex-tls), a self-signed certificate for localhost and 127.0.0.1
# valid 365 days. Serve gRPC with it (AUDEX_TLS_CERT, AUDEX_TLS_KEY) and let clients trust it with
# GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (README, "gRPC over TLS"). For production use a real CA.
set -euo pipefail
dir="${1:-./audex-tls}"
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
  -keyout "$dir/audex-key.pem" -out "$dir/audex-cert.pem" \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$dir/audex-key.pem"
echo "wrote $dir/audex-cert.pem and $dir/audex-key.pem (localhost, 127.0.0.1; 365 days)"
