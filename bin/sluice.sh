#!/bin/sh
# Sluice's entrypoint (npm's `sluice`, the Docker image's ENTRYPOINT). V8 fixes its heap
# limits when Node starts, so `agent`, `collector` and `run` need flags computed from the
# config's memory_limit before their process exists. `node dist/bin/sluice.js` does that by
# starting the pipeline in a child and staying beside it as a launcher, about 50 MiB of RSS
# for nothing (bin/launch.ts). Here a short Node run computes the flags (bin/exec-plan.ts)
# and this shell execs Node with them: one process, which gets the signals itself.
self=$(readlink -f -- "$0" 2>/dev/null) || self=$0
bin=$(dirname -- "$self")/../dist/bin
# A stop asked for while the flags are computed finds nothing open: a clean stop.
trap 'exit 0' INT TERM
trap '' HUP
plan=$(node "$bin/exec-plan.js" "$@") || exit $?
# The traps stay until exec: it gives back the default action of a trapped signal, and Node
# restores SIGHUP's at its start (the pipeline listens for it from its first line).
# SLUICE_NODE_FLAGS: more of Node's options, for the process that runs the command (some,
# --cpu-prof for one, are refused in NODE_OPTIONS). Split into words on purpose, below too;
# never expanded as file names.
set -f
if [ -z "$plan" ]; then
  # shellcheck disable=SC2086
  exec node ${SLUICE_NODE_FLAGS-} "$bin/sluice.js" "$@"
fi
{
  read -r limit
  read -r flags
  IFS= read -r script
} <<PLAN
$plan
PLAN
export SLUICE_MEMORY_LIMIT="$limit"
# One malloc arena per thread (libuv's pool, librdkafka's threads) keeps what a burst freed
# in arenas of its own, never given back; two arenas let memory return.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# shellcheck disable=SC2086
exec node $flags ${SLUICE_NODE_FLAGS-} "$script" "$@"
