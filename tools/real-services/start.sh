#!/usr/bin/env bash
# Start a real Keystone and a real Glance (PyPI releases, venvs from install.sh) on 127.0.0.1, seeded for
# cloudkit's live tests, and write an env file describing them.
#
#   tools/real-services/start.sh [STATE_DIR]      # STATE_DIR: a new temp dir if omitted
#   source STATE_DIR/env                          # exports CLOUDKIT_REAL_* (URLs, credentials, PIDs)
#   tools/real-services/stop.sh [STATE_DIR]
#
# Everything lives in STATE_DIR: configs, sqlite databases, fernet keys, image store, and every log
# (keystone/*.log, glance/*.log). A STATE_DIR from an earlier run is wiped and reused (if its servers are
# stopped); a non-empty directory that start.sh did not create is refused.
#
# Keystone: sqlite, fernet tokens, gunicorn (1 worker, 4 threads), bcrypt cost 4 (tests only),
# in-process dogpile cache. Glance: sqlite, file store, keystone auth, catalog entry `image` in RegionOne.
# Seeded: admin/$KS_ADMIN_PASSWORD in project admin (bootstrap); in domain Default, project alice with user
# portal/portal-pass (role member), project bob with user bob/bob-pass (role member); one image record
# without data (cloudkit-seed, owned by alice).
#
# env: CLOUDKIT_REAL_HOME (venvs, as for install.sh), KS_PORT (5000), GLANCE_PORT (9292),
#      KS_ADMIN_PASSWORD (secret), KS_TOKEN_EXPIRATION (3600; use 315360000 when recording cassettes),
#      CLOUDKIT_REAL_WAIT (seconds to wait for each server to answer, 60).
# On any failure the servers it started are stopped again and the log tails are printed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
real_home=${CLOUDKIT_REAL_HOME:-$HOME/.cache/cloudkit-real}
ks_venv=$real_home/keystone
gl_venv=$real_home/glance
ks_port=${KS_PORT:-5000}
gl_port=${GLANCE_PORT:-9292}
admin_pw=${KS_ADMIN_PASSWORD:-secret}
token_expiration=${KS_TOKEN_EXPIRATION:-3600}
wait_limit=${CLOUDKIT_REAL_WAIT:-60}
host=127.0.0.1
ks_url=http://$host:$ks_port/v3
gl_url=http://$host:$gl_port

die() { echo "start: ERROR: $*" >&2; exit 1; }
show_tails() { # files...: the last lines of each non-empty one, on stderr
    local f
    for f in "$@"; do
        if [[ -s $f ]]; then
            echo "---- tail of $f" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
}
fail() { # message files...
    local message=$1
    shift
    show_tails "$@"
    die "$message"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_all=$(now)
t_step=$t_all
step_done() { echo "start: $1 ($(since "$t_step") s)"; t_step=$(now); }

# ---- preconditions -------------------------------------------------------------------------------------
for v in "$ks_venv" "$gl_venv"; do
    [[ -x $v/bin/gunicorn ]] || die "no venv at $v: run tools/real-services/install.sh first"
done
for p in "$ks_port" "$gl_port"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
        die "not a TCP port: $p (KS_PORT / GLANCE_PORT)"
    fi
done
[[ $ks_port != "$gl_port" ]] || die "KS_PORT and GLANCE_PORT are both $ks_port"
[[ $token_expiration =~ ^[0-9]+$ ]] || die "KS_TOKEN_EXPIRATION must be a number of seconds, not $token_expiration"
listening() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }
for p in "$ks_port" "$gl_port"; do
    if listening "$p"; then
        die "something already listens on $host:$p ($(ss -Hltnp "sport = :$p" 2>/dev/null | tr -s ' ' | head -1)); stop it first (tools/real-services/stop.sh STATE_DIR)"
    fi
done

if [[ $# -ge 1 ]]; then
    state=$1
    mkdir -p "$state"
    if [[ -n $(ls -A "$state") ]]; then
        [[ -f $state/.cloudkit-real ]] || die "$state is not empty and was not made by start.sh; refusing to wipe it"
        for f in "$state"/*/server.pid; do
            if [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null; then
                die "servers of $state still run: tools/real-services/stop.sh $state"
            fi
        done
        find "$state" -mindepth 1 -delete
    fi
else
    state=$(mktemp -d "${TMPDIR:-/tmp}/cloudkit-real.XXXXXX")
fi
state=$(cd "$state" && pwd)
touch "$state/.cloudkit-real"
ks=$state/keystone
gl=$state/glance
mkdir -p "$ks" "$gl"/{images,staging,tasks}
printf '%s\n' "$ks_port" >"$ks/port"
printf '%s\n' "$gl_port" >"$gl/port"
printf '%s\n' "$state" >"$real_home/last-state"
echo "start: state in $state"

# From here on, a failure stops whatever was started and shows the logs.
started=0
helpers=() # background keystone-manage / glance-manage runs
on_exit() {
    local rc=$? pid
    if [[ $rc != 0 ]]; then
        for pid in "${helpers[@]}"; do
            kill "$pid" 2>/dev/null || true
        done
    fi
    if [[ $rc != 0 && $started == 1 ]]; then
        echo "start: failed; stopping what was started (logs stay in $state)" >&2
        bash "$here/stop.sh" "$state" >&2 || true
    fi
}
trap on_exit EXIT

# Every server and helper below runs with these; the eventlet deprecation warnings are noise here.
export PYTHONWARNINGS=ignore

# ---- configuration -------------------------------------------------------------------------------------
glance_pw=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

cat >"$ks/keystone.conf" <<EOF
[DEFAULT]
log_file = $ks/keystone.log
[database]
connection = sqlite:///$ks/keystone.db
[token]
provider = fernet
expiration = $token_expiration
[fernet_tokens]
key_repository = $ks/fernet-keys
[fernet_receipts]
key_repository = $ks/fernet-keys
[credential]
key_repository = $ks/credential-keys
[cache]
# In-process memory cache: ~5x faster authenticated requests; safe because there is one worker.
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt's minimum cost instead of 12: a password check takes ~ms instead of ~0.4 s. Test servers only.
password_hash_rounds = 4
# bcrypt's own limit: avoids the "Truncating password" warning on every hash.
max_password_length = 72
EOF

# keystone.wsgi.api builds the app at import and parses sys.argv then (oslo.config); under gunicorn that
# sees gunicorn's own options and every worker dies. Hide argv while importing.
cat >"$ks/keystone_wsgi.py" <<EOF
import os
import sys

os.environ["OS_KEYSTONE_CONFIG_DIR"] = "$ks"
_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from keystone.wsgi.api import application  # noqa: F401
finally:
    sys.argv = _argv
EOF

cp "$gl_venv/etc/glance/glance-api-paste.ini" "$gl/"
cat >"$gl/glance-api.conf" <<EOF
[DEFAULT]
log_file = $gl/glance-api.log
enabled_backends = fs:file
[database]
connection = sqlite:///$gl/glance.db
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $gl/images
[os_glance_staging_store]
filesystem_store_datadir = $gl/staging
[os_glance_tasks_store]
filesystem_store_datadir = $gl/tasks
[paste_deploy]
flavor = keystone
config_file = $gl/glance-api-paste.ini
[keystone_authtoken]
www_authenticate_uri = http://$host:$ks_port
auth_url = http://$host:$ks_port
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = glance
password = $glance_pw
EOF

# Fernet and credential key repositories, as `keystone-manage fernet_setup` / `credential_setup` leave
# them (key 0 staged, key 1 primary, dir 0700, files 0600), written directly: saves ~3.5 s of imports.
"$ks_venv/bin/python" - "$ks/fernet-keys" "$ks/credential-keys" <<'EOF'
import os
import sys

from cryptography.fernet import Fernet

for repo in sys.argv[1:]:
    os.mkdir(repo, 0o700)
    for name in ("0", "1"):
        fd = os.open(os.path.join(repo, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode())
EOF
step_done "configs and keys written"

# ---- databases (Glance's in the background, in parallel with Keystone's) -------------------------------
"$gl_venv/bin/glance-manage" --config-file "$gl/glance-api.conf" db_sync >"$gl/db_sync.log" 2>&1 &
gl_sync_pid=$!
helpers+=("$gl_sync_pid")

km=("$ks_venv/bin/keystone-manage" --config-file "$ks/keystone.conf")
"${km[@]}" db_sync >"$ks/db_sync.log" 2>&1 || fail "keystone-manage db_sync failed" "$ks/db_sync.log" "$ks/keystone.log"
step_done "keystone db_sync (glance db_sync alongside)"

# ---- servers -------------------------------------------------------------------------------------------
# setsid: each gunicorn master leads its own process group, so stop.sh can end master and workers together
# and a signal to the caller's group (Ctrl-C, a CI step's cleanup) does not reach them.
# --no-control-socket: gunicorn 27 otherwise shares one socket at ~/.gunicorn/gunicorn.ctl between instances.
serve() { # name dir port app [env...]
    local name=$1 dir=$2 port=$3 app=$4 venv
    shift 4
    venv=$ks_venv
    [[ $name == glance ]] && venv=$gl_venv
    env "$@" setsid "$venv/bin/gunicorn" --chdir "$dir" --bind "$host:$port" --workers 1 --threads 4 \
        --timeout 120 --graceful-timeout 5 --no-control-socket --pid "$dir/gunicorn.pid" \
        --access-logfile "$dir/access.log" --error-logfile "$dir/gunicorn.log" "$app" \
        </dev/null >"$dir/gunicorn.out" 2>&1 &
    echo $! >"$dir/server.pid"
    started=1
}

# Keystone's app import (~2 s) needs the schema but no rows, so gunicorn starts while bootstrap runs;
# nothing is asked of it before bootstrap has finished.
serve keystone "$ks" "$ks_port" keystone_wsgi:application
ks_pid=$(cat "$ks/server.pid")
# The password goes through the environment, not argv (argv is visible in ps).
OS_BOOTSTRAP_PASSWORD=$admin_pw "${km[@]}" bootstrap \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$ks_url/" --bootstrap-internal-url "$ks_url/" --bootstrap-public-url "$ks_url/" \
    >"$ks/bootstrap.log" 2>&1 &
ks_boot_pid=$!
helpers+=("$ks_boot_pid")

wait "$gl_sync_pid" || fail "glance-manage db_sync failed" "$gl/db_sync.log" "$gl/glance-api.log"
serve glance "$gl" "$gl_port" glance.wsgi.api:application "OS_GLANCE_CONFIG_DIR=$gl"
gl_pid=$(cat "$gl/server.pid")
wait "$ks_boot_pid" || fail "keystone-manage bootstrap failed" "$ks/bootstrap.log" "$ks/keystone.log"
step_done "keystone bootstrap (admin, roles, identity endpoints), both gunicorns launched alongside"

# HTTP status of GET url (http://127.0.0.1:PORT/PATH), through bash's /dev/tcp: no curl needed.
http_status() {
    local rest=${1#http://*:} port path
    port=${rest%%/*}
    path=/${rest#*/}
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 0
        printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$path" "$host" "$port" >&3
        IFS=' ' read -r -t 5 _ code _ <&3 && echo "$code"
    ) 2>/dev/null || true
}

wait_http() { # name url pid dir: until GET url gives 200/300, the process dies, or the time is up
    local name=$1 url=$2 pid=$3 dir=$4 code deadline
    deadline=$(($(date +%s) + wait_limit))
    while :; do
        code=$(http_status "$url")
        [[ $code == 200 || $code == 300 ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "start: $name (pid $pid) exited before answering on $url" >&2
            break
        fi
        if (($(date +%s) >= deadline)); then
            echo "start: $name did not answer on $url within $wait_limit s (last HTTP code: ${code:-none})" >&2
            break
        fi
        sleep 0.1
    done
    show_tails "$dir"/gunicorn.out "$dir"/*.log
    exit 1
}

wait_http keystone "$ks_url/" "$ks_pid" "$ks"
step_done "keystone answers on $ks_url"

# ---- seeding (through the real API, with keystoneauth from the keystone venv) ---------------------------
cat >"$state/seed.py" <<'EOF'
"""Seed the fresh servers for cloudkit's tests; prints `export NAME=value` lines for the env file."""

import os
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

KS = os.environ["KS_URL"]
GL = os.environ["GL_URL"]


def sess(user, password, project):
    auth = v3.Password(auth_url=KS, username=user, password=password, project_name=project,
                       user_domain_id="default", project_domain_id="default")
    return session.Session(auth=auth)


def identity():
    s = sess("admin", os.environ["ADMIN_PW"], "admin")
    roles = {r["name"]: r["id"] for r in s.get(f"{KS}/roles").json()["roles"]}
    if "service" not in roles:
        roles["service"] = s.post(f"{KS}/roles", json={"role": {"name": "service"}}).json()["role"]["id"]

    def project(name):
        body = {"project": {"name": name, "domain_id": "default", "description": "cloudkit real-services"}}
        return s.post(f"{KS}/projects", json=body).json()["project"]["id"]

    def user(name, password, project_id, *role_names):
        body = {"user": {"name": name, "password": password, "domain_id": "default",
                         "default_project_id": project_id}}
        uid = s.post(f"{KS}/users", json=body).json()["user"]["id"]
        for role in role_names:
            s.put(f"{KS}/projects/{project_id}/users/{uid}/roles/{roles[role]}")
        return uid

    out = {}
    out["ALICE_PROJECT_ID"] = project("alice")
    out["PORTAL_USER_ID"] = user("portal", "portal-pass", out["ALICE_PROJECT_ID"], "member")
    out["BOB_PROJECT_ID"] = project("bob")
    out["BOB_USER_ID"] = user("bob", "bob-pass", out["BOB_PROJECT_ID"], "member")
    service_project = project("service")
    user("glance", os.environ["GLANCE_PW"], service_project, "admin", "service")
    svc = s.post(f"{KS}/services", json={"service": {"name": "glance", "type": "image"}}).json()["service"]
    for interface in ("public", "internal", "admin"):
        body = {"endpoint": {"service_id": svc["id"], "interface": interface, "url": GL, "region_id": "RegionOne"}}
        s.post(f"{KS}/endpoints", json=body)
    return out


def image():
    s = sess("portal", "portal-pass", "alice")
    body = {"name": "cloudkit-seed", "disk_format": "raw", "container_format": "bare", "visibility": "private"}
    return {"SEED_IMAGE_ID": s.post(f"{GL}/v2/images", json=body).json()["id"]}


for key, value in {"identity": identity, "image": image}[sys.argv[1]]().items():
    print(f"export CLOUDKIT_REAL_{key}={value}")
EOF
seed() { KS_URL=$ks_url GL_URL=$gl_url ADMIN_PW=$admin_pw GLANCE_PW=$glance_pw "$ks_venv/bin/python" "$state/seed.py" "$1" 2>"$state/seed-$1.log"; }
seeded=$(seed identity) || fail "seeding Keystone failed" "$state/seed-identity.log" "$ks/keystone.log"
step_done "keystone seeded (alice/portal, bob/bob, glance service user, image endpoints)"

wait_http glance "$gl_url/" "$gl_pid" "$gl"
step_done "glance answers on $gl_url"
seeded+=$'\n'$(seed image) || fail "seeding Glance failed" "$state/seed-image.log" "$gl/glance-api.log"
step_done "glance seeded (image record cloudkit-seed, no data)"

# ---- env file ------------------------------------------------------------------------------------------
{
    echo "# written by tools/real-services/start.sh at $(date -u +%FT%TZ); source it"
    q() { printf 'export %s=%q\n' "$1" "$2"; }
    q CLOUDKIT_REAL_STATE "$state"
    q CLOUDKIT_REAL_KEYSTONE_URL "$ks_url"
    q CLOUDKIT_REAL_GLANCE_URL "$gl_url"
    q CLOUDKIT_REAL_REGION RegionOne
    q CLOUDKIT_REAL_TOKEN_EXPIRATION "$token_expiration"
    q CLOUDKIT_REAL_ADMIN_USER admin
    q CLOUDKIT_REAL_ADMIN_PASSWORD "$admin_pw"
    q CLOUDKIT_REAL_ADMIN_PROJECT admin
    q CLOUDKIT_REAL_PORTAL_USER portal
    q CLOUDKIT_REAL_PORTAL_PASSWORD portal-pass
    q CLOUDKIT_REAL_PORTAL_PROJECT alice
    q CLOUDKIT_REAL_BOB_USER bob
    q CLOUDKIT_REAL_BOB_PASSWORD bob-pass
    q CLOUDKIT_REAL_BOB_PROJECT bob
    echo "$seeded"
    q CLOUDKIT_REAL_KEYSTONE_PID "$ks_pid"
    q CLOUDKIT_REAL_GLANCE_PID "$gl_pid"
} >"$state/env"
echo "start: keystone pid $ks_pid on $ks_url, glance pid $gl_pid on $gl_url"
echo "start: ready in $(since "$t_all") s; env file: $state/env"
