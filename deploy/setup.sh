#!/usr/bin/env bash
# Prepares the compose stack (docker-compose.yml) on this machine, once:
#   - .env beside docker-compose.yml with fresh random secrets and keys (each kept once
#     written; missing ones are added to an existing .env);
#   - deploy/nginx/certs/{cert,key}.pem, a self-signed certificate for localhost
#     (kept if present: replace them with a real certificate in production).
# Needs openssl. Prints how to get a user token for the stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secret() { openssl rand -hex "$1"; }

# A VAPID key pair for Web Push (P-256): the public key as 65 raw bytes, the private as 32,
# both URL-safe base64 without padding, as `web-push generate-vapid-keys` prints them.
b64url() { base64 | tr -d '\n=' | tr '+/' '-_'; }
vapid_pem=$(openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null)
VAPID_PUBLIC=$(printf '%s\n' "$vapid_pem" | openssl ec -pubout -outform DER 2>/dev/null | tail -c 65 | b64url)
VAPID_PRIVATE=$(printf '%s\n' "$vapid_pem" | openssl ec -outform DER 2>/dev/null | head -c 39 | tail -c 32 | b64url)

# Every secret the stack needs, each written once: a .env made by an older setup.sh gets
# the ones it lacks added, and keeps the values it has.
[ -f .env ] || { (umask 077 && echo "# Made by deploy/setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it out of version control." > .env); echo "[setup] wrote .env"; }
ensure() {
  if ! grep -q "^$1=" .env; then
    echo "$1=$2" >> .env
    echo "[setup] .env: added $1"
  fi
}
ensure POSTGRES_PASSWORD "$(secret 24)"
ensure JWT_SECRET "$(secret 32)"
ensure INTERNAL_API_TOKEN "$(secret 24)"
ensure AUDIT_ANCHOR_KEY "$(secret 32)"
ensure ALLOWED_ORIGINS "https://localhost"
ensure DATA_KEY_ENCRYPTION_KEY "$(openssl rand -base64 32)"
ensure VAPID_PUBLIC_KEY "$VAPID_PUBLIC"
ensure VAPID_PRIVATE_KEY "$VAPID_PRIVATE"
ensure VAPID_SUBJECT "mailto:ops@localhost"
# Webhooks stay off until both lines are uncommented and the URL is the marketplace
# backend's (the secret is ready; give the backend the same one).
if ! grep -q "^#* *WEBHOOK_URL=" .env; then
  echo "# WEBHOOK_URL=https://marketplace.example/chat-webhooks" >> .env
  echo "# WEBHOOK_SECRET=whsec_$(openssl rand -base64 32)" >> .env
  echo "[setup] .env: added WEBHOOK_URL and WEBHOOK_SECRET, commented out"
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
