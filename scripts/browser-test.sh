#!/usr/bin/env bash
# The dashboard's browser test: a small real pipeline on the running services
# (produce → sink → batch → stream → serve, on topics, a lake prefix and a
# database of its own), then scripts/browser/dashboard.test.mjs in headless
# Chromium: every chart has data at desktop and phone widths, a live update
# arrives while records are produced, no console errors, nothing fetched from
# outside the server. Screenshots: target/browser/dashboard-{desktop,phone}.png.
#
# Installs what is missing (Debian chromium via apt, playwright-core via npm ci
# from scripts/browser/package-lock.json); fails, never skips, when something
# cannot be had. Called by scripts/test.sh after the cargo tests.
#
# Environment:
#   CARGO_TARGET_DIR        where `billabong` is built (debug profile)
#   BILLABONG_SHARED_DATA   the real recorded data (default ../shared/data)
#   BILLABONG_BROKERS, BILLABONG_POSTGRES_URL, BILLABONG_LAKE, AWS_*
#                           the services (default: read from .services.env)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO_ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/billabong-target}
DATA=${BILLABONG_SHARED_DATA:-$REPO_ROOT/../shared/data}
OUT=$REPO_ROOT/target/browser
RUN_DIR=$OUT/run
started=$SECONDS

log() { printf '[browser-test %3d s] %s\n' "$((SECONDS - started))" "$*" >&2; }
die() {
    printf '[browser-test] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---- prerequisites -----------------------------------------------------------
ensure_tools() {
    command -v node >/dev/null && command -v npm >/dev/null ||
        die "node and npm are missing: apt-get install -y nodejs npm"
    if ! command -v chromium >/dev/null; then
        ((EUID == 0)) || die "chromium is missing; run: sudo apt-get install -y chromium"
        log "installing chromium with apt"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
            die "apt-get install chromium failed"
    fi
    local want have
    want=$(node -p 'require("./scripts/browser/package-lock.json").packages["node_modules/playwright-core"].version')
    have=$(node -p 'require("./scripts/browser/node_modules/playwright-core/package.json").version' 2>/dev/null || true)
    if [[ $want != "$have" ]]; then
        log "npm ci (playwright-core)"
        (cd scripts/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
            die "npm ci in scripts/browser failed"
    fi
}

load_services() {
    if [[ -z ${BILLABONG_BROKERS:-} && -f $REPO_ROOT/.services.env ]]; then
        set -a
        # shellcheck disable=SC1091
        . "$REPO_ROOT/.services.env"
        set +a
    fi
    local v
    for v in BILLABONG_BROKERS BILLABONG_POSTGRES_URL BILLABONG_LAKE; do
        [[ -n ${!v:-} ]] || die "$v is not set and .services.env is absent: run scripts/services.sh up"
    done
    command -v psql >/dev/null || die "psql is missing (apt-get install -y postgresql-client)"
    psql -q "$BILLABONG_POSTGRES_URL" -c 'SELECT 1' >/dev/null || die "PostgreSQL does not answer"
    [[ -f $DATA/meetup-rsvps/javadbayzavi-meetup_rsvp_stream-2017-03.jsonl && -d $DATA/race ]] ||
        die "real data not found at $DATA: clone beside shared/, or set BILLABONG_SHARED_DATA"
}

# ---- the pipeline ----------------------------------------------------------------
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Splits the real data: part 1 is in Kafka before the batch run, part 2 is
# produced while the page is open. The race is the feed's first race, cut at
# 60 % of its events.
split_data() {
    "$BIN" race-feed --data "$DATA/race" --dataset fia -o "$RUN_DIR/race-all.jsonl" >/dev/null
    node - "$RUN_DIR" "$DATA/meetup-rsvps/javadbayzavi-meetup_rsvp_stream-2017-03.jsonl" <<'EOF'
const fs = require('fs');
const [dir, rsvpFile] = process.argv.slice(2);
const rsvps = fs.readFileSync(rsvpFile, 'utf8').split('\n').filter(Boolean);
const cut = 1200;
fs.writeFileSync(`${dir}/rsvps-1.jsonl`, rsvps.slice(0, cut).join('\n') + '\n');
fs.writeFileSync(`${dir}/rsvps-2.jsonl`, rsvps.slice(cut).join('\n') + '\n');
const race = fs.readFileSync(`${dir}/race-all.jsonl`, 'utf8').split('\n').filter(Boolean);
const first = JSON.parse(race[0]).race_id;
const events = race.filter((l) => JSON.parse(l).race_id === first);
const at = Math.floor(events.length * 0.6);
fs.writeFileSync(`${dir}/race-1.jsonl`, events.slice(0, at).join('\n') + '\n');
fs.writeFileSync(`${dir}/race-2.jsonl`, events.slice(at).join('\n') + '\n');
console.error(`race ${first}: ${at} + ${events.length - at} events; rsvps ${cut} + ${rsvps.length - cut}`);
EOF
}

produce() { # FEED FILE TOPIC PARTITIONS
    "$BIN" produce --feed "$1" --source "file:$2" --topic "$3" --partitions "$4" \
        --dlq-topic "$T_DLQ" >>"$RUN_DIR/produce.out" 2>>"$RUN_DIR/produce.err" ||
        die "produce $2 failed: see $RUN_DIR/produce.err"
}

# Lands part 1 in the lake: the sink runs until it has read every record,
# then commits its open batches on SIGTERM.
sink_part_one() {
    local port want got=0 deadline=$((SECONDS + 120))
    port=$(free_port)
    want=$(($(wc -l <"$RUN_DIR/rsvps-1.jsonl") + $(wc -l <"$RUN_DIR/race-1.jsonl")))
    "$BIN" sink --lake "$LAKE" --topics "$T_RSVPS=rsvps,$T_RACE=race" --group-id "$RUN-sink" \
        --dlq-topic "$T_DLQ" --roll-secs 1 --metrics-addr "127.0.0.1:$port" \
        >"$RUN_DIR/sink.out" 2>"$RUN_DIR/sink.err" &
    local pid=$!
    while ((got < want)); do
        ((SECONDS < deadline)) || die "the sink read $got of $want records in 120 s: see $RUN_DIR/sink.err"
        sleep 1
        got=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
            awk '/^billabong_sink_records_total/ {s += $NF} END {print s + 0}')
    done
    kill -TERM "$pid"
    wait "$pid" || die "the sink failed: see $RUN_DIR/sink.err"
    log "sink: $(cat "$RUN_DIR/sink.out")"
}

wait_for() { # WHAT SECONDS COMMAND...
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "timed out waiting for $what"
        sleep 0.5
    done
}

served_run_is_one() {
    curl -fsS "$URL/api/views/view_rsvps_country_hour" | grep -q '"batch_run_id":1'
}

main() {
    ensure_tools
    load_services
    command -v curl >/dev/null || die "curl is missing"
    log "building billabong"
    cargo build -q -p billabong-cli || die "cargo build failed"
    BIN=$CARGO_TARGET_DIR/debug/billabong
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR"

    RUN=browser-$(date +%s)-$$
    T_RSVPS=$RUN.rsvps T_RACE=$RUN.race T_METRICS=$RUN.metrics T_DLQ=$RUN.dlq T_RUNS=$RUN.runs
    LAKE=${BILLABONG_LAKE%/}-browser/$RUN
    local db=${RUN//[-.]/_}
    psql -q "$BILLABONG_POSTGRES_URL" -c "CREATE DATABASE $db" || die "CREATE DATABASE failed"
    DB=${BILLABONG_POSTGRES_URL%/*}/$db
    log "run $RUN: lake $LAKE, database $db"

    split_data
    # One RSVP partition: the speed layer's RSVP metrics are per-partition
    # partials under one key, and /api/live keeps one value per key (the last
    # partition's), so only with one partition are the live RSVP numbers the
    # page shows (per-minute rate, model accuracy, 5-min topics) whole.
    produce rsvps "$RUN_DIR/rsvps-1.jsonl" "$T_RSVPS" 1
    produce race "$RUN_DIR/race-1.jsonl" "$T_RACE" 2
    log "part 1 produced"

    "$BIN" stream --group "$RUN-stream" --start earliest --rsvps-topic "$T_RSVPS" --race-topic "$T_RACE" \
        --metrics-topic "$T_METRICS" --dlq-topic "$T_DLQ" --runs-topic "$T_RUNS" --lake "$LAKE" \
        --model-poll 1s >"$RUN_DIR/stream.out" 2>"$RUN_DIR/stream.err" &
    PIDS+=($!)

    sink_part_one
    "$BIN" batch --lake "$LAKE" --postgres "$DB" --brokers "$BILLABONG_BROKERS" --train \
        --rsvps-topic "$T_RSVPS" --race-topic "$T_RACE" --runs-topic "$T_RUNS" \
        >"$RUN_DIR/batch.out" 2>"$RUN_DIR/batch.err" || die "batch failed: see $RUN_DIR/batch.err"
    log "batch run done"

    "$BIN" serve --postgres "$DB" --lake "$LAKE" --listen 127.0.0.1:0 --metrics-topic "$T_METRICS" --batch-poll 1s \
        >"$RUN_DIR/serve.out" 2>"$RUN_DIR/serve.err" &
    PIDS+=($!)
    wait_for "serve to print its address" 30 grep -q '^http://' "$RUN_DIR/serve.out"
    URL=$(grep -m1 '^http://' "$RUN_DIR/serve.out")
    URL=${URL%/}
    wait_for "serve to be ready" 120 curl -fsS "$URL/ready"
    wait_for "serve to hand over to batch run 1" 120 served_run_is_one
    log "serving $URL (batch run 1 ⊕ live generation 1)"

    cat >"$RUN_DIR/produce-more.sh" <<EOF
set -e
"$BIN" produce --feed rsvps --source "file:$RUN_DIR/rsvps-2.jsonl" --topic "$T_RSVPS" --dlq-topic "$T_DLQ" >>"$RUN_DIR/produce.out" 2>>"$RUN_DIR/produce.err"
"$BIN" produce --feed race --source "file:$RUN_DIR/race-2.jsonl" --topic "$T_RACE" --dlq-topic "$T_DLQ" >>"$RUN_DIR/produce.out" 2>>"$RUN_DIR/produce.err"
EOF
    DASHBOARD_URL=$URL/ OUT_DIR=$OUT PRODUCE_MORE=$RUN_DIR/produce-more.sh CHROMIUM=$(command -v chromium) \
        node scripts/browser/dashboard.test.mjs || die "the dashboard test failed (logs in $RUN_DIR)"
    log "passed"
}

main "$@"
