#!/usr/bin/env bash
# Build the two server venvs used by start.sh: real Keystone and real Glance from PyPI, each with gunicorn,
# pinned by constraints.txt next to this script.
#
#   tools/real-services/install.sh          # ~1 min the first time, ~1 s once the venvs are there
#
# Where: $CLOUDKIT_REAL_HOME (default ~/.cache/cloudkit-real), as keystone/ and glance/.
# A venv is reused only if its stamp matches (constraints.txt hash + interpreter version + package list);
# otherwise it is removed and rebuilt. The stamp is written last, so an interrupted build is redone.
# env: CLOUDKIT_REAL_HOME, CLOUDKIT_REAL_PYTHON (interpreter for the venvs, default python3),
#      CLOUDKIT_REAL_REBUILD=1 (rebuild even if the stamps match).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
real_home=${CLOUDKIT_REAL_HOME:-$HOME/.cache/cloudkit-real}
python=${CLOUDKIT_REAL_PYTHON:-python3}
constraints=$here/constraints.txt

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$real_home"
py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
constraints_sha=$(sha256sum "$constraints" | cut -d' ' -f1)

# name -> packages installed into it (versions come from constraints.txt)
declare -A packages=([keystone]="keystone gunicorn" [glance]="glance gunicorn")
# name -> a module import that proves the venv is usable
declare -A probe=([keystone]="import keystone.cmd.manage, gunicorn" [glance]="import glance.cmd.manage, gunicorn")

stamp_for() { printf 'python=%s constraints=%s packages=%s\n' "$py_version" "$constraints_sha" "${packages[$1]}"; }

venv_ok() {
    local venv=$real_home/$1
    [[ ${CLOUDKIT_REAL_REBUILD:-0} != 1 ]] &&
        [[ -f $venv/.cloudkit-stamp ]] &&
        [[ $(cat "$venv/.cloudkit-stamp") == "$(stamp_for "$1")" ]] &&
        [[ -x $venv/bin/gunicorn ]]
}

build() {
    local name=$1 venv=$real_home/$1 log=$real_home/install-$1.log
    rm -rf "$venv"
    {
        "$python" -m venv "$venv"
        # shellcheck disable=SC2086  # word splitting of the package list is intended
        "$venv/bin/pip" install --disable-pip-version-check --no-input -c "$constraints" ${packages[$name]}
        "$venv/bin/python" -c "${probe[$name]}"
        "$venv/bin/pip" freeze --disable-pip-version-check >"$venv/.cloudkit-freeze"
    } >"$log" 2>&1
    stamp_for "$name" >"$venv/.cloudkit-stamp"
}

start=$(now)
todo=()
for name in keystone glance; do
    if venv_ok "$name"; then
        echo "install: $name venv up to date ($real_home/$name)"
    else
        todo+=("$name")
    fi
done
if [[ ${#todo[@]} -eq 0 ]]; then
    echo "install: nothing to do ($(since "$start") s)"
    exit 0
fi

# The builds are independent; on 2 cores running them side by side saves ~20 s.
declare -A pids=()
for name in "${todo[@]}"; do
    echo "install: building $name venv (log: $real_home/install-$name.log)"
    build "$name" &
    pids[$name]=$!
done
failed=0
for name in "${todo[@]}"; do
    if wait "${pids[$name]}"; then
        echo "install: $name ready, $(du -sm "$real_home/$name" | cut -f1) MiB"
    else
        failed=1
        echo "install: building the $name venv FAILED; last lines of $real_home/install-$name.log:" >&2
        tail -n 30 "$real_home/install-$name.log" >&2 || true
    fi
done
[[ $failed == 0 ]] || exit 1
echo "install: done in $(since "$start") s ($real_home)"
