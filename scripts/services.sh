#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, trust auth for local connections)
# and Redis (127.0.0.1:6379) are installed and running, for the
# PostgreSQL+Redis test pass, `just chaos` and `just bench`. Installs
# Debian's packages when they are missing; starts what is stopped. Sourced
# or run; exports nothing. Needs root (or passwordless sudo) to install.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_install() {
  echo "installing $*"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 100); do port_open "$1" && return 0; sleep 0.1; done
  echo "nothing answers on 127.0.0.1:$1" >&2
  return 1
}

# --- PostgreSQL ---------------------------------------------------------
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt_install postgresql postgresql-contrib
fi
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    $SUDO pg_createcluster "$version" main >/dev/null
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  conf="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect as postgres over TCP without a password.
  if ! grep -q "thumbforge-test" "$conf"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust # thumbforge-test\nhost all all ::1/128 trust # thumbforge-test\nlocal all all trust # thumbforge-test' "$conf"
  fi
  echo "starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port 5432
fi

# --- Redis --------------------------------------------------------------
if ! command -v redis-server >/dev/null; then
  apt_install redis-server
fi
if ! port_open 6379; then
  echo "starting Redis"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379
fi
command -v psql >/dev/null || apt_install postgresql-client
command -v redis-cli >/dev/null || apt_install redis-tools
