#!/usr/bin/env bash
# Prepares the compose stack (docker-compose.yml) on this machine, once:
#   - .env beside docker-compose.yml with fresh random secrets (kept if it exists);
#   - deploy/nginx/certs/{cert,key}.pem, a self-signed certificate for localhost
#     (kept if present: replace them with a real certificate in production).
# Needs openssl. Prints how to get a user token for the stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secret() { openssl rand -hex "$1"; }

if [ ! -f .env ]; then
  (umask 077 && cat > .env) <<ENV
# Made by deploy/setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it out of version control.
POSTGRES_PASSWORD=$(secret 24)
JWT_SECRET=$(secret 32)
INTERNAL_API_TOKEN=$(secret 24)
AUDIT_ANCHOR_KEY=$(secret 32)
DATA_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
ALLOWED_ORIGINS=https://localhost
ENV
  echo "[setup] wrote .env with fresh secrets"
else
  echo "[setup] .env exists: kept"
fi

certs=deploy/nginx/certs
mkdir -p "$certs"
if [ ! -f "$certs/cert.pem" ] || [ ! -f "$certs/key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null
  chmod 644 "$certs/cert.pem"
  # nginx's master process reads the key as root; nobody else needs it.
  chmod 600 "$certs/key.pem"
  echo "[setup] wrote a self-signed certificate for localhost to $certs"
else
  echo "[setup] $certs has a certificate: kept"
fi

cat <<'NEXT'
[setup] next:
  docker-compose up -d --build
  curl -k https://localhost/readyz
  # a user token, signed with the stack's JWT_SECRET:
  JWT_SECRET=$(sed -n 's/^JWT_SECRET=//p' .env) npm run --silent token -- bob
NEXT
