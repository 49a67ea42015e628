#!/usr/bin/env bash
# The whole test suite, from a bare machine to a verdict:
#   1. build prerequisites (libcurl headers for rdkafka's bundled librdkafka),
#   2. the real services (scripts/services.sh up: Kafka, PostgreSQL, S3),
#   3. rustfmt, clippy -D warnings, cargo test --workspace,
#   4. the dashboard in headless Chromium (scripts/browser-test.sh).
# Tests that need a service fail (never skip) when it is absent.
#
# Environment:
#   CARGO_TARGET_DIR        build output, kept outside the clone so reruns are
#                           incremental (default /var/tmp/billabong-target)
#   BILLABONG_SHARED_DATA   the real recorded data (default ../shared/data)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO_ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/billabong-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

log() { printf '[test] %s\n' "$*" >&2; }
die() { printf '[test] ERROR: %s\n' "$*" >&2; exit 1; }

started=$SECONDS
step() {
    local name=$1 t0=$SECONDS
    shift
    log "$name ..."
    "$@" || die "$name failed"
    log "$name done in $((SECONDS - t0)) s"
}

# rdkafka's cmake build of librdkafka 2.12 includes curl/curl.h even though
# nothing links curl (../shared/ENVIRONMENT.md); cmake and a C++ compiler too.
ensure_build_deps() {
    local missing=()
    compgen -G '/usr/include/*/curl/curl.h' >/dev/null ||
        [[ -f /usr/include/curl/curl.h ]] || missing+=(libcurl4-openssl-dev)
    command -v cmake >/dev/null || missing+=(cmake)
    command -v g++ >/dev/null || missing+=(g++)
    ((${#missing[@]} == 0)) && return 0
    ((EUID == 0)) || die "missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    log "installing ${missing[*]} with apt"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_shared_data() {
    local dir=${BILLABONG_SHARED_DATA:-$REPO_ROOT/../shared/data}
    [[ -d $dir/meetup-rsvps && -d $dir/race ]] ||
        die "real data not found at $dir: clone beside shared/, or set BILLABONG_SHARED_DATA"
}

step "build prerequisites" ensure_build_deps
step "real data" ensure_shared_data
step "services" scripts/services.sh up
step "rustfmt" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "tests" cargo test --workspace --locked
step "browser test" scripts/browser-test.sh
log "all passed in $((SECONDS - started)) s"
