#!/usr/bin/env bash
# A real RlhfActors cluster on this machine: redis-server on a loopback port with its own data directory, plus N
# `rlhf silo --redis` processes, every one on 127.0.0.1. The first --accelerators silos advertise an accelerator
# (computing on the CPU unless RLHF_CUDA=1), so learners and samplers land there and the controller, policy registry
# and rewards on the others, exactly as on a GPU cluster.
#
#   deploy/local/cluster.sh start [--silos N] [--accelerators K] [--redis-port P] [--dir D] [--detach]
#   deploy/local/cluster.sh stop  [--dir D]
#   deploy/local/cluster.sh status [--dir D]
#
# start runs in the foreground and stops everything it started on Ctrl+C (or SIGTERM); with --detach it returns once
# every silo is up, and `stop` ends the processes later, by the PIDs it recorded. Nothing else is touched.
#
# Environment: RLHF_NO_BUILD=1 skips `dotnet build` (use the existing Release build); RLHF_DLL names rlhf.dll
# (default src/Client/bin/Release/net10.0/rlhf.dll); RLHF_CUDA=1 lets the accelerator silos compute on their GPU.
# Rlhf__Redis__Password, if set, is given to redis-server (requirepass, through its config file, never its command
# line) and to every silo.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
command="${1:-start}"
[[ $# -gt 0 ]] && shift
silos=2
accelerators=1
redis_port=""
dir="${TMPDIR:-/tmp}/rlhf-local-cluster"
detach=0

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "error: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --silos) silos="${2:?--silos needs a number}"; shift 2 ;;
    --accelerators) accelerators="${2:?--accelerators needs a number}"; shift 2 ;;
    --redis-port) redis_port="${2:?--redis-port needs a port}"; shift 2 ;;
    --dir) dir="${2:?--dir needs a folder}"; shift 2 ;;
    --detach) detach=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ "$silos" =~ ^[1-9][0-9]?$ ]] || die "--silos must be 1-99 (got '$silos')"
[[ "$accelerators" =~ ^[0-9]+$ && "$accelerators" -le "$silos" ]] || die "--accelerators must be 0-$silos (got '$accelerators')"
pids_file="$dir/pids"

# A loopback TCP port nothing listens on now, and none handed out before by this script: random in 20000-59999,
# checked by trying to connect (bash's /dev/tcp, so nothing beyond bash is needed).
used_ports=" "
# Sets $port (not printed: a $(…) subshell would lose the record of ports handed out).
free_port() {
  for _ in $(seq 1 200); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [[ "$used_ports" == *" $port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then used_ports+="$port "; return 0; fi
  done
  die "no free loopback port found"
}

# Ends the processes recorded in $pids_file, silos first: SIGTERM (a silo leaves the cluster cleanly, which needs
# Redis still up), SIGKILL for any still running after 30 s; then Redis the same way.
term_and_wait() {
  local pids="$*"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 60); do
    local alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.5
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null && echo "killed $pid (did not stop within 30 s)" || true; done
}
stop_all() {
  [[ -f "$pids_file" ]] || { echo "nothing to stop: no $pids_file"; return 0; }
  local silo_pids redis_pids
  silo_pids=$(awk '$1 != "redis" {print $2}' "$pids_file")
  redis_pids=$(awk '$1 == "redis" {print $2}' "$pids_file")
  [[ -n "$silo_pids" ]] && term_and_wait $silo_pids
  [[ -n "$redis_pids" ]] && term_and_wait $redis_pids
  local count; count=$(wc -l < "$pids_file")
  rm -f "$pids_file"
  echo "stopped: $count process(es) of the cluster in $dir"
}

case "$command" in
  stop) stop_all; exit 0 ;;
  status)
    [[ -f "$pids_file" ]] || { echo "not running (no $pids_file)"; exit 3; }
    while read -r name pid; do
      if kill -0 "$pid" 2>/dev/null; then echo "$name pid $pid running"; else echo "$name pid $pid gone"; fi
    done < "$pids_file"
    exit 0 ;;
  start) ;;
  *) usage >&2; die "unknown command '$command'" ;;
esac

command -v redis-server >/dev/null || die "redis-server is not installed (Debian: apt-get install redis-server)"
[[ -f "$pids_file" ]] && die "a cluster started from $dir may still run ($pids_file exists): deploy/local/cluster.sh stop --dir $dir"
dll="${RLHF_DLL:-$repo/src/Client/bin/Release/net10.0/rlhf.dll}"
if [[ "${RLHF_NO_BUILD:-0}" != 1 ]]; then
  echo "building rlhf (Release)…"
  dotnet build "$repo/src/Client/Client.csproj" -c Release -nologo -v quiet >/dev/null
fi
[[ -f "$dll" ]] || die "$dll not found: build with 'dotnet build src/Client -c Release' or set RLHF_DLL"

mkdir -p "$dir/redis" "$dir/logs"
: > "$pids_file"
started_here=1
# Whatever ends this script (Ctrl+C, SIGTERM, a failed start, a silo that exits) stops what it started, except a
# successful --detach, which hands the processes to `stop`.
cleanup() { if [[ "$started_here" == 1 ]]; then started_here=0; stop_all; fi; }
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup' EXIT

# Redis: loopback only, its own directory, no snapshots (the cluster's state is small; a crash of the local Redis
# loses it, which the local form accepts), the password in a config file readable by this user only.
if [[ -z "$redis_port" ]]; then free_port; redis_port=$port; fi
redis_conf="$dir/redis/redis.conf"
umask 077
{
  echo "bind 127.0.0.1"
  echo "port $redis_port"
  echo "dir $dir/redis"
  echo "save \"\""
  echo "appendonly no"
  echo "protected-mode yes"
  [[ -n "${Rlhf__Redis__Password:-}" ]] && echo "requirepass \"${Rlhf__Redis__Password}\""
} > "$redis_conf"
umask 022
redis-server "$redis_conf" > "$dir/logs/redis.log" 2>&1 &
echo "redis $!" >> "$pids_file"
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then break; fi
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null || die "redis-server did not start on 127.0.0.1:$redis_port (see $dir/logs/redis.log)"

# Thread budget: processes that share cores must not each spin a thread per core (libtorch's OpenMP threads busy-wait
# at barriers; two such processes on the same cores collapse). Accelerator silos split the cores between them; the
# others do no model work and get one passive thread.
cores=$(nproc)
heavy=$(( accelerators > 0 ? accelerators : silos ))
per_heavy=$(( cores / heavy )); (( per_heavy < 1 )) && per_heavy=1

for i in $(seq 1 "$silos"); do
  free_port; silo_port=$port
  free_port; gateway_port=$port
  # A 128 MiB gen0 budget: far fewer GCs (535 → 8 gen0 collections over the same allocations, measured), so far
  # fewer chances for TorchSharp's finalizer to free a temporary Scalar mid-call (docs/torchsharp-on-debian.md).
  env_args=(DOTNET_GCgen0size=0x8000000)
  if (( i <= accelerators )); then
    env_args+=(Rlhf__Hardware__Accelerator=cuda Rlhf__Hardware__DeviceCount=1 Rlhf__Hardware__CpuThreadsPerWorker="$per_heavy")
    [[ "${RLHF_CUDA:-0}" == 1 ]] || env_args+=(Rlhf__Hardware__ComputeOnCpu=true)
  elif (( accelerators > 0 )); then
    env_args+=(Rlhf__Hardware__Accelerator=none Rlhf__Hardware__CpuThreadsPerWorker=1 OMP_WAIT_POLICY=PASSIVE)
  else
    env_args+=(Rlhf__Hardware__Accelerator=none Rlhf__Hardware__CpuThreadsPerWorker="$per_heavy")
  fi
  env "${env_args[@]}" dotnet "$dll" silo --redis "127.0.0.1:$redis_port" --silo-port "$silo_port" \
    --gateway-port "$gateway_port" --advertised-address 127.0.0.1 > "$dir/logs/silo-$i.out" 2> "$dir/logs/silo-$i.log" &
  echo "silo-$i $!" >> "$pids_file"
done

# Each silo prints "silo started" on stdout once it has joined; 120 s covers a cold start on a loaded machine.
for i in $(seq 1 "$silos"); do
  pid=$(awk -v n="silo-$i" '$1 == n {print $2}' "$pids_file")
  for _ in $(seq 1 240); do
    grep -q "silo started" "$dir/logs/silo-$i.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/logs/silo-$i.log" >&2; die "silo-$i (pid $pid) exited during start-up"; }
    sleep 0.5
  done
  grep -q "silo started" "$dir/logs/silo-$i.out" || die "silo-$i did not start within 120 s (see $dir/logs/silo-$i.log)"
done

endpoint="redis://127.0.0.1:$redis_port"
cat <<MSG
cluster up: redis $endpoint, $silos silo(s) ($accelerators advertising an accelerator), logs in $dir/logs
  rlhf cluster --cluster $endpoint
  rlhf run experiments/grpo-arithmetic.yaml --cluster $endpoint
  rlhf run experiments/grpo-arithmetic.yaml --detach --cluster $endpoint   # then: rlhf status grpo-arithmetic --cluster $endpoint
MSG
if [[ $detach -eq 1 ]]; then
  echo "  deploy/local/cluster.sh stop --dir $dir   # ends it"
  echo "CLUSTER=$endpoint"
  started_here=0
  exit 0
fi
echo "Ctrl+C stops the cluster."
# Foreground: wait until a process of the cluster exits or Ctrl+C arrives.
wait -n || true
echo "a process of the cluster exited; stopping the rest" >&2
