#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1,
# run from the Kafka jars on Maven Central (needs java 17+, and mvn for the first fetch).
#
# Usage: scripts/kafka.sh start|stop|status|restart|reset|fetch   (default: start)
#   start    start the broker (no-op when it already runs); data survives stop/start
#   stop     stop the broker this script started and wait until its port is closed
#   restart  stop + start, same data and cluster id
#   reset    stop and delete data and logs (jars stay cached)
#   fetch    only download the jars into $KAFKA_HOME/libs-$KAFKA_VERSION
# Env: KAFKA_VERSION (3.9.1)  KAFKA_HOME (<repo>/.kafka)  KAFKA_PORT (9092)
#      KAFKA_CONTROLLER_PORT (9093)  KAFKA_HEAP (768m)  KAFKA_START_TIMEOUT (90 s)
#      KAFKA_BROKERS: an external broker list; then `start` only checks that the first
#      host:port accepts TCP connections (KAFKA_CHECK_TIMEOUT, 30 s) and starts nothing;
#      stop/restart/reset refuse, as that broker is not this script's.
#
# Cluster mode (three KRaft nodes on 9192-9194, controllers 9292-9294; scripts/kafka-cluster.sh):
#   KAFKA_CLUSTER=3 bash scripts/kafka.sh start|stop|status|restart|reset
#   bash scripts/kafka.sh node-start|node-stop|node-kill|node-freeze|node-thaw N   (N = 1..3)
#   bash scripts/kafka.sh leader TOPIC PARTITION | isr [--wait] [TOPIC...] | brokers
# The single broker above is not touched by any of them.
set -euo pipefail

case "${1:-start}" in
  node-* | leader | isr | brokers) exec env KAFKA_CLUSTER="${KAFKA_CLUSTER:-3}" bash "$(dirname "${BASH_SOURCE[0]}")/kafka-cluster.sh" "$@" ;;
esac
if [ -n "${KAFKA_CLUSTER:-}" ]; then
  exec bash "$(dirname "${BASH_SOURCE[0]}")/kafka-cluster.sh" "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source=scripts/kafka-jvm.sh
. "$ROOT/scripts/kafka-jvm.sh"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.kafka}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_CHECK_TIMEOUT="${KAFKA_CHECK_TIMEOUT:-30}"
KAFKA_BROKERS="${KAFKA_BROKERS:-}"
# Pinned so Maven does no plugin prefix / metadata lookup.
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

LIBS="$KAFKA_HOME/libs-$KAFKA_VERSION"
DATA="$KAFKA_HOME/data"
LOGS="$KAFKA_HOME/logs"
CONF="$KAFKA_HOME/config"
PIDFILE="$KAFKA_HOME/kafka.pid"
LOG="$LOGS/server.out"

case "$KAFKA_VERSION" in
  3.*) ;;
  *)
    echo "kafka.sh: KAFKA_VERSION=$KAFKA_VERSION unsupported (3.x only)" >&2
    exit 2
    ;;
esac

log() { echo "kafka: $*"; }
die() {
  echo "kafka: $*" >&2
  exit 1
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
local_up() { port_open 127.0.0.1 "$KAFKA_PORT"; }

# Pid of the broker this script started, if it still runs (a reused pid does not count).
managed_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $CONF/server.properties" || return 1
  echo "$pid"
}

cluster_id() { sed -n 's/^cluster.id=//p' "$DATA/meta.properties" 2>/dev/null || true; }

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found: needed once to fetch the Kafka $KAFKA_VERSION jars"
  mkdir -p "$KAFKA_HOME/pom"
  # 3.x declares reload4j only as compileOnly, but kafka.utils.Log4jController needs
  # org.apache.log4j at runtime: add the logging jars the release tarball ships.
  cat >"$KAFKA_HOME/pom/pom.xml" <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.onceflow</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
XML
  log "fetching Kafka $KAFKA_VERSION jars with Maven into $LIBS"
  rm -rf "$LIBS.tmp"
  mkdir -p "$LIBS.tmp"
  if ! mvn -B -q -f "$KAFKA_HOME/pom/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
    -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime >"$KAFKA_HOME/pom/mvn.out" 2>&1; then
    cat "$KAFKA_HOME/pom/mvn.out" >&2
    rm -rf "$LIBS.tmp"
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
  fi
  compgen -G "$LIBS.tmp/kafka_2.13-*.jar" >/dev/null || die "no kafka_2.13 jar in $LIBS.tmp after mvn"
  touch "$LIBS.tmp/.complete"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
}

write_config() {
  mkdir -p "$CONF" "$DATA" "$LOGS"
  cat >"$CONF/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
# 127.0.0.1, not localhost: Node may resolve localhost to ::1
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA}
auto.create.topics.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# the default 50 partitions make the first group join slow on small machines
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# lets tests use short consumer session timeouts
group.min.session.timeout.ms=1000
# the default 128 MiB dedupe buffer is much of a small heap
log.cleaner.dedupe.buffer.size=1048577
EOF
  write_log4j "$CONF/log4j.properties"
}

java_args() { kafka_java_args "$KAFKA_HEAP" "$CONF/log4j.properties" "$LOGS" "$LIBS"; }

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  # 16 random bytes, base64url without padding: the form of Kafka's Uuid
  local cid
  cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-22)"
  java_args
  if ! java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$cid" \
    -c "$CONF/server.properties" --ignore-formatted >"$LOGS/format.out" 2>&1; then
    cat "$LOGS/format.out" >&2
    die "formatting $DATA failed"
  fi
}

start_local() {
  local pid started=$SECONDS
  if pid="$(managed_pid)"; then
    # Already ours: healthy now, or still starting up.
    local_up || wait_ready "$pid" || return 1
    log "already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    return 0
  fi
  rm -f "$PIDFILE"
  if local_up; then
    log "127.0.0.1:$KAFKA_PORT already answers (not a broker this script started); using it"
    return 0
  fi
  command -v java >/dev/null || die "java not found (Java 17+ is needed)"
  fetch
  write_config
  format_storage
  [ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"
  java_args
  # Own session: signals to the caller's process group (Ctrl-C, CI timeouts) must not reach
  # the broker. 9>&-: it must not inherit (and hold) this script's lock.
  setsid java "${JAVA_ARGS[@]}" kafka.Kafka "$CONF/server.properties" >"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  if ! wait_ready "$pid"; then
    echo "kafka: broker failed to start; last log lines ($LOG):" >&2
    tail -n 60 "$LOG" >&2 || true
    stop_local >/dev/null 2>&1 || true
    return 1
  fi
  log "kafka $KAFKA_VERSION up on 127.0.0.1:$KAFKA_PORT (pid $pid, cluster $(cluster_id)) in $((SECONDS - started))s"
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -q "Kafka Server started" "$LOG" 2>/dev/null && local_up; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "kafka: broker process $pid exited" >&2
      return 1
    fi
    sleep 0.25
  done
  echo "kafka: broker not ready after ${KAFKA_START_TIMEOUT}s" >&2
  return 1
}

stop_local() {
  local pid deadline
  if ! pid="$(managed_pid)"; then
    rm -f "$PIDFILE"
    if local_up; then
      log "not running from this script; 127.0.0.1:$KAFKA_PORT still answers (someone else's broker, left alone)"
    else
      log "not running"
    fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still running after ${KAFKA_STOP_TIMEOUT}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  # Callers (fault tests) rely on the port being closed when stop returns.
  deadline=$((SECONDS + 10))
  while local_up; do
    [ "$SECONDS" -lt "$deadline" ] || die "pid $pid is gone but 127.0.0.1:$KAFKA_PORT still answers"
    sleep 0.2
  done
  rm -f "$PIDFILE"
  log "stopped (pid $pid)"
}

first_broker() { # KAFKA_BROKERS "a:1,b:2" -> "a 1"
  local b="${KAFKA_BROKERS%%,*}" host port
  b="${b//[[:space:]]/}"
  b="${b#*://}"
  host="${b%:*}" port="${b##*:}"
  [ "$host" = "$b" ] && port=9092
  host="${host#\[}" host="${host%\]}"
  echo "$host $port"
}

check_external() {
  local host port deadline=$((SECONDS + KAFKA_CHECK_TIMEOUT))
  read -r host port < <(first_broker)
  until port_open "$host" "$port"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "KAFKA_BROKERS=$KAFKA_BROKERS: $host:$port does not accept connections (waited ${KAFKA_CHECK_TIMEOUT}s)"
    fi
    sleep 0.5
  done
  log "using external broker(s) KAFKA_BROKERS=$KAFKA_BROKERS ($host:$port accepts connections); nothing started"
}

status() {
  local pid host port
  if pid="$(managed_pid)"; then
    if local_up; then
      log "up on 127.0.0.1:$KAFKA_PORT (pid $pid, kafka $KAFKA_VERSION, cluster $(cluster_id), $KAFKA_HOME)"
      return 0
    fi
    log "pid $pid runs but 127.0.0.1:$KAFKA_PORT does not answer (starting or stuck)"
    return 1
  fi
  if [ -n "$KAFKA_BROKERS" ]; then
    read -r host port < <(first_broker)
    if port_open "$host" "$port"; then
      log "external broker $host:$port up (KAFKA_BROKERS)"
      return 0
    fi
    log "external broker $host:$port down (KAFKA_BROKERS)"
    return 1
  fi
  if local_up; then
    log "127.0.0.1:$KAFKA_PORT up (not started by this script)"
    return 0
  fi
  log "down"
  return 1
}

lock() {
  mkdir -p "$KAFKA_HOME"
  exec 9>"$KAFKA_HOME/.lock"
  # start/stop from parallel callers must not interleave
  flock -w 300 9 || die "could not lock $KAFKA_HOME/.lock"
}

external_refuse() {
  [ -z "$KAFKA_BROKERS" ] && return 0
  die "KAFKA_BROKERS is set ($KAFKA_BROKERS): that broker is not managed by this script, so it cannot $1 it (unset KAFKA_BROKERS to use the local broker)"
}

case "${1:-start}" in
  start)
    if [ -n "$KAFKA_BROKERS" ]; then
      check_external
    else
      lock
      start_local
    fi
    ;;
  stop)
    external_refuse stop
    lock
    stop_local
    ;;
  restart)
    external_refuse restart
    lock
    stop_local
    start_local
    ;;
  reset)
    external_refuse reset
    lock
    stop_local
    rm -rf "$DATA" "$LOGS"
    log "data and logs removed from $KAFKA_HOME"
    ;;
  fetch)
    lock
    fetch
    log "jars in $LIBS"
    ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status|restart|reset|fetch" >&2
    exit 2
    ;;
esac
