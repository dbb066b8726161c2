#!/bin/sh
# scripts/check-layering on small trees: each forbidden include (also
# written with "../") fails the gate, and a clean tree passes.
set -u
script=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

check() {
	want=$1 file=$2 text=$3
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t/common" "$tmp/t/daemon" "$tmp/t/cli"
	git -C "$tmp/t" init -q
	echo '#include "buf.h"' >"$tmp/t/common/ok.c"
	mkdir -p "$(dirname "$tmp/t/$file")"
	printf '%s\n' "$text" >"$tmp/t/$file"
	git -C "$tmp/t" add -A
	if TRHUB_CHECK_ROOT="$tmp/t" sh "$script" >/dev/null 2>&1; then got=pass; else got=fail; fi
	if [ "$got" != "$want" ]; then
		echo "not ok: $file with '$text': expected $want, got $got"
		status=1
	else
		echo "ok: $file with '$text': $got"
	fi
}

check pass common/a.c '#include "json.h"'
check fail common/a.c '#include "../daemon/model.h"'
check fail common/a.c '#include "daemon/model.h"'
check fail common/a.h '#include "../../tests/sim/sim.h"'
check fail cli/a.c '#include "../daemon/model.h"'
check fail daemon/a.c '#include "../cli/cli.h"'
check fail cli/a.c '#include <curl/curl.h>'
check fail daemon/a.c '#include <systemd/sd-daemon.h>'
check pass common/sd.c '#include <systemd/sd-daemon.h>'
exit $status
