# shellcheck shell=bash
# Sourced by kafka.sh and kafka-cluster.sh: what a KRaft node of ours runs with, whichever
# script starts it.

# write_log4j FILE: Kafka's own log at INFO to stdout (the script sends it to the node's log file).
write_log4j() {
  cat >"$1" <<'LOG4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
LOG4J
}

# kafka_java_args HEAP LOG4J_FILE LOGS_DIR LIBS_DIR: sets JAVA_ARGS for `java ... kafka.Kafka`.
JAVA_ARGS=()
kafka_java_args() {
  JAVA_ARGS=("-Xmx$1" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true "-Dlog4j.configuration=file:$2" "-Dkafka.logs.dir=$3" -cp "$4/*")
}
