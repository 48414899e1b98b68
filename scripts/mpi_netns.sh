#!/usr/bin/env bash
# Separate "hosts" on one machine for the MPI tests: Linux network namespaces
# joined by veth pairs to a bridge, each with its own address and its own
# hostname, so that Open MPI sees separate nodes and its ranks talk over TCP.
#
# Sourced by scripts/test_mpi.sh (and scripts/bench_mpi.sh); needs root and
# iproute2. Nothing is added to the machine's own network namespace: the bridge
# lives in a namespace of its own, and every address is in 10.231.X.0/24.
#
#   netns_up N        creates the switch and N hosts; returns 1 (with a reason
#                     in $NETNS_WHY) where namespaces cannot be created
#   netns_mpirun ...  the argument list of an mpirun started on host 0, with a
#                     hostfile of every host, TCP only, on the veth subnet,
#                     remote daemons started by scripts/mpi_netns_rsh.sh
#   netns_link_down I takes host I's link down (no reset is sent: a lost host)
#   netns_down        kills what still runs in the namespaces, removes them
#
# Host i is namespace ${NETNS_PREFIX}-h$i, hostname ${NETNS_PREFIX}-h$i, address
# 10.231.$NETNS_NET.(i+1). The names carry the shell's pid, so that two runs on
# one machine do not collide.

NETNS_PREFIX=${NETNS_PREFIX:-mmns$$}
NETNS_NET=${NETNS_NET:-$(($$ % 250 + 1))}
NETNS_HOSTS=0
NETNS_DIR=""
NETNS_WHY=""
_netns_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

netns_up() {
    local n=$1 i ns
    if [ "$(id -u)" -ne 0 ]; then NETNS_WHY="not root"; return 1; fi
    command -v ip > /dev/null || { NETNS_WHY="no ip(8) (iproute2)"; return 1; }
    command -v unshare > /dev/null || { NETNS_WHY="no unshare(1)"; return 1; }
    NETNS_DIR=$(mktemp -d)
    if ! ip netns add "$NETNS_PREFIX-sw" 2> "$NETNS_DIR/err"; then
        NETNS_WHY="ip netns add failed: $(head -1 "$NETNS_DIR/err")"
        rm -rf "$NETNS_DIR"; NETNS_DIR=""
        return 1
    fi
    NETNS_HOSTS=$n
    if ! {
        ip -n "$NETNS_PREFIX-sw" link add br0 type bridge &&
            ip -n "$NETNS_PREFIX-sw" link set br0 up &&
            ip -n "$NETNS_PREFIX-sw" link set lo up
    } 2> "$NETNS_DIR/err"; then
        NETNS_WHY="cannot make a bridge: $(head -1 "$NETNS_DIR/err")"
        netns_down; return 1
    fi
    : > "$NETNS_DIR/hosts"
    echo "127.0.0.1 localhost" > "$NETNS_DIR/etc-hosts"
    for ((i = 0; i < n; i++)); do
        echo "10.231.$NETNS_NET.$((i + 1)) $NETNS_PREFIX-h$i" >> "$NETNS_DIR/etc-hosts"
        echo "$NETNS_PREFIX-h$i slots=64" >> "$NETNS_DIR/hosts"
    done
    for ((i = 0; i < n; i++)); do
        ns=$NETNS_PREFIX-h$i
        # `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts:
        # every host resolves every other's name to its veth address.
        if ! {
            ip netns add "$ns" &&
                mkdir -p "/etc/netns/$ns" && cp "$NETNS_DIR/etc-hosts" "/etc/netns/$ns/hosts" &&
                ip link add "${NETNS_PREFIX}v$i" netns "$ns" type veth peer name "p$i" netns "$NETNS_PREFIX-sw" &&
                ip -n "$ns" link set "${NETNS_PREFIX}v$i" name eth0 &&
                ip -n "$ns" addr add "10.231.$NETNS_NET.$((i + 1))/24" dev eth0 &&
                ip -n "$ns" link set eth0 up &&
                ip -n "$ns" link set lo up &&
                ip -n "$NETNS_PREFIX-sw" link set "p$i" master br0 &&
                ip -n "$NETNS_PREFIX-sw" link set "p$i" up
        } 2> "$NETNS_DIR/err"; then
            NETNS_WHY="cannot make host $i: $(head -1 "$NETNS_DIR/err")"
            netns_down; return 1
        fi
    done
    # Host 0 reaches the last host (once the bridge forwards): a connection to
    # a closed port there is refused at once, where an unreachable one times out.
    local tries=0
    until [[ $(ip netns exec "$NETNS_PREFIX-h0" timeout 2 bash -c \
        ": < /dev/tcp/10.231.$NETNS_NET.$n/9" 2>&1) == *refused* ]]; do
        tries=$((tries + 1))
        if [ $tries -ge 10 ]; then
            NETNS_WHY="host 0 cannot reach host $((n - 1)) over the bridge"
            netns_down; return 1
        fi
        sleep 0.5
    done
    export NETNS_PREFIX
}

# netns_exec I CMD...: CMD in host I's namespace, under host I's hostname.
netns_exec() {
    local i=$1; shift
    ip netns exec "$NETNS_PREFIX-h$i" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$NETNS_PREFIX-h$i" "$@"
}

# netns_mpirun HOSTS RANKS_PER_HOST: prints (one per line) the arguments that
# start mpirun on host 0 with HOSTS hosts and RANKS_PER_HOST ranks on each.
# Open MPI speaks TCP only (btl tcp,self, no shared memory even between ranks
# of one host), on the veth subnet only, for both MPI messages and its own
# daemons' traffic (oob); the daemons of the other hosts are started by
# scripts/mpi_netns_rsh.sh. The oob keepalive settings make a host whose
# link goes down (no reset is sent) count as lost after about 10 + 3 × 3 s
# instead of Linux's default two hours; mpirun then ends the job.
# Every host also runs in a mount namespace of its own: with NETNS_LOCAL_DISK=DIR
# exported, host I sees folder DIR.PREFIX-hI at DIR (a node-local disk; see
# scripts/mpi_netns_rsh.sh).
netns_mpirun() {
    local hosts=$1 per=$2 i list=""
    for ((i = 0; i < hosts; i++)); do list+="${list:+,}$NETNS_PREFIX-h$i:$per"; done
    printf '%s\n' ip netns exec "$NETNS_PREFIX-h0" unshare --uts --mount \
        sh -c 'hostname "$0" && { [ -z "${NETNS_LOCAL_DISK:-}" ] || mount --bind "$NETNS_LOCAL_DISK.$0" "$NETNS_LOCAL_DISK"; } && exec "$@"' "$NETNS_PREFIX-h0" \
        mpirun --host "$list" -n $((hosts * per)) --map-by node --bind-to none \
        --mca btl tcp,self \
        --mca btl_tcp_if_include "10.231.$NETNS_NET.0/24" \
        --mca oob_tcp_if_include "10.231.$NETNS_NET.0/24" \
        --mca plm_rsh_agent "$_netns_scripts/mpi_netns_rsh.sh" \
        --mca plm_rsh_no_tree_spawn 1 \
        --mca oob_tcp_keepalive_time 10 \
        --mca oob_tcp_keepalive_intvl 3 \
        --mca oob_tcp_keepalive_probes 3
}

# netns_link_down I: host I's interface goes down; nothing tells its peers.
netns_link_down() {
    ip -n "$NETNS_PREFIX-h$1" link set eth0 down
}

netns_down() {
    local i ns pid
    [ -n "$NETNS_DIR" ] || return 0
    for ((i = 0; i < NETNS_HOSTS; i++)); do
        ns=$NETNS_PREFIX-h$i
        if [ -e "/run/netns/$ns" ]; then
            # What still runs there was started by these tests (a rank or a
            # daemon cut off by a lost link): end it by pid.
            for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null || true; done
            ip netns del "$ns" 2> /dev/null || true
        fi
        rm -rf "/etc/netns/$ns"
    done
    ip netns del "$NETNS_PREFIX-sw" 2> /dev/null || true
    rmdir /etc/netns 2> /dev/null || true
    rm -rf "$NETNS_DIR"
    NETNS_DIR=""
    NETNS_HOSTS=0
}
