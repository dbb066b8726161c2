#!/bin/sh
# meson install: copies the built pages (build/web) to $DESTDIR$prefix/$1.
set -eu
dest="${MESON_INSTALL_DESTDIR_PREFIX}/$1"
src="${MESON_BUILD_ROOT}/web"
mkdir -p "$dest/assets"
for f in "$src"/*.html "$src"/*.html.gz "$src"/*.svg "$src"/*.svg.gz "$src"/manifest.json "$src"/manifest.json.gz; do
	[ -f "$f" ] && install -m 0644 "$f" "$dest/"
done
for f in "$src"/assets/*; do
	install -m 0644 "$f" "$dest/assets/"
done
