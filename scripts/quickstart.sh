#!/usr/bin/env bash
# `npm run quickstart`: on a fresh machine, start a local database server, create the schema,
# ingest the real honeyd log shipped in samples/, and show the firewall rules that came out.
# Safe to run again: the server is reused, the migration and the ingest add nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ ! -d node_modules ]; then
  step "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

step "starting the local database server (scripts/db-server.sh)"
url=$(bash scripts/db-server.sh start | tail -n 1)
export IPMS_DATABASE_URL="$url"
echo "IPMS_DATABASE_URL=$(printf %s "$url" | sed 's#//\([^:/]*\):[^@]*@#//\1:****@#')"

step "creating the schema and triggers (ipms db migrate)"
node bin/ipms.mjs db migrate

step "a threshold for the demo"
# (the URL goes in the environment, not the arguments: a command line is visible to every local user)
npx --no-install tsx scripts/quickstart.ts prepare

step "ingesting samples/honeyevse-honeyd.log as sensor 'quickstart' (ipms ingest)"
# The sample's honeypot is 185.213.114.29; its time zone is not published, so UTC.
node bin/ipms.mjs ingest --sensor quickstart --tz UTC --honeypot-net 185.213.114.29/32 \
  --state-dir "${IPMS_HOME:-.ipms}/state" samples/honeyevse-honeyd.log

step "the rules that came out"
npx --no-install tsx scripts/quickstart.ts rules

cat <<'TXT'

Next: point ipms at your own sensor's logs, e.g.
  export IPMS_DATABASE_URL=$(bash scripts/db-server.sh url)   # the local server's URL, password included
  node bin/ipms.mjs ingest --sensor my-sensor --honeyd-config /etc/honeyd.conf --follow /var/log/honeyd/honeyd.log
TXT
