#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) for development and tests.
#
#   deploy/kafka/broker.sh start   # prints the bootstrap address once the broker accepts connections
#   deploy/kafka/broker.sh stop    # deletes the data dir (topics, offsets) unless KEEP_DATA=1
#   deploy/kafka/broker.sh kill    # kill -9, keeps the data dir (fault tests restart on it)
#
# A recovery store (`storywire run -r DIR`) belongs to the broker's data: after a stop that deleted it,
# start the flow with a fresh -r directory (storywire refuses a store written against other data).
#
# Environment: KAFKA_PORT (default 9092; the controller uses KAFKA_PORT+1),
# KAFKA_DIR (data, config and broker.log; default: a new temporary directory),
# KEEP_DATA (set: `stop` keeps the data dir, and the next `start` on this port reuses it),
# KAFKA_READY_TIMEOUT (seconds, default 90). Jars come from Maven Central via
# pom.xml into .kafka/lib on first use (needs Java 17+ and Maven).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB="$ROOT/.kafka/lib"
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=$((PORT + 1))
STATE="$ROOT/.kafka/broker-$PORT"   # remembers the pid and data dir of the broker on this port
TIMEOUT=${KAFKA_READY_TIMEOUT:-90}

jars() {
  if [ ! -f "$LIB/.complete" ]; then
    mkdir -p "$LIB"
    mvn -q -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB" >&2
    touch "$LIB/.complete"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if [ -f "$STATE.pid" ] && kill -0 "$(cat "$STATE.pid")" 2>/dev/null; then
    echo "a broker is already running on port $PORT (pid $(cat "$STATE.pid"))" >&2; exit 1
  fi
  if port_open "$PORT"; then echo "port $PORT is already in use" >&2; exit 1; fi
  jars
  local dir
  if [ -n "${KAFKA_DIR:-}" ]; then dir=$KAFKA_DIR; elif [ -f "$STATE.dir" ]; then dir=$(cat "$STATE.dir"); else dir=$(mktemp -d /tmp/storywire-kafka.XXXXXX); fi
  mkdir -p "$dir/data"
  echo "$dir" > "$STATE.dir"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$CONTROLLER_PORT
listeners=PLAINTEXT://localhost:$PORT,CONTROLLER://localhost:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://localhost:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  local java=(java -Xmx512m -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$HERE/log4j2.properties" -cp "$LIB/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$("${java[@]}" kafka.tools.StorageTool random-uuid)
    "${java[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$dir/server.properties" > "$dir/format.log"
  fi
  nohup "${java[@]}" kafka.Kafka "$dir/server.properties" > "$dir/stdout.log" 2>&1 &
  echo $! > "$STATE.pid"
  for _ in $(seq "$TIMEOUT"); do
    if port_open "$PORT"; then echo "localhost:$PORT"; return 0; fi
    if ! kill -0 "$(cat "$STATE.pid")" 2>/dev/null; then
      echo "broker exited during start-up; see $dir/broker.log and $dir/stdout.log" >&2; exit 1
    fi
    sleep 1
  done
  echo "broker not ready after ${TIMEOUT}s; see $dir/broker.log" >&2; exit 1
}

stop() {
  local signal=${1:-TERM}
  [ -f "$STATE.pid" ] || { echo "no broker recorded on port $PORT" >&2; return 0; }
  local pid; pid=$(cat "$STATE.pid")
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  rm -f "$STATE.pid"
  if [ "$signal" = TERM ] && [ -z "${KEEP_DATA:-}" ]; then
    rm -rf "$(cat "$STATE.dir")" "$STATE.dir"
    echo "broker on port $PORT stopped, its topics deleted: recovery stores written against it (storywire run -r DIR) no longer apply (KEEP_DATA=1 keeps the data)" >&2
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  *) echo "usage: $0 start|stop|kill" >&2; exit 2 ;;
esac
