#!/usr/bin/env bash
# Builds the Debian package: build-deb/tidings_<version>_<arch>.deb, the
# engine, its plugins, the plugin SDK, the SQL and the docs under /usr, the
# systemd unit and /etc/tidings. Installs the build dependencies first.
# usage: scripts/package.sh            then: apt-get install ./build-deb/tidings_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh package
cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DTIDINGS_INSTALL_SERVICE=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-deb -j"$(nproc)" >/dev/null
(cd build-deb && cpack -G DEB >/dev/null)
ls build-deb/tidings_*.deb
