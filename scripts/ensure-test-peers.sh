#!/usr/bin/env bash
# The interoperability tests run real peers from Debian's packages. Install them when we can
# (root with apt-get, as on CI or a fresh machine), otherwise name what is missing and stop.
set -euo pipefail
need=()
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v coap-client-openssl >/dev/null || need+=(libcoap3-bin)
command -v openssl >/dev/null || need+=(openssl)
# The Postgres store tests start their own server from Debian's programs (not a service).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing test peers: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "the tests need Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
