#!/usr/bin/env bash
# Installs what dmo needs on Debian and is missing: the C toolchain pieces the
# unicorn crate builds with, and the Arm cross compiler for the fixtures.
# Safe to run again: it only installs packages that are not there yet.
set -euo pipefail

packages=(cmake libclang-dev pkg-config gcc-arm-none-eabi libnewlib-arm-none-eabi python3-venv)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    echo "dmo: installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "dmo: cargo not found; install Rust from rustup.rs first" >&2
    exit 1
fi
