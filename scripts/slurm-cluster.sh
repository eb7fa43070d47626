#!/usr/bin/env bash
# Starts and stops a real one-node Slurm cluster on this machine, so that the
# integration tests and CI can submit, watch, cancel and requeue real Slurm
# jobs. Everything the cluster owns (slurm.conf, state, spool, logs, pid
# files) lives in one folder, DIR; munged alone uses the system's usual places
# (/etc/munge/munge.key, /run/munge), where every Slurm command looks for it.
# It needs root (as CI and the development machines have) and no systemd.
#
# Usage:
#   scripts/slurm-cluster.sh install
#       Installs Debian's slurm-wlm and munge; does nothing if they are there.
#   scripts/slurm-cluster.sh start DIR
#       Writes DIR/slurm.conf, starts munged (unless it runs), slurmctld and
#       slurmd, waits for the node to be idle, runs `srun hostname` and a
#       2-task array job, then writes DIR/env and prints its one line,
#       `export SLURM_CONF=DIR/slurm.conf`. It takes about 4 seconds. On
#       failure it names the step that failed on stderr, with the end of that
#       daemon's log, stops what it started and exits 1. Run again while the
#       cluster is up, it does nothing if the config is unchanged and
#       restarts the daemons if it changed.
#   scripts/slurm-cluster.sh stop DIR
#       Cancels the cluster's jobs and stops slurmd and slurmctld; munged is
#       left running. Exits 0 if nothing runs.
#
# Using the cluster: set SLURM_CONF=DIR/slurm.conf (or source DIR/env) for
# sbatch, srun, squeue, scancel, scontrol and sinfo. Jobs run on this machine
# as the user who submitted them, in the folder sbatch was called from unless
# --chdir says otherwise. The one partition is "debug" (the default) and the
# node is named `hostname -s`; it has two GPU slots backed by no GPU
# (DIR/gres.conf), so jobs may ask for GPUs and get Slurm's GPU variables. Submit jobs with --requeue when a test will
# `scontrol requeue` them: batch jobs may be requeued by default here
# (JobRequeue=1), but the flag says what the test relies on. A requeued job
# shows PENDING (Reason=BeginTime) for about 10 s (cred_expire below) and then
# runs again with SLURM_RESTART_COUNT=1, its output file started afresh.
# Cancelled jobs get SIGTERM, then SIGKILL 5 s later (KillWait). There is no
# accounting database, so sacct only says "Slurm accounting storage is
# disabled" and exits 1; finished jobs stay visible to `squeue -t all` and
# `scontrol show job` for 300 s (MinJobAge). Daemon logs: DIR/log.
#
# Environment (all optional):
#   SLURM_CLUSTER_PORT   slurmctld's port [16817]; slurmd takes the next one
#   SLURM_CLUSTER_CPUS   CPUs the node offers [nproc]; more than nproc lets
#                        more single-CPU jobs run at once
set -euo pipefail

PROG=slurm-cluster
PORT=${SLURM_CLUSTER_PORT:-16817}
MUNGE_SOCKET=/run/munge/munge.socket.2

say() { echo "$PROG: $*" >&2; }
die() { say "$*"; exit 1; }

if ! [[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT >= 65535)); then
    die "SLURM_CLUSTER_PORT must be a port number below 65535: $PORT"
fi

# fail STEP [LOG]: one line saying which step failed, then the log's tail;
# the daemons started so far are stopped again.
fail() {
    say "start failed: $1"
    if [[ -n ${2:-} && -s $2 ]]; then
        echo "--- last lines of $2 ---" >&2
        tail -n 25 "$2" >&2
    fi
    stop_daemons >/dev/null 2>&1 || true
    exit 1
}

cmd_install() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}\n' slurm-wlm munge 2>/dev/null || true)
    if [[ $(grep -c '^ii' <<<"$status") == 2 ]]; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq slurm-wlm munge; then
        apt-get update -qq
        apt-get install -y -qq slurm-wlm munge
    fi
}

# set_dir DIR: the absolute, symlink-free cluster folder, created if missing.
set_dir() {
    [[ -n ${1:-} ]] || die "usage: $0 start|stop DIR"
    if [[ ${2:-} == create ]]; then
        mkdir -p "$1"
    fi
    DIR=$(cd "$1" && pwd -P)
    # slurm.conf has no quoting: keep paths to plain characters.
    [[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR must be a plain path without spaces: $DIR"
    CONF=$DIR/slurm.conf
    LOG=$DIR/log
    RUN=$DIR/run
    NODE=$(hostname -s)
}

# proc_is PID NAME: PID is a process called NAME that has not exited (a
# zombie waiting for init to reap it does not count).
proc_is() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $stat =~ ^[0-9]+\ \((.*)\)\ ([A-Za-z]) ]] &&
        [[ ${BASH_REMATCH[1]} == "$2" && ${BASH_REMATCH[2]} != Z ]]
}

# alive NAME: true if DIR/run/NAME.pid names a live process called NAME.
alive() {
    local pid
    pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && proc_is "$pid" "$1"
}

# term NAME: stop the process in DIR/run/NAME.pid, SIGKILL after 15 s. The
# daemons remove their pid file before they are done, so watch the process.
term() {
    local pid i
    if alive "$1"; then
        pid=$(cat "$RUN/$1.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            proc_is "$pid" "$1" || break
            sleep 0.1
        done
        if proc_is "$pid" "$1"; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -f "$RUN/$1.pid"
}

# descendants PID: the process ids below PID.
descendants() {
    ps -eo pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            for (p in parent) {
                for (q = parent[p]; q > 1; q = parent[q]) {
                    if (q == root) { print p; break }
                    if (!(q in parent)) break
                }
            }
        }'
}

# kill_stepds: job step daemons (and their jobs) left over from this DIR's
# slurmd, known by the SLURM_CONF that slurmd passes down to them.
kill_stepds() {
    local p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        proc_is "$pid" slurmstepd || continue
        tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF" || continue
        # shellcheck disable=SC2046 # one pid per word
        kill -KILL "$pid" $(descendants "$pid") 2>/dev/null || true
    done
}

# Two GPU slots backed by no GPU, so that a job asking for GPUs (sbatch
# --gpus-per-task) is scheduled and its tasks get Slurm's GPU variables
# (SLURM_JOB_GPUS, CUDA_VISIBLE_DEVICES). Slurm binds a GPU to a device file;
# here each is a character device that is the null device under another name
# (nothing opens it). Where device files cannot be made, plain files stand in
# and the jobs still get SLURM_GPUS_ON_NODE, but not CUDA_VISIBLE_DEVICES.
write_gpus() {
    local i
    for i in 0 1; do
        if [[ ! -c $DIR/gpu$i ]]; then
            rm -f "$DIR/gpu$i"
            mknod "$DIR/gpu$i" c 1 3 2>/dev/null || : >"$DIR/gpu$i"
        fi
    done
    printf '# Generated by scripts/slurm-cluster.sh: two GPU slots of no GPU.\nName=gpu File=%s/gpu[0-1]\n' "$DIR" >"$DIR/gres.conf"
}

write_conf() {
    local cpus mem_mb defmem
    cpus=${SLURM_CLUSTER_CPUS:-$(nproc)}
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "SLURM_CLUSTER_CPUS must be a positive number: $cpus"
    # RealMemory a bit under the machine's: 90% of MemTotal, in MB.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    # Without a default, a job with no --mem takes all the node's memory and
    # jobs would run one at a time; give each CPU its share instead.
    defmem=$((mem_mb / cpus))
    cat >"$1" <<EOF
# Generated by scripts/slurm-cluster.sh: a one-node test cluster.
ClusterName=testcluster
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds (default 120) before it may run
# again; job launches here take well under a second.
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$defmem
SchedulerType=sched/backfill
# Schedule at once on every submit and job end, and look at pending jobs
# (such as requeued ones) every few seconds, not every minute.
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=5
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
MaxArraySize=10001
MaxJobCount=100000
MinJobAge=300
GresTypes=gpu
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

munge_works() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

start_munge() {
    local i
    munge_works && return 0
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key || fail "creating /etc/munge/munge.key"
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0600 /etc/munge/munge.key
    # --force: take over a stale socket or pid file left by a dead munged.
    runuser -u munge -- munged --force --socket="$MUNGE_SOCKET" ||
        fail "starting munged" /var/log/munge/munged.log
    for ((i = 0; i < 100; i++)); do
        munge_works && return 0
        sleep 0.1
    done
    fail "munged is not answering on $MUNGE_SOCKET" /var/log/munge/munged.log
}

# port_busy PORT: something on this machine listens on PORT.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# node_state: the node's state as sinfo prints it (idle, mixed, idle*, ...).
node_state() {
    SLURM_CONF=$CONF timeout 15 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1
}

node_up() {
    [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]
}

start_daemons() {
    local i port state
    for port in "$PORT" "$((PORT + 1))"; do
        port_busy "$port" && fail "port $port is already in use (set SLURM_CLUSTER_PORT)"
    done
    SLURM_CONF=$CONF slurmctld -f "$CONF" >>"$LOG/slurmctld.out" 2>&1 ||
        fail "starting slurmctld" "$LOG/slurmctld.log"
    for ((i = 0; ; i++)); do
        SLURM_CONF=$CONF timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP' && break
        if ! alive slurmctld || ((i >= 300)); then
            fail "slurmctld did not come up" "$LOG/slurmctld.log"
        fi
        sleep 0.1
    done
    SLURM_CONF=$CONF slurmd -f "$CONF" -N "$NODE" >>"$LOG/slurmd.out" 2>&1 ||
        fail "starting slurmd" "$LOG/slurmd.log"
    for ((i = 0; ; i++)); do
        state=$(node_state)
        [[ $state =~ ^(idle|mixed|allocated|completing)$ ]] && break
        # A node that was drained or downed in an earlier run: put it back.
        if [[ $state =~ ^(drained|draining|down)$ ]]; then
            SLURM_CONF=$CONF scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        fi
        if ! alive slurmd || ((i >= 120)); then
            fail "node $NODE is not idle after 60 s (sinfo says '${state:-nothing}')" "$LOG/slurmd.log"
        fi
        sleep 0.5
    done
}

smoke() {
    local out=$DIR/smoke id states i
    rm -rf "$out"
    mkdir -p "$out"
    cat >"$out/hello.sh" <<'EOF'
#!/bin/sh
echo "task ${SLURM_ARRAY_TASK_ID:-none} on $(hostname)"
EOF
    export SLURM_CONF=$CONF
    timeout 30 srun -N1 -n1 -t 1 hostname >"$out/srun.out" 2>&1 ||
        fail "smoke test: srun hostname ($(tail -n 1 "$out/srun.out"))" "$LOG/slurmd.log"
    id=$(sbatch --parsable -J smoke-array -t 1 --array=0-1 --chdir="$out" -o 'array_%a.out' hello.sh 2>&1) ||
        fail "smoke test: sbatch --array=0-1 ($id)" "$LOG/slurmctld.log"
    # Watch it here rather than with sbatch --wait, which looks only every
    # 2, 4, 8... seconds.
    for ((i = 0; ; i++)); do
        states=$(squeue -h -t all -j "$id" -o %T 2>/dev/null) || true
        if [[ -n $states ]] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<<"$states"; then
            break
        fi
        ((i < 600)) || fail "smoke test: array job $id did not finish in 60 s (${states//$'\n'/ })" "$LOG/slurmctld.log"
        sleep 0.1
    done
    [[ $(grep -c '^COMPLETED$' <<<"$states") == 2 ]] ||
        fail "smoke test: array job $id did not complete (${states//$'\n'/ })" "$LOG/slurmd.log"
    if ! grep -q "task 0" "$out/array_0.out" 2>/dev/null || ! grep -q "task 1" "$out/array_1.out" 2>/dev/null; then
        fail "smoke test: the array tasks wrote no output" "$LOG/slurmd.log"
    fi
    unset SLURM_CONF
}

finish() {
    echo "export SLURM_CONF=$CONF" >"$DIR/env"
    echo "export SLURM_CONF=$CONF"
}

cmd_start() {
    set_dir "${1:-}" create
    local bin
    for bin in slurmctld slurmd sbatch munged mungekey; do
        command -v "$bin" >/dev/null || die "$bin not found: run '$0 install' first"
    done
    mkdir -p "$DIR/state" "$DIR/spool" "$LOG" "$RUN"
    # Every Slurm daemon and command needs munged, running ones included.
    start_munge
    write_gpus
    write_conf "$CONF.new"
    # run/ready is there only once a start has passed its smoke test.
    if [[ -e $RUN/ready ]] && alive slurmctld && alive slurmd && cmp -s "$CONF.new" "$CONF" && node_up; then
        rm -f "$CONF.new"
        say "already running in $DIR"
        finish
        return 0
    fi
    stop_daemons
    mv "$CONF.new" "$CONF"
    start_daemons
    smoke
    touch "$RUN/ready"
    finish
}

stop_daemons() {
    local i jobs
    rm -f "$RUN/ready"
    if alive slurmctld && munge_works; then
        # Cancel every job so that no job processes outlive the cluster.
        jobs=$(SLURM_CONF=$CONF timeout 10 squeue -h -o %F 2>/dev/null | sort -u | tr '\n' ' ') || true
        if [[ -n ${jobs// /} ]]; then
            # shellcheck disable=SC2086 # a list of job ids
            SLURM_CONF=$CONF timeout 10 scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                [[ -z $(SLURM_CONF=$CONF timeout 10 squeue -h -t running,completing -o %i 2>/dev/null) ]] && break
                sleep 0.1
            done
        fi
    fi
    term slurmd
    term slurmctld
    kill_stepds
}

cmd_stop() {
    # Nothing was ever started in a folder that does not exist.
    if [[ -n ${1:-} && ! -d $1 ]]; then
        return 0
    fi
    set_dir "${1:-}"
    [[ -d $RUN ]] || return 0
    stop_daemons
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
*) die "usage: $0 install | start DIR | stop DIR" ;;
esac
