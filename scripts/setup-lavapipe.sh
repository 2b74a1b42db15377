#!/usr/bin/env bash
# Mesa 25's lavapipe (a software Vulkan adapter) for the WebGPU backend's tests on machines without a
# GPU. Debian 12's own Mesa 22 lavapipe lacks what Dawn requires
# (shaderUniform*ArrayDynamicIndexing), bookworm-backports has Mesa 25. The suite is added from the
# URI of this machine's own Debian source entry (no mirror named here), only when the package is
# missing or older than 25.
set -euo pipefail

icd_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}
icd_ok && exit 0

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" != bookworm ]; then
  # Newer Debian releases carry Mesa >= 25 in their main suite.
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >&2
  exit 0
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # deb822: the URIs line of the stanza whose Suites has bookworm itself.
    uri=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |$|\n)/ { if (match($0, /URIs: *[^ \n]+/)) { print substr($0, RSTART+5, RLENGTH-5); exit } }' /etc/apt/sources.list.d/debian.sources | tr -d ' ')
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "setup-lavapipe: no Debian bookworm source entry to take the mirror from" >&2; exit 1; }
  echo "deb $uri bookworm-backports main" | $sudo_cmd tee /etc/apt/sources.list.d/sm-nas-bookworm-backports.list >/dev/null
fi
echo "setup: installing Mesa 25 lavapipe (bookworm-backports mesa-vulkan-drivers)" >&2
$sudo_cmd apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
