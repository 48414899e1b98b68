#!/usr/bin/env bash
# Open MPI's remote-launch agent for the namespace "hosts" of
# scripts/mpi_netns.sh, in place of ssh: `mpi_netns_rsh.sh HOST COMMAND...`
# runs COMMAND (joined into one shell command line, as ssh does) in HOST's
# network namespace under HOST's hostname. HOST is a name from the hostfile
# mpi_netns.sh writes (PREFIX-hI, which is also the namespace's name).
# With NETNS_LOCAL_DISK=DIR set (in mpirun's environment), COMMAND also runs in
# a mount namespace of its own where DIR.HOST is bind-mounted on DIR: a disk
# that only this host sees, at the path every host uses (node-local shards).
set -eu
host=$1
shift
case $host in
    "$NETNS_PREFIX"-h[0-9]*) ;;
    *) echo "mpi_netns_rsh.sh: $host is not a namespace host of $NETNS_PREFIX" >&2; exit 255 ;;
esac
exec ip netns exec "$host" unshare --uts --mount sh -c 'hostname "$0" &&
    { [ -z "${NETNS_LOCAL_DISK:-}" ] || mount --bind "$NETNS_LOCAL_DISK.$0" "$NETNS_LOCAL_DISK"; } &&
    eval "$1"' "$host" "$*"
