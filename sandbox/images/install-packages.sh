#!/bin/sh
# Installs the Debian packages of a layered sandbox image (its packages.txt) on top of its parent.
#
# Run by the image's Dockerfile, as root, at build time only: build-images.mjs copies this script
# and the image folder's files into the build context as /tmp/coderoom-build/. Everything that
# would only make the image bigger (docs, man pages, locales, apt lists and caches) is kept out
# of the layer in this same step, because deleting it in a later layer would not shrink the image.
set -eu

BUILD=/tmp/coderoom-build
packages=$(sed 's/#.*//' "$BUILD/packages.txt" | tr -s ' \t\n' '   ')
packages=${packages# }

# dpkg does not even unpack these (the base rootfs was pruned of the same paths).
cat > /etc/dpkg/dpkg.cfg.d/coderoom-nodoc <<'CFG'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/locale/*
CFG
# Some maintainer scripts (OpenJDK's update-alternatives) link man pages into man1.
mkdir -p /usr/share/man/man1

export DEBIAN_FRONTEND=noninteractive
if [ -n "$packages" ]; then
  apt-get -o Acquire::Languages=none -o Acquire::Retries=3 update
  # shellcheck disable=SC2086 # one word per package
  apt-get -o Acquire::Retries=3 install -y --no-install-recommends $packages
  apt-get clean
fi

# npm packages fetched by build-images.mjs (npm-packages.txt -> npm/*.tgz): each unpacked under
# /usr/local/lib/node_modules/<its name>, owned by root.
for tgz in "$BUILD"/npm/*.tgz; do
  [ -e "$tgz" ] || continue
  tmp=$(mktemp -d)
  # The top folder is "package" in most tarballs, not all (@types/*: "node"): strip it.
  tar -xzf "$tgz" -C "$tmp" --no-same-owner --strip-components=1
  name=$(node -p "require('$tmp/package.json').name")
  mkdir -p "/usr/local/lib/node_modules/$name"
  cp -a "$tmp/." "/usr/local/lib/node_modules/$name/"
  chmod -R a+rX "/usr/local/lib/node_modules/$name"
  rm -rf "$tmp"
done

rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/* \
  /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/lintian/* "$BUILD"
# Same hardening as the base image: no setuid/setgid binaries from the new packages either.
find / -xdev -perm /6000 -type f -exec chmod a-s {} +
