#!/usr/bin/env bash
# For the tests only: Debian's PostgreSQL server, whose binaries the storage tests use to start a throwaway server
# on 127.0.0.1 (tests/sweep_tests/study_tests/conftest.py). Idempotent: installs only where no initdb is found, as
# root with apt-get; elsewhere it says so, and those tests skip with that reason.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: no PostgreSQL server (initdb) and no apt-get as root here: the PostgreSQL storage tests will skip" >&2
    exit 0
fi
# The tests start their own server: no system-wide cluster (Debian's createcluster.d is read by the package).
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/phasescape-tests.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
