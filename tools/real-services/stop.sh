#!/usr/bin/env bash
# Stop the Keystone and Glance that start.sh started, and check that nothing is left behind.
#
#   tools/real-services/stop.sh [STATE_DIR]
#
# STATE_DIR defaults to $CLOUDKIT_REAL_STATE, else to the last one start.sh used ($CLOUDKIT_REAL_HOME/last-state).
# Only the processes named in STATE_DIR/*/server.pid are signalled (each gunicorn master leads its own
# process group, so its workers go with it): SIGTERM, then SIGKILL after 15 s. Exits non-zero if a server
# process or one of the two ports is still there afterwards. The state dir and its logs are kept.
set -euo pipefail

real_home=${CLOUDKIT_REAL_HOME:-$HOME/.cache/cloudkit-real}
state=${1:-${CLOUDKIT_REAL_STATE:-}}
if [[ -z $state && -f $real_home/last-state ]]; then
    state=$(cat "$real_home/last-state")
fi
[[ -n $state ]] || { echo "stop: no state dir given and none recorded" >&2; exit 2; }
[[ -f $state/.cloudkit-real ]] || { echo "stop: $state is not a start.sh state dir" >&2; exit 2; }
state=$(cd "$state" && pwd)

# A pid file may outlive its process and the number be reused: only signal a gunicorn whose working
# directory is this state dir's (gunicorn --chdir). The command line is no use for that: Glance renames
# its processes ("gunicorn: master [...]") through setproctitle.
ours() { # pid [name]
    local comm cwd
    comm=$(cat 2>/dev/null "/proc/$1/comm") || return 1
    cwd=$(readlink 2>/dev/null "/proc/$1/cwd") || return 1
    [[ $comm == gunicorn* && $cwd == "$state/${2:-}"* ]]
}
group_alive() { kill -0 -- "-$1" 2>/dev/null; }
# Signal the group when the master leads one (start.sh's setsid), else the master alone.
signal() {
    local stat pgid
    stat=$(cat 2>/dev/null "/proc/$2/stat") || return 0
    # fields after "(comm)": state ppid pgrp ... (comm may hold spaces: "gunicorn: master")
    read -r _ _ pgid _ <<<"${stat##*) }"
    if [[ $pgid == "$2" ]]; then
        kill "-$1" -- "-$2" 2>/dev/null || true
    else
        kill "-$1" "$2" 2>/dev/null || true
    fi
}

declare -A pids=()
for name in glance keystone; do
    pidfile=$state/$name/server.pid
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    if ours "$pid" "$name"; then
        pids[$name]=$pid
        signal TERM "$pid"
    else
        echo "stop: $name (pid $pid) is not running"
        rm -f "$pidfile"
    fi
done

for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    for _ in $(seq 1 150); do
        { kill -0 "$pid" 2>/dev/null || group_alive "$pid"; } || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null || group_alive "$pid"; then
        echo "stop: $name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
        # The group id is the master's pid (setsid); it stays taken while any member lives, even if the
        # master is gone, so this reaches orphaned workers and nothing else.
        kill -KILL -- "-$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    if kill -0 "$pid" 2>/dev/null || group_alive "$pid"; then
        echo "stop: $name (pid $pid) is still there" >&2
    else
        echo "stop: $name (pid $pid) stopped"
        rm -f "$state/$name/server.pid"
    fi
done

# Any gunicorn still working in this state dir (say a worker whose master was killed from outside) is
# ended by its pid.
scan() {
    leftovers=()
    local d
    for d in /proc/[0-9]*; do
        if ours "${d#/proc/}"; then
            leftovers+=("${d#/proc/}")
        fi
    done
}
scan
if [[ ${#leftovers[@]} -gt 0 ]]; then
    echo "stop: killing leftover gunicorn processes of $state: ${leftovers[*]}" >&2
    kill -KILL "${leftovers[@]}" 2>/dev/null || true
    sleep 0.5
    scan
fi

# Verify: no process of ours, nothing listening on the ports.
left=0
if [[ ${#leftovers[@]} -gt 0 ]]; then
    echo "stop: gunicorn processes of $state remain: ${leftovers[*]}" >&2
    left=1
fi
for name in glance keystone; do
    if [[ -f $state/$name/server.pid ]]; then
        left=1
    fi
    port=$(cat "$state/$name/port" 2>/dev/null || true)
    if [[ -n $port ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "stop: something still listens on 127.0.0.1:$port: $(ss -Hltnp "sport = :$port" 2>/dev/null | tr -s ' ')" >&2
        left=1
    fi
done
[[ $left == 0 ]] || exit 1
echo "stop: nothing left running for $state"
