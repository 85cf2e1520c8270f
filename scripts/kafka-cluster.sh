#!/usr/bin/env bash
# A real three-node Apache Kafka cluster (KRaft, each node a combined broker+controller) on
# 127.0.0.1, from the same Maven Central jars as scripts/kafka.sh, for the long fault runs:
# replication factor 3, min.insync.replicas 2, unclean leader election off.
#
# Run it through scripts/kafka.sh (this file is its cluster mode):
#   KAFKA_CLUSTER=3 bash scripts/kafka.sh start|stop|status|restart|reset
#   bash scripts/kafka.sh node-start|node-stop|node-kill|node-freeze|node-thaw N   (N = 1..3)
#   bash scripts/kafka.sh leader TOPIC PARTITION     prints the node id leading that partition
#   bash scripts/kafka.sh isr [--wait] [TOPIC...]    partitions whose ISR is short (all topics by
#                                                    default); --wait: until there are none
#   bash scripts/kafka.sh brokers                    prints the KAFKA_BROKERS value of the cluster
# node-* / leader / isr / brokers imply KAFKA_CLUSTER=3.
#
# Node N: PLAINTEXT 127.0.0.1:919(1+N), CONTROLLER 127.0.0.1:929(1+N); node.id N; data, logs,
# config and pid in $KAFKA_HOME/cluster/node-N. The single broker of scripts/kafka.sh (9092/9093)
# is never touched.
#   start       start every node that is not running, wait until all three are ready
#   stop        graceful stop of all three (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT)
#   node-stop   graceful stop of one node;  node-kill: SIGKILL of one node
#   node-freeze SIGSTOP one node;           node-thaw: SIGCONT it
#   reset       stop and delete the cluster's data and logs (jars stay cached)
# Env: KAFKA_HOME (<repo>/.kafka)  KAFKA_CLUSTER_HEAP (512m)  KAFKA_START_TIMEOUT (120 s)
#      KAFKA_STOP_TIMEOUT (30 s)  KAFKA_VERSION (3.9.1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/kafka-jvm.sh
. "$ROOT/scripts/kafka-jvm.sh"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.kafka}"
HEAP="${KAFKA_CLUSTER_HEAP:-512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
NODES=(1 2 3)
LIBS="$KAFKA_HOME/libs-$KAFKA_VERSION"
CLUSTER="$KAFKA_HOME/cluster"

if [ -n "${KAFKA_CLUSTER:-}" ] && [ "$KAFKA_CLUSTER" != 3 ]; then
  echo "kafka: KAFKA_CLUSTER=$KAFKA_CLUSTER unsupported (3 is the only cluster size)" >&2
  exit 2
fi

log() { echo "kafka-cluster: $*"; }
die() {
  echo "kafka-cluster: $*" >&2
  exit 1
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
broker_port() { echo $((9191 + $1)); }
controller_port() { echo $((9291 + $1)); }
node_dir() { echo "$CLUSTER/node-$1"; }

check_node() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"
}

# Pid of node N's broker if this script started it and it still runs (a reused pid does not count).
node_pid() {
  local dir pid
  dir="$(node_dir "$1")"
  [ -f "$dir/kafka.pid" ] || return 1
  pid="$(cat "$dir/kafka.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $dir/config/server.properties" || return 1
  echo "$pid"
}

frozen() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ]; }

write_config() {
  local n="$1" dir voters=""
  dir="$(node_dir "$n")"
  mkdir -p "$dir/config" "$dir/data" "$dir/logs"
  for m in "${NODES[@]}"; do voters="${voters:+$voters,}$m@127.0.0.1:$(controller_port "$m")"; done
  cat >"$dir/config/server.properties" <<EOF
process.roles=broker,controller
node.id=${n}
controller.quorum.voters=${voters}
# 127.0.0.1, not localhost: Node may resolve localhost to ::1
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dir}/data
auto.create.topics.enable=true
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
# lets tests use short consumer session timeouts
group.min.session.timeout.ms=1000
# Fault runs freeze and kill brokers: a broker silent for 6 s is fenced by the controllers, a
# follower 8 s behind leaves the ISR (so acks=all stops waiting for it) instead of 30 s.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=8000
# the default 128 MiB dedupe buffer is much of a small heap
log.cleaner.dedupe.buffer.size=1048577
EOF
  write_log4j "$dir/config/log4j.properties"
}

java_args() {
  local dir
  dir="$(node_dir "$1")"
  kafka_java_args "$HEAP" "$dir/config/log4j.properties" "$dir/logs" "$LIBS"
}

cluster_id() {
  # One id for the three nodes, kept beside them so a reset node rejoins the same cluster.
  if [ ! -s "$CLUSTER/cluster.id" ]; then
    mkdir -p "$CLUSTER"
    # 16 random bytes, base64url without padding: the form of Kafka's Uuid
    head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-22 >"$CLUSTER/cluster.id"
  fi
  cat "$CLUSTER/cluster.id"
}

format_node() {
  local n="$1" dir
  dir="$(node_dir "$n")"
  [ -f "$dir/data/meta.properties" ] && return 0
  java_args "$n"
  if ! java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$(cluster_id)" \
    -c "$dir/config/server.properties" --ignore-formatted >"$dir/logs/format.out" 2>&1; then
    cat "$dir/logs/format.out" >&2
    die "formatting $dir/data failed"
  fi
}

# Launches node N (no wait). Returns at once when it already runs.
launch_node() {
  local n="$1" dir pid port
  dir="$(node_dir "$n")"
  if pid="$(node_pid "$n")"; then
    frozen "$pid" && die "node $n (pid $pid) is frozen: node-thaw $n first"
    return 0
  fi
  port="$(broker_port "$n")"
  port_open "$port" && die "127.0.0.1:$port already answers, but not a node this script started"
  port_open "$(controller_port "$n")" && die "127.0.0.1:$(controller_port "$n") already answers, but not a node this script started"
  write_config "$n"
  format_node "$n"
  [ -f "$dir/logs/server.out" ] && mv -f "$dir/logs/server.out" "$dir/logs/server.out.1"
  java_args "$n"
  # Own session: signals to the caller's process group must not reach the broker. 9>&-: it must
  # not inherit (and hold) this script's lock.
  setsid java "${JAVA_ARGS[@]}" kafka.Kafka "$dir/config/server.properties" >"$dir/logs/server.out" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/kafka.pid"
}

# Waits until node N logged `Kafka Server started` and its port accepts connections.
wait_node() {
  local n="$1" dir pid deadline=$((SECONDS + START_TIMEOUT))
  dir="$(node_dir "$n")"
  pid="$(node_pid "$n")" || die "node $n is not running (see $dir/logs/server.out)"
  while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -q "Kafka Server started" "$dir/logs/server.out" 2>/dev/null && port_open "$(broker_port "$n")"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/logs/server.out" >&2 || true
      die "node $n (pid $pid) exited while starting"
    fi
    sleep 0.25
  done
  tail -n 40 "$dir/logs/server.out" >&2 || true
  die "node $n not ready after ${START_TIMEOUT}s (a broker needs 2 of the 3 controllers up to start)"
}

# SIGTERM (SIGCONT first if frozen), SIGKILL after STOP_TIMEOUT; returns when the process is gone.
stop_node() {
  local n="$1" pid deadline
  pid="$(node_pid "$n")" || {
    rm -f "$(node_dir "$n")/kafka.pid"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "node $n (pid $pid) still running after ${STOP_TIMEOUT}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(node_dir "$n")/kafka.pid"
  log "node $n stopped (pid $pid)"
}

kill_node() {
  local n="$1" pid
  pid="$(node_pid "$n")" || die "node $n is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$(node_dir "$n")/kafka.pid"
  log "node $n killed (SIGKILL, pid $pid)"
}

signal_node() { # N SIGNAL verb
  local pid
  pid="$(node_pid "$1")" || die "node $1 is not running"
  kill "-$2" "$pid"
  log "node $1 $3 (SIG$2, pid $pid)"
}

start_all() {
  local started=$SECONDS
  command -v java >/dev/null || die "java not found (Java 17+ is needed)"
  KAFKA_CLUSTER='' KAFKA_BROKERS='' bash "$ROOT/scripts/kafka.sh" fetch >/dev/null
  # All at once: a node's broker waits for a controller quorum (2 of 3) before it is ready.
  for n in "${NODES[@]}"; do launch_node "$n"; done
  for n in "${NODES[@]}"; do wait_node "$n"; done
  log "3 nodes up on 127.0.0.1:9192,9193,9194 (cluster $(cluster_id)) in $((SECONDS - started))s"
}

stop_all() {
  # In parallel: stopped one by one, the last node would wait for a controller quorum that is gone.
  local pids=()
  for n in "${NODES[@]}"; do
    stop_node "$n" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for n in "${NODES[@]}"; do
    local deadline=$((SECONDS + 10))
    while port_open "$(broker_port "$n")"; do
      [ "$SECONDS" -lt "$deadline" ] || die "node $n is gone but 127.0.0.1:$(broker_port "$n") still answers"
      sleep 0.2
    done
  done
  log "stopped"
}

status() {
  local n pid up=0
  for n in "${NODES[@]}"; do
    if pid="$(node_pid "$n")"; then
      if frozen "$pid"; then
        log "node $n frozen (SIGSTOP, pid $pid)"
      elif port_open "$(broker_port "$n")"; then
        log "node $n up on 127.0.0.1:$(broker_port "$n") (pid $pid)"
        up=$((up + 1))
      else
        log "node $n pid $pid runs but 127.0.0.1:$(broker_port "$n") does not answer (starting or stuck)"
      fi
    else
      log "node $n down"
    fi
  done
  [ "$up" -eq 3 ]
}

topic_tool() {
  [ -d "$ROOT/node_modules/kafkajs" ] || die "kafkajs is not installed: run pnpm install first"
  # The project's Node (>= 22, runs .ts); `. scripts/toolchain.sh` shows why when this fails.
  # shellcheck source=toolchain.sh
  . "$ROOT/scripts/toolchain.sh" 2>/dev/null || die "no suitable Node: run '. scripts/toolchain.sh' to see why"
  # kafkajs 2.2.4 sets negative timers, which Node 24 reports on every run.
  KAFKA_BROKERS="$(brokers)" node --disable-warning=TimeoutNegativeWarning "$ROOT/scripts/kafka-topic-state.ts" "$@"
}

brokers() { echo "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"; }

lock() {
  mkdir -p "$CLUSTER"
  exec 9>"$CLUSTER/.lock"
  # commands from parallel callers must not interleave
  flock -w 300 9 || die "could not lock $CLUSTER/.lock"
}

cmd="${1:-start}"
case "$cmd" in
  start)
    lock
    start_all
    ;;
  stop)
    lock
    stop_all
    ;;
  restart)
    lock
    stop_all
    start_all
    ;;
  reset)
    lock
    stop_all
    for n in "${NODES[@]}"; do rm -rf "$(node_dir "$n")"; done
    rm -f "$CLUSTER/cluster.id"
    log "data and logs removed from $CLUSTER"
    ;;
  status) status ;;
  fetch) KAFKA_CLUSTER='' KAFKA_BROKERS='' bash "$ROOT/scripts/kafka.sh" fetch ;;
  node-start)
    check_node "${2:-}"
    lock
    launch_node "$2"
    wait_node "$2"
    log "node $2 up on 127.0.0.1:$(broker_port "$2") (pid $(node_pid "$2"))"
    ;;
  node-stop)
    check_node "${2:-}"
    lock
    stop_node "$2"
    ;;
  node-kill)
    check_node "${2:-}"
    lock
    kill_node "$2"
    ;;
  node-freeze)
    check_node "${2:-}"
    signal_node "$2" STOP frozen
    ;;
  node-thaw)
    check_node "${2:-}"
    signal_node "$2" CONT thawed
    ;;
  leader)
    [ $# -eq 3 ] || die "usage: kafka.sh leader TOPIC PARTITION"
    topic_tool leader "$2" "$3"
    ;;
  isr)
    shift
    topic_tool isr "$@"
    ;;
  brokers) brokers ;;
  *)
    echo "usage: KAFKA_CLUSTER=3 $0 start|stop|status|restart|reset|fetch|brokers | node-start|node-stop|node-kill|node-freeze|node-thaw N | leader TOPIC PARTITION | isr [--wait] [TOPIC...]" >&2
    exit 2
    ;;
esac
