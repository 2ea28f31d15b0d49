# Sourced by .ci/run: the real servers the integration tests talk to.
#
# Each start_* function installs its server from Debian if it is missing,
# starts it in a private temporary directory on a free loopback port (the
# first free one from the port it is given), waits until it answers, and
# exports what the tests read:
#   start_redis PORT     VTHREADS_REDIS_PORT
#   start_postgres PORT  VTHREADS_PG_DSN     (trust auth, user postgres)
#   start_mariadb PORT   VTHREADS_MYSQL_DSN  (root, no password, db vthreads)
# Each one first registers how to stop what it is about to start, so that
# stop_servers -- .ci/run's EXIT trap -- stops everything that started,
# in reverse order, however the script ends (a start that fails halfway
# included).  Tests skip when their variable is unset.

_STOPS=()            # stop commands, in the order their servers started

stop_servers() {
    local i
    for ((i = ${#_STOPS[@]} - 1; i >= 0; i--)); do
        eval "${_STOPS[i]}" || true
    done
    _STOPS=()
}

_log() { echo "servers: $*" >&2; }

# The first port from $1 on which nothing listens on 127.0.0.1.
_free_port() {
    local port=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    echo "$port"
}

# Install Debian packages (also used by .ci/run for libpq).
apt_install() {
    _log "installing $* from Debian"
    if [ -z "${_APT_UPDATED:-}" ]; then
        apt-get update -qq && _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Run "$@" as user $1 when we are root (initdb refuses to run as root);
# as ourselves otherwise.
_as() {
    local user=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Send SIGTERM to the pid in file $1, wait up to 10 s, then SIGKILL.
_kill_pidfile() {
    local pid
    pid=$(head -n 1 "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# Wait up to 20 s for "$@" to succeed.
_wait_for() {
    for _ in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    "$@"
}

start_redis() {
    command -v redis-server >/dev/null || apt_install redis-server
    local port dir
    port=$(_free_port "$1")
    dir=$(mktemp -d /tmp/vthreads-redis.XXXXXX)
    _STOPS+=("_kill_pidfile $dir/redis.pid; rm -rf $dir")
    redis-server --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$dir" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    _wait_for redis-cli -p "$port" ping
    export VTHREADS_REDIS_PORT=$port
    _log "redis on 127.0.0.1:$port"
}

# The directory holding initdb, pg_ctl and postgres: the newest Debian
# PostgreSQL, or the one on PATH.
_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

start_postgres() {
    local bin port dir
    bin=$(_pg_bindir)
    if [ -z "$bin" ]; then
        # Debian's package would also create (and start) a cluster of its
        # own on 5432: these tests need only the binaries.
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" \
            >/etc/postgresql-common/createcluster.d/vthreads-ci.conf
        apt_install postgresql
        bin=$(_pg_bindir)
    fi
    [ -n "$bin" ] || { _log "no PostgreSQL binaries found"; return 1; }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    port=$(_free_port "$1")
    dir=$(mktemp -d /tmp/vthreads-pg.XXXXXX)
    _STOPS+=("_as postgres $bin/pg_ctl -D $dir/data -m immediate -w stop >/dev/null 2>&1 \
              || _kill_pidfile $dir/data/postmaster.pid; rm -rf $dir")
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    _as postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    # The socket goes in the private directory too: Debian's default,
    # /var/run/postgresql, may not exist or be writable.
    _as postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 20 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off \
            -c max_connections=200" start >/dev/null \
        || { cat "$dir/postgres.log" >&2; return 1; }
    export VTHREADS_PG_DSN="postgresql://postgres@127.0.0.1:$port/postgres"
    _log "PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port"
}

start_mariadb() {
    local server port dir user=()
    server=$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null) || true
    if [ -z "$server" ]; then
        apt_install mariadb-server
        server=$(command -v mariadbd || ls /usr/sbin/mariadbd)
    fi
    port=$(_free_port "$1")
    dir=$(mktemp -d /tmp/vthreads-mariadb.XXXXXX)
    # mariadbd runs in the foreground of a background job: $! is its pid.
    _STOPS+=("_kill_pidfile $dir/launch.pid; rm -rf $dir")
    if [ "$(id -u)" = 0 ]; then
        user=(--user=mysql)
        id mysql >/dev/null 2>&1 || \
            useradd --system --no-create-home --shell /usr/sbin/nologin mysql
        chown mysql "$dir"
    fi
    # "normal" root authentication: root, no password, from 127.0.0.1
    # too (Debian's default would be unix_socket only).
    mariadb-install-db --no-defaults --datadir="$dir/data" "${user[@]}" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; return 1; }
    "$server" --no-defaults --datadir="$dir/data" "${user[@]}" \
        --port="$port" --bind-address=127.0.0.1 --socket="$dir/mariadb.sock" \
        --pid-file="$dir/mariadb.pid" --log-error="$dir/mariadb.log" \
        --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=32M \
        --max-connections=300 &
    echo $! >"$dir/launch.pid"
    _wait_for mariadb-admin --no-defaults --socket="$dir/mariadb.sock" -uroot ping \
        || { cat "$dir/mariadb.log" >&2; return 1; }
    mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot \
        -e "CREATE DATABASE vthreads"
    export VTHREADS_MYSQL_DSN="mysql://root@127.0.0.1:$port/vthreads"
    _log "MariaDB ($("$server" --version | cut -d' ' -f2-4)) on 127.0.0.1:$port"
}
