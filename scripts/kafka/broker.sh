#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, combined broker+controller) for tests and local use,
# run from Maven Central jars: no Kafka install, no Docker.
#
#   scripts/kafka/broker.sh start    fetch jars if needed, format a fresh log dir, start, wait until ready;
#                                    prints KAFKA_BROKERS=127.0.0.1:<port>. Already running: says so, exit 0.
#   scripts/kafka/broker.sh stop     stop it and delete its data. Not running: says so, exit 0.
#   scripts/kafka/broker.sh status   exit 0 and print KAFKA_BROKERS=... when running, exit 3 when not.
#
# Environment: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_RUN_DIR (scripts/kafka/run),
# KAFKA_READY_TIMEOUT seconds (120), KAFKA_HEAP (512m), KAFKA_JVM_OPTS (see below).
#
# Broker version: Apache Kafka 4.4.0 (pom.xml), the newest 4.x on Maven Central; runs on Java 17.
# kafkajs 2.2.4 (no release since 2023) was checked against it and works: explicit topic creation,
# transactional producer commit and abort, sendOffsets, read_committed and read_uncommitted consumers
# (test/kafka/smoke.test.ts). The cluster is formatted with transaction.version=2, but kafkajs's old
# EndTxn/AddPartitionsToTxn versions keep its producers on the classic transaction protocol, and the
# request versions kafkajs negotiates are still served (KIP-896 in 4.0 removed only older ones).
# So no fallback to 3.9.1 was needed.
# One kafkajs + KRaft quirk, not specific to 4.x: createTopics({ waitForLeaders: true }) may throw
# UNKNOWN_TOPIC_OR_PARTITION "This server does not host this topic-partition" for a moment after the
# topic is created (kafkajs issues #815, #1563): create with waitForLeaders: false and poll
# fetchTopicMetadata until every partition has a leader, retrying retriable errors.
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB_DIR="$KAFKA_DIR/lib"
LIB_MARKER="$LIB_DIR/.pom.sha256"
RUN_DIR="${KAFKA_RUN_DIR:-$KAFKA_DIR/run}"
DATA_DIR="$RUN_DIR/data"
PID_FILE="$RUN_DIR/broker.pid"
LOG_FILE="$RUN_DIR/broker.log"
BROKERS_FILE="$RUN_DIR/brokers"
CONFIG_FILE="$RUN_DIR/server.properties"
HOST=127.0.0.1
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
HEAP="${KAFKA_HEAP:-512m}"
# C1 only and the serial GC: a test broker starts in 6-13 s instead of 15-16 s on a loaded 2-core
# machine (measured at load average 5-7), and tests move little data. Benchmarks can set KAFKA_JVM_OPTS.
read -r -a JVM_OPTS <<<"${KAFKA_JVM_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"

log() { echo "kafka: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# The pid of the running broker, or nothing. A pid file whose process is gone, or is no longer
# a Kafka broker (pid reused), counts as not running.
is_broker_process() {
  [[ -n "$1" ]] && grep -q 'kafka\.Kafka' "/proc/$1/cmdline" 2>/dev/null
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(cat "$PID_FILE")"
  if is_broker_process "$pid"; then
    echo "$pid"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Copies the broker's runtime jars into lib/ unless lib/ already holds those of this exact pom.
fetch_jars() {
  local pom_sha
  pom_sha="$(sha256sum "$KAFKA_DIR/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$LIB_MARKER" && "$(cat "$LIB_MARKER")" == "$pom_sha" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn is not on PATH: it is needed once to fetch the Kafka jars"
  log "fetching Kafka jars from Maven Central into $LIB_DIR"
  rm -rf "$LIB_DIR.partial"
  mvn -B -q -Dstyle.color=never -f "$KAFKA_DIR/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB_DIR.partial" >&2 ||
    die "Maven could not fetch the Kafka jars (see its output above)"
  rm -rf "$LIB_DIR"
  mv "$LIB_DIR.partial" "$LIB_DIR"
  echo "$pom_sha" >"$LIB_MARKER"
}

write_config() {
  cat >"$CONFIG_FILE" <<EOF
# Written by scripts/kafka/broker.sh for one run; edits are lost at the next start.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA_DIR

# One node: every internal topic has one replica and one partition.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

# Tests create their topics explicitly and want consumer groups to form at once.
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0

# A 2-core machine: fewer threads than the defaults.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
EOF
}

java_tool() {
  java -Xmx256m "${JVM_OPTS[@]}" -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" "$@"
}

print_brokers() {
  echo "KAFKA_BROKERS=$(cat "$BROKERS_FILE" 2>/dev/null || echo "$HOST:$PORT")"
}

start_broker() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    log "broker already running (pid $pid)"
    node "$KAFKA_DIR/wait-ready.mjs" "$(cat "$BROKERS_FILE")" "$READY_TIMEOUT" "$pid" >&2 ||
      die "the running broker (pid $pid) does not answer; see $LOG_FILE or run: $0 stop"
    print_brokers
    return 0
  fi

  command -v java >/dev/null || die "java is not on PATH: the broker needs Java 17 or newer"
  command -v node >/dev/null || die "node is not on PATH: it checks that the broker is ready"
  for p in "$PORT" "$CONTROLLER_PORT"; do
    port_in_use "$p" && die "port $p on $HOST is taken by another process; set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
  done
  fetch_jars

  local started_at=$SECONDS
  mkdir -p "$RUN_DIR"
  rm -rf "$DATA_DIR" "$PID_FILE" "$BROKERS_FILE" "$RUN_DIR/test-runs" "$RUN_DIR/started-by-tests"
  write_config
  local cluster_id
  # The tool logs a line to stdout before the id: keep the last line only.
  cluster_id="$(java_tool kafka.tools.StorageTool random-uuid | tail -n 1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid printed no cluster id: $cluster_id"
  java_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONFIG_FILE" >"$LOG_FILE" 2>&1 ||
    die "formatting the log dir failed: $(tail -n 20 "$LOG_FILE")"

  # setsid: the broker outlives this script and the terminal or test run that called it.
  # 9>&-: the broker must not inherit the lock taken in with_lock.
  setsid java -Xmx"$HEAP" "${JVM_OPTS[@]}" -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG_FILE" >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$HOST:$PORT" >"$BROKERS_FILE"
  log "broker starting (pid $pid, log $LOG_FILE)"

  if ! node "$KAFKA_DIR/wait-ready.mjs" "$HOST:$PORT" "$READY_TIMEOUT" "$pid" >&2; then
    log "last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
    stop_broker >/dev/null 2>&1 || true
    die "the broker did not become ready"
  fi
  log "broker ready in $((SECONDS - started_at))s"
  print_brokers
}

stop_broker() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    log "broker not running"
    rm -rf "$PID_FILE" "$BROKERS_FILE" "$DATA_DIR" "$RUN_DIR/test-runs" "$RUN_DIR/started-by-tests"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # A controlled shutdown of one node takes a few seconds; a broker stuck past 30 s is killed.
  local waited=0
  while is_broker_process "$pid"; do
    if ((waited >= 300)); then
      log "broker still running after 30s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -rf "$PID_FILE" "$BROKERS_FILE" "$DATA_DIR" "$RUN_DIR/test-runs" "$RUN_DIR/started-by-tests"
  log "broker stopped"
}

status_broker() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    log "broker not running"
    return 3
  fi
  log "broker running (pid $pid, log $LOG_FILE)"
  print_brokers
}

# One start or stop at a time (say, a test run and `npm run kafka:start` racing).
with_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/broker.lock"
  flock 9
  "$@"
}

case "${1:-}" in
start) with_lock start_broker ;;
stop) with_lock stop_broker ;;
status) status_broker ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
