#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local services for billabong's tests and demos, all on 127.0.0.1:
#   kafka     Apache Kafka 4.4.0, single KRaft node     (scripts/lib/kafka.sh)
#   postgres  PostgreSQL 15, private cluster            (scripts/lib/postgres.sh)
#   s3        Versity S3 Gateway v1.8.0, bucket billabong (scripts/lib/s3.sh)
#
# Usage: scripts/services.sh up | down [--wipe] | status | env
#   up      install what is missing, start what is not running, wait until each
#           answers, write .services.env (KEY=VALUE) at the repo root. Idempotent.
#   down    stop what `up` started (data is kept); --wipe also deletes the state dir.
#   status  print each service's pid, port and up/down.
#   env     print the path of .services.env; fails unless all services are up.
#
# Environment:
#   BILLABONG_TOOLS_DIR   installed tools, shared by clones (default /var/tmp/billabong/tools)
#   BILLABONG_STATE_DIR   data, logs, pids of this clone (default /var/tmp/billabong/run-<hash of repo path>)
#   BILLABONG_KAFKA_PORT, BILLABONG_PG_PORT, BILLABONG_S3_PORT
#                         fixed ports; otherwise free ports are picked at the first
#                         `up` and remembered in $BILLABONG_STATE_DIR/ports.env
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
LIB_DIR=$SCRIPT_DIR/lib
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd -P)
ENV_FILE=$REPO_ROOT/.services.env

repo_hash=$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-8)
TOOLS_DIR=${BILLABONG_TOOLS_DIR:-/var/tmp/billabong/tools}
STATE_DIR=${BILLABONG_STATE_DIR:-/var/tmp/billabong/run-$repo_hash}

# shellcheck source=lib/common.sh
source "$LIB_DIR/common.sh"
# shellcheck source=lib/kafka.sh
source "$LIB_DIR/kafka.sh"
# shellcheck source=lib/postgres.sh
source "$LIB_DIR/postgres.sh"
# shellcheck source=lib/s3.sh
source "$LIB_DIR/s3.sh"

# .services.env is KEY=VALUE without quotes, so paths must not contain blanks.
[[ $TOOLS_DIR$STATE_DIR =~ [[:space:]] ]] &&
    die services "BILLABONG_TOOLS_DIR / BILLABONG_STATE_DIR must not contain whitespace"

write_env_file() {
    local tmp
    tmp=$(mktemp "$ENV_FILE.XXXXXX")
    cat >"$tmp" <<ENV
# Written by scripts/services.sh up; removed by scripts/services.sh down.
BILLABONG_BROKERS=127.0.0.1:$(port_for KAFKA)
BILLABONG_POSTGRES_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$(port_for PG)/$PG_DB
BILLABONG_LAKE=s3://$S3_BUCKET/lake
BILLABONG_S3_BUCKET=$S3_BUCKET
AWS_ENDPOINT_URL=http://127.0.0.1:$(port_for S3)
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
AWS_REGION=us-east-1
AWS_ALLOW_HTTP=true
AWS_COPY_IF_NOT_EXISTS=multipart
BILLABONG_STATE_DIR=$STATE_DIR
BILLABONG_KAFKA_LOG=$KAFKA_LOG
BILLABONG_KAFKA_LIBS=$KAFKA_HOME/libs
BILLABONG_POSTGRES_LOG=$PG_LOG
BILLABONG_S3_LOG=$S3_LOG
ENV
    chmod 644 "$tmp"
    mv "$tmp" "$ENV_FILE"
}

# Serialise up/down of this clone (two terminals running `up` at once).
lock_state_dir() {
    mkdir -p "$STATE_DIR"
    exec 8>"$STATE_DIR/.lock"
    flock 8
}

cmd_up() {
    local start=$SECONDS
    lock_state_dir
    log "state dir $STATE_DIR, tools dir $TOOLS_DIR"
    assign_ports
    kafka_up
    pg_up
    s3_up
    write_env_file
    log "all services up in $((SECONDS - start)) s; settings in $ENV_FILE"
}

cmd_down() {
    local wipe=${1:-}
    [[ -z $wipe || $wipe == --wipe ]] || die services "unknown option for down: $wipe"
    lock_state_dir
    rm -f "$ENV_FILE"
    kafka_down
    pg_down
    s3_down
    if [[ $wipe == --wipe ]]; then
        log "deleting $STATE_DIR"
        rm -rf "$STATE_DIR"
    fi
}

# status_line NAME PID PORT: print one line, return 1 if the service is down.
status_line() {
    local name=$1 pid=$2 port=$3 state=down
    [[ -n $pid && -n $port ]] && port_answers "$port" && state=up
    printf '%-9s pid %-8s port %-6s %s\n' "$name" "${pid:--}" "${port:--}" "$state"
    [[ $state == up ]]
}

cmd_status() {
    local ok=0 pid
    [[ -f $STATE_DIR/ports.env ]] || { echo "no services set up yet (state dir $STATE_DIR)"; return 1; }
    pid=
    if kafka_running; then pid=$(<"$KAFKA_PID"); fi
    status_line kafka "$pid" "$(port_for KAFKA)" || ok=1
    pid=
    if pg_running; then pid=$(head -n1 "$PG_DATA/postmaster.pid"); fi
    status_line postgres "$pid" "$(port_for PG)" || ok=1
    pid=
    if s3_running; then pid=$(<"$S3_PID"); fi
    status_line s3 "$pid" "$(port_for S3)" || ok=1
    echo "state dir: $STATE_DIR"
    return "$ok"
}

cmd_env() {
    [[ -f $ENV_FILE ]] || die services "$ENV_FILE missing: run scripts/services.sh up"
    cmd_status >/dev/null || die services "not all services are up: run scripts/services.sh up"
    echo "$ENV_FILE"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down "${2:-}" ;;
status) cmd_status ;;
env) cmd_env ;;
*)
    sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
