#!/usr/bin/env bash
# Debian packages the integration tests use (real engines, not mocks): network namespaces for multi-host
# tests, OpenMPI + sshd, a Docker engine, debootstrap and docker-compose (the SageMaker SDK v3 local mode's runner) for
# the container tests, wrk for the serve benchmark.
# Idempotent: installs only what is missing. Needs root (CI and the dev machines run as root).
set -euo pipefail
packages=(iproute2 openmpi-bin libopenmpi-dev openssh-server openssh-client docker.io debootstrap docker-compose wrk procps)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ci/system-deps.sh: missing ${missing[*]}; run as root (or install them) to run every test" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
