#!/usr/bin/env bash
# A one-node Slurm cluster inside a temporary directory, for the MPI tests:
# munged with a generated key, slurmctld and slurmd of Debian's slurm-wlm, all
# in the foreground of this shell (killed by pid in slurm_down), configuration,
# state, spool, sockets and logs under $SLURM_DIR. Nothing is written outside
# it (the packages aside, installed when missing as root).
#
# Sourced by scripts/test_mpi.sh.
#
#   slurm_up          installs slurmctld, slurmd, slurm-client and munge when
#                     missing, starts the daemons, waits for the node to be
#                     idle and checks that `srun --mpi=pmix` starts 2 ranks of
#                     one MPI job; returns 1 (with a reason in $SLURM_WHY)
#                     where it cannot
#   slurm_srun N      prints (one per line) the arguments of `srun -n N` with
#                     PMIx, which Debian's Open MPI needs under srun (with
#                     --mpi=none its MPI_Init fails); no --cpu-bind: with
#                     TaskPlugin=task/none nothing binds, and srun warns
#   slurm_down        stops the daemons, removes $SLURM_DIR
#
# The node is this machine's short hostname at 127.0.0.1, with CPUs = nproc,
# in a partition that oversubscribes; the ports carry the shell's pid, so
# that two runs on one machine do not collide.

# shellcheck source=scripts/debian_packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian_packages.sh"

SLURM_DIR=""
SLURM_WHY=""
SLURM_PIDS=()

slurm_up() {
    local p missing=() host cpus port i
    if [ "$(id -u)" -ne 0 ]; then SLURM_WHY="not root (slurmd runs as root here)"; return 1; fi
    for p in "${SLURM_PACKAGES[@]}"; do
        dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}"
        # Once more after apt-get update if it fails (stale package lists).
        if ! env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null 2>&1 &&
            ! { env DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1 &&
                env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null 2>&1; }; then
            SLURM_WHY="apt-get install ${missing[*]} failed"
            return 1
        fi
    fi
    for p in munged slurmctld slurmd srun sinfo; do
        command -v "$p" > /dev/null || { SLURM_WHY="no $p after installing"; return 1; }
    done
    SLURM_DIR=$(mktemp -d)
    # munged wants its directories closed to others.
    chmod 755 "$SLURM_DIR"
    mkdir -m 700 "$SLURM_DIR/munge"
    # tmp: TmpFS, where the PMIx plugin makes each step's directory (by
    # default /tmp/spmix_appdir_UID_JOB.STEP: job ids restart at 1 in every
    # new cluster, and a directory left there by an earlier run fails a step).
    mkdir "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/tmp"
    head -c 1024 /dev/urandom > "$SLURM_DIR/munge/key"
    chmod 400 "$SLURM_DIR/munge/key"
    munged -F -f -S "$SLURM_DIR/munge/sock" --key-file="$SLURM_DIR/munge/key" \
        --log-file="$SLURM_DIR/munge/log" --pid-file="$SLURM_DIR/munge/pid" \
        --seed-file="$SLURM_DIR/munge/seed" > "$SLURM_DIR/munged.out" 2>&1 &
    SLURM_PIDS+=($!)
    for ((i = 0; i < 50; i++)); do
        [ -S "$SLURM_DIR/munge/sock" ] && break
        sleep 0.1
    done
    if ! munge -S "$SLURM_DIR/munge/sock" -n 2> /dev/null | unmunge -S "$SLURM_DIR/munge/sock" > /dev/null 2>&1; then
        SLURM_WHY="munged did not start: $(tail -1 "$SLURM_DIR/munged.out")"
        slurm_down; return 1
    fi
    host=$(hostname -s)
    cpus=$(nproc)
    port=$((17000 + ($$ % 1000) * 2))
    : > "$SLURM_DIR/plugstack.conf"
    cat > "$SLURM_DIR/slurm.conf" << EOF
ClusterName=mmclusttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/sock
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
TmpFS=$SLURM_DIR/tmp
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
PlugStackConfig=$SLURM_DIR/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerType=sched/builtin
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=mmclusttest Nodes=$host Default=YES OverSubscribe=FORCE:4 MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$SLURM_DIR/slurm.conf
    slurmctld -D -f "$SLURM_CONF" > "$SLURM_DIR/slurmctld.out" 2>&1 &
    SLURM_PIDS+=($!)
    slurmd -D -f "$SLURM_CONF" -N "$host" > "$SLURM_DIR/slurmd.out" 2>&1 &
    SLURM_PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        [ "$(timeout 5 sinfo -h -n "$host" -o %T 2> /dev/null)" = idle ] && break
        sleep 0.2
    done
    if [ "$(timeout 5 sinfo -h -n "$host" -o %T 2> /dev/null)" != idle ]; then
        SLURM_WHY="the node did not become idle: $(grep -h -i error "$SLURM_DIR"/slurm*.out | tail -1)"
        slurm_down; return 1
    fi
    if ! timeout 10 srun --mpi=list 2>&1 | grep -qw pmix; then
        SLURM_WHY="this Slurm has no PMIx plugin (srun --mpi=list), which Open MPI needs under srun"
        slurm_down; return 1
    fi
    if [ "$(timeout 30 srun -n 2 hostname 2> /dev/null | wc -l)" != 2 ]; then
        SLURM_WHY="srun -n 2 hostname did not run 2 tasks: $(grep -h -i error "$SLURM_DIR"/slurm*.out | tail -1)"
        slurm_down; return 1
    fi
}

slurm_srun() {
    printf '%s\n' srun -n "$1" --mpi=pmix --overcommit
}

slurm_down() {
    local pid i
    # Jobs still running (the test stopped mid-run, its srun left behind) are
    # cancelled, and their steps ended by slurmd, before the daemons stop:
    # otherwise srun and slurmstepd (which ignore SIGTERM) outlive them.
    if [ -n "${SLURM_CONF:-}" ] && [ ${#SLURM_PIDS[@]} -gt 0 ]; then
        timeout 5 scancel --quiet --user=root 2> /dev/null || true
        for ((i = 0; i < 50; i++)); do
            [ -z "$(timeout 5 squeue -h -o %i 2> /dev/null)" ] && break
            sleep 0.2
        done
    fi
    for pid in "${SLURM_PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
    for pid in "${SLURM_PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
    done
    SLURM_PIDS=()
    [ -n "$SLURM_DIR" ] && rm -rf "$SLURM_DIR"
    SLURM_DIR=""
    unset SLURM_CONF
}
