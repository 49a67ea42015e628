#!/usr/bin/env bash
# Re-creates the dashboard's vendored third-party files from npm:
#   serving/assets/vendor/plotly.min.js   plotly.js-dist-min's bundle, byte for byte
#   serving/assets/vendor/plotly.LICENSE  its MIT licence
#   serving/assets/vendor/world_110m.json the world topojson plotly's geo maps draw,
#                                         taken from plotly.js's dist/plotly-geo-assets.js
# The versions and sha512 integrities are the ones in scripts/vendor/package-lock.json;
# a tarball whose digest differs is rejected. The files are committed, so building
# needs no network; this script is only for upgrades (edit package.json, run
# `npm install --package-lock-only --ignore-scripts` in scripts/vendor, then this) and
# for audits: `--check` fails when the committed files differ from what npm serves.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
LOCK=$REPO_ROOT/scripts/vendor/package-lock.json
OUT=$REPO_ROOT/serving/assets/vendor
check=false
[[ ${1:-} == --check ]] && check=true

die() { printf '[vendor] ERROR: %s\n' "$*" >&2; exit 1; }
command -v npm >/dev/null || die "npm is missing (apt-get install npm)"
command -v openssl >/dev/null || die "openssl is missing"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Downloads NAME at the locked version into $work/NAME and checks its integrity.
fetch() {
    local name=$1 version integrity tarball actual
    read -r version integrity < <(node -e '
        const p = require(process.argv[1]).packages["node_modules/" + process.argv[2]];
        if (!p) { console.error("not in the lock: " + process.argv[2]); process.exit(1); }
        console.log(p.version, p.integrity);' "$LOCK" "$name")
    [[ $integrity == sha512-* ]] || die "$name: the lock has no sha512 integrity"
    tarball=$(cd "$work" && npm pack --silent "$name@$version" 2>/dev/null | tail -1)
    actual=sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)
    [[ $actual == "$integrity" ]] || die "$name@$version: integrity $actual, the lock says $integrity"
    mkdir -p "$work/$name"
    tar xzf "$work/$tarball" -C "$work/$name"
    printf '[vendor] %s@%s integrity ok\n' "$name" "$version" >&2
}

fetch plotly.js-dist-min
fetch plotly.js
mkdir -p "$work/out"
cp "$work/plotly.js-dist-min/package/plotly.min.js" "$work/out/plotly.min.js"
cp "$work/plotly.js-dist-min/package/LICENSE" "$work/out/plotly.LICENSE"
# The geo assets bundle is a UMD script that needs a `window`; its world_110m
# is the exact object plotly would fetch from its CDN.
node -e '
    global.window = global;
    const assets = require(process.argv[1]);
    process.stdout.write(JSON.stringify(assets.topojson.world_110m));' \
    "$work/plotly.js/package/dist/plotly-geo-assets.js" >"$work/out/world_110m.json"

status=0
for f in plotly.min.js plotly.LICENSE world_110m.json; do
    if $check; then
        cmp -s "$work/out/$f" "$OUT/$f" || { printf '[vendor] %s differs from npm\n' "$f" >&2; status=1; }
    else
        cp "$work/out/$f" "$OUT/$f"
        printf '[vendor] wrote serving/assets/vendor/%s (%s bytes)\n' "$f" "$(wc -c <"$OUT/$f")" >&2
    fi
done
exit $status
