#!/usr/bin/env bash
# What the tests need from Debian beyond Python packages: Chromium (browser tests) and Tesseract with
# English data (OCR of scanned pages). Installs only what is missing; `make test` and `.ci/run` both call it.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ] || missing+=(tesseract-ocr-eng)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "missing Debian packages: ${missing[*]}; install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
as_root=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
$as_root apt-get install -y -qq "${missing[@]}" >/dev/null
