# The Debian packages the test scripts install when missing, in one place:
# sourced by scripts/test_mpi.sh, scripts/slurm_local.sh,
# scripts/test_report_browser.sh, and by .ci/run, which installs them all in
# the background while the Rust test build runs (apt_prefetch below).

# Open MPI and what the `mpi` crate's bindings build needs (test_mpi.sh).
MPI_PACKAGES=(openmpi-bin libopenmpi-dev libclang-dev clang pkg-config iproute2)
# A one-node Slurm cluster (slurm_local.sh).
SLURM_PACKAGES=(slurmctld slurmd slurm-client munge)
# Headless Chromium for the report page (test_report_browser.sh).
BROWSER_PACKAGES=(chromium)

# apt_prefetch: as root, installs the missing ones of all three lists in the
# background (each list on its own, so that one that fails leaves the others
# installed), logging to $1; sets APT_PREFETCH_PID. Does nothing otherwise.
# The scripts still install what is missing themselves: this only moves the
# installation off the critical path. apt_prefetch_wait waits for it.
apt_prefetch() {
    local log=$1
    APT_PREFETCH_PID=""
    [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null || return 0
    (
        export DEBIAN_FRONTEND=noninteractive
        apt=(apt-get -o DPkg::Lock::Timeout=300 -y -qq)
        "${apt[@]}" update
        for list in MPI_PACKAGES SLURM_PACKAGES BROWSER_PACKAGES; do
            declare -n pkgs=$list
            missing=()
            for p in "${pkgs[@]}"; do dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p"); done
            [ ${#missing[@]} -eq 0 ] || "${apt[@]}" install "${missing[@]}" || echo "apt_prefetch: ${missing[*]} failed"
        done
    ) > "$log" 2>&1 &
    APT_PREFETCH_PID=$!
}

apt_prefetch_wait() {
    [ -z "${APT_PREFETCH_PID:-}" ] || wait "$APT_PREFETCH_PID" || true
}
