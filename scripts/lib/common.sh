# shellcheck shell=bash
# Shared helpers for scripts/services.sh: logging, ports, pids, daemons.
# Sourced, not executed. Expects STATE_DIR to be set by the caller.

log() { printf '[services] %s\n' "$*" >&2; }

# die SERVICE MESSAGE [LOGFILE...]: print an error naming the service (and the
# tail of each non-empty log given) and exit non-zero.
die() {
    local service=$1 msg=$2 logfile
    shift 2
    printf '[services] ERROR (%s): %s\n' "$service" "$msg" >&2
    for logfile in "$@"; do
        [[ -s $logfile ]] || continue
        printf '[services] --- last 30 lines of %s ---\n' "$logfile" >&2
        tail -n 30 "$logfile" | sed 's/^/[services] | /' >&2
    done
    exit 1
}

# port_answers PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_answers() {
    # shellcheck disable=SC2016  # $1 expands in the inner shell
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# free_ports N: print N distinct currently-free TCP ports on 127.0.0.1.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Ports are chosen once and remembered in $STATE_DIR/ports.env.
# port_for NAME: the port for NAME (KAFKA, KAFKA_CONTROLLER, PG, S3).
# Precedence: BILLABONG_<NAME>_PORT, then the remembered port, then a free one.
assign_ports() {
    local file=$STATE_DIR/ports.env name override remembered
    local -a fresh
    read -r -a fresh <<<"$(free_ports 4)"
    local i=0 tmp
    tmp=$(mktemp "$file.XXXXXX")
    for name in KAFKA KAFKA_CONTROLLER PG S3; do
        override=$(printenv "BILLABONG_${name}_PORT" || true)
        remembered=$(sed -n "s/^${name}_PORT=//p" "$file" 2>/dev/null || true)
        printf '%s_PORT=%s\n' "$name" "${override:-${remembered:-${fresh[$i]}}}" >>"$tmp"
        i=$((i + 1))
    done
    mv "$tmp" "$file"
}
port_for() { sed -n "s/^$1_PORT=//p" "$STATE_DIR/ports.env"; }

# pid_alive PIDFILE MARKER: true if the pid in PIDFILE runs and its command
# line contains MARKER (guards against a recycled pid after a reboot).
pid_alive() {
    local pidfile=$1 marker=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# spawn PIDFILE LOGFILE CMD...: start CMD detached (own session, stdin from
# /dev/null, output to LOGFILE) and record its pid in PIDFILE.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    rm -f "$pidfile"
    # The child writes its own pid, then execs, so the pid is the daemon's.
    # shellcheck disable=SC2016  # $$, $0 and $@ expand in the inner shell
    # 8>&- 9>&-: the daemon must not inherit (and so hold forever) our locks.
    setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
        </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
    local i
    for i in $(seq 50); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
    return 1
}

# wait_for_port SERVICE PORT PIDFILE MARKER TIMEOUT LOGFILE...: wait until PORT
# answers; fail early (naming SERVICE, showing the logs) if the process dies.
wait_for_port() {
    local service=$1 port=$2 pidfile=$3 marker=$4 timeout=$5
    shift 5
    local deadline=$((SECONDS + timeout))
    until port_answers "$port"; do
        # Checked twice: while the child execs, /proc/PID/cmdline can read
        # empty for an instant, which once failed a CI run with a healthy
        # versitygw.
        pid_alive "$pidfile" "$marker" || { sleep 0.5; pid_alive "$pidfile" "$marker"; } ||
            die "$service" "process exited during start-up" "$@"
        ((SECONDS < deadline)) || die "$service" "port $port did not answer within ${timeout}s" "$@"
        sleep 0.2
    done
}

# stop_pid SERVICE PIDFILE MARKER: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
    local service=$1 pidfile=$2 marker=$3 pid i
    if ! pid_alive "$pidfile" "$marker"; then
        rm -f "$pidfile"
        log "$service: not running"
        return 0
    fi
    pid=$(<"$pidfile")
    log "$service: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$service: still alive after 15 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# Locks: fd 8 = this clone's state dir (held by up/down), fd 9 = tools dir.
# Anything that may leave a daemon behind must close both (see spawn, as_pg).

# with_tools_lock CMD...: run CMD holding an exclusive lock on the tools dir,
# so two clones running `up` at once do not install the same tool twice.
with_tools_lock() {
    mkdir -p "$TOOLS_DIR"
    (
        flock 9
        "$@"
    ) 9>"$TOOLS_DIR/.install.lock"
}
