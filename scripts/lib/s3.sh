# shellcheck shell=bash
# S3: Versity S3 Gateway v1.8.0 serving a directory (posix backend). A bucket
# is a top-level directory under the data dir. Built from source with `go install`.

VERSITYGW_VERSION=v1.8.0
VERSITYGW_HOME=$TOOLS_DIR/versitygw-$VERSITYGW_VERSION
VERSITYGW_BIN=$VERSITYGW_HOME/bin/versitygw
S3_DIR=$STATE_DIR/s3
S3_DATA=$S3_DIR/data            # buckets live here
S3_SIDECAR=$S3_DIR/sidecar      # metadata, only if the filesystem lacks user xattrs
S3_PID=$S3_DIR/versitygw.pid
S3_LOG=$S3_DIR/versitygw.log
S3_BUCKET=billabong
S3_ACCESS_KEY=billabong
S3_SECRET_KEY=billabong-secret

s3_install() {
    [[ -f $VERSITYGW_HOME/.installed ]] && return 0
    command -v go >/dev/null || die s3 "go not found (needed to build versitygw)"
    log "s3: building versitygw $VERSITYGW_VERSION with go install (about 2 min)"
    local tmp=$VERSITYGW_HOME.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    GOBIN=$tmp/bin GOPATH=$tmp/gopath GOCACHE=$tmp/gocache GOTOOLCHAIN=local \
        GOFLAGS=-buildvcs=false \
        go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" \
        >"$tmp/go-install.log" 2>&1 || die s3 "go install versitygw failed" "$tmp/go-install.log"
    # The module cache is read-only; drop it and the build cache (~0.85 GB).
    chmod -R u+w "$tmp/gopath"
    rm -rf "$tmp/gopath" "$tmp/gocache"
    rm -rf "$VERSITYGW_HOME"
    mv "$tmp" "$VERSITYGW_HOME"
    touch "$VERSITYGW_HOME/.installed"
}

s3_running() { pid_alive "$S3_PID" "$S3_DATA"; }

# True if the filesystem under DIR accepts user.* extended attributes.
has_user_xattrs() {
    python3 - "$1" <<'PY'
import os, sys, tempfile
with tempfile.NamedTemporaryFile(dir=sys.argv[1]) as f:
    try:
        os.setxattr(f.name, "user.billabong-test", b"1")
    except OSError:
        sys.exit(1)
PY
}

s3_up() {
    local port
    port=$(port_for S3)
    if s3_running; then
        wait_for_port s3 "$port" "$S3_PID" "$S3_DATA" 15 "$S3_LOG"
        log "s3: already running (pid $(<"$S3_PID"), port $port)"
        return 0
    fi
    port_answers "$port" && die s3 "port $port is taken by another process (set BILLABONG_S3_PORT, or delete $STATE_DIR/ports.env)"
    with_tools_lock s3_install
    mkdir -p "$S3_DATA/$S3_BUCKET"    # the bucket is just a directory
    local -a sidecar=()
    if ! has_user_xattrs "$S3_DATA"; then
        log "s3: $S3_DATA has no user xattrs, keeping metadata in $S3_SIDECAR"
        mkdir -p "$S3_SIDECAR"
        sidecar=(--sidecar "$S3_SIDECAR")
    fi
    log "s3: starting versitygw on 127.0.0.1:$port"
    spawn "$S3_PID" "$S3_LOG" "$VERSITYGW_BIN" \
        --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" \
        --port "127.0.0.1:$port" --region us-east-1 --keep-alive --quiet \
        posix "${sidecar[@]}" "$S3_DATA" || die s3 "could not start versitygw" "$S3_LOG"
    wait_for_port s3 "$port" "$S3_PID" "$S3_DATA" 15 "$S3_LOG"
    log "s3: up (pid $(<"$S3_PID"))"
}

s3_down() { stop_pid s3 "$S3_PID" "$S3_DATA"; }
