#!/usr/bin/env bash
# Compares MQTT brokers under the same `mqttspec bench` load, on 127.0.0.1 only.
#
# Brokers: the mqttspec reference broker (always), Mosquitto (if `mosquitto` is on PATH) and
# rumqttd (if $RUMQTTD, default /opt/rumqttd/bin/rumqttd, is executable). Each runs with its
# default settings (listeners on 127.0.0.1 only; no persistence, console or metrics).
# Mosquitto leaves TCP_NODELAY off by default; with it on (`set_tcp_nodelay true`, as the
# other two always have it) it writes every packet as its own segment and its flat-out
# throughput drops. Broker "mosquitto" is its default configuration (MOSQUITTO_NODELAY=1
# turns TCP_NODELAY on for it); broker "mosquitto-nodelay" is a second Mosquitto with
# `set_tcp_nodelay true`, so both configurations can run side by side in one run.
#
# Scenarios: QoS 0 and QoS 1, 1 KiB payload, fan-in (4 publishers -> 1 subscriber) and
# fan-out (1 publisher -> 8 subscribers), each flat out (throughput and loss) and at a fixed
# rate per publisher (latency percentiles), and a single path (1 -> 1) at a fixed rate.
# For each scenario the brokers take turns (A B C A B C ...) for $ROUNDS rounds, so
# background noise spreads over all of them.
#
# Output: one JSON per run and summary.md (a table per scenario, brokers side by side, the
# median run of each broker shown, plus every run's p50 and their median) in $OUT.
#
# Environment: DURATION (s per run, default 8), ROUNDS (default 2), RATE (msg/s per publisher
# in the fixed-rate scenarios, default 1000), PROTOCOL (3.1.1 or 5, default 5), OUT
# (default target/bench-brokers/<time>), BROKERS (space-separated subset of
# "reference mosquitto mosquitto-nodelay rumqttd"; default: all but mosquitto-nodelay),
# SCENARIOS (subset of the scenario names below), MOSQUITTO_NODELAY (see above), BENCH_ARGS
# (more `mqttspec bench` arguments for every run, e.g. "--shared-runtime"), RUMQTTD (path of the rumqttd binary), MQTTSPEC and REFERENCE
# (prebuilt mqttspec and reference-broker binaries; when both are set nothing is built, e.g.
# to use another CARGO_TARGET_DIR), BASELINE (a second reference-broker binary, e.g. a build
# from before a change, benchmarked as broker "baseline" next to the others).
#
# Usage: scripts/bench-brokers.sh            (from the workspace root; about 8 minutes)
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/lib/brokers.sh
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-2}
RATE=${RATE:-1000}
PROTOCOL=${PROTOCOL:-5}
RUMQTTD=${RUMQTTD:-/opt/rumqttd/bin/rumqttd}
OUT=${OUT:-target/bench-brokers/$(date +%Y%m%d-%H%M%S)}
BASE_PORT=${BASE_PORT:-18900}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [[ -z ${MQTTSPEC:-} || -z ${REFERENCE:-} ]]; then
    echo "== building release binaries"
    cargo build --release -p mqttspec -p mqttspec-reference-broker
fi
BENCH=${MQTTSPEC:-target/release/mqttspec}
REFERENCE=${REFERENCE:-target/release/reference-broker}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT


declare -A PORT
declare -A VERSION
AVAILABLE=()
WANTED=${BROKERS:-"reference mosquitto rumqttd"}

if [[ " $WANTED " == *" reference "* ]]; then
    PORT[reference]=$BASE_PORT
    "$REFERENCE" --listen "127.0.0.1:$BASE_PORT" >"$OUT/reference.log" 2>&1 &
    PIDS+=($!)
    VERSION[reference]="reference-broker $("$REFERENCE" --version | awk '{print $2}') (release build)"
    AVAILABLE+=(reference)
fi

if [[ -n ${BASELINE:-} ]]; then
    # Another reference-broker build, e.g. before a change, run as broker "baseline".
    PORT[baseline]=$((BASE_PORT + 4))
    "$BASELINE" --listen "127.0.0.1:${PORT[baseline]}" >"$OUT/baseline.log" 2>&1 &
    PIDS+=($!)
    VERSION[baseline]="reference-broker $("$BASELINE" --version | awk '{print $2}') ($BASELINE)"
    AVAILABLE+=(baseline)
fi

# start_mosquitto NAME PORT NODELAY(true|false)
start_mosquitto() {
    local name=$1 port=$2 nodelay=$3
    cat >"$OUT/$name.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay $nodelay
persistence false
log_dest stderr
log_type error
EOF
    mosquitto -c "$OUT/$name.conf" >"$OUT/$name.log" 2>&1 &
    PIDS+=($!)
    PORT[$name]=$port
    # `mosquitto -h` exits with status 3 after printing its version.
    VERSION[$name]=$( (mosquitto -h 2>/dev/null || true) | head -1 | sed 's/^mosquitto version /mosquitto /')
    VERSION[$name]+=", set_tcp_nodelay $nodelay"
    AVAILABLE+=("$name")
}
if [[ " $WANTED " == *" mosquitto "* ]] && command -v mosquitto >/dev/null; then
    start_mosquitto mosquitto $((BASE_PORT + 1)) \
        "$([[ ${MOSQUITTO_NODELAY:-0} == 1 ]] && echo true || echo false)"
fi
if [[ " $WANTED " == *" mosquitto-nodelay "* ]] && command -v mosquitto >/dev/null; then
    start_mosquitto mosquitto-nodelay $((BASE_PORT + 5)) true
fi

if [[ " $WANTED " == *" rumqttd "* ]] && [[ -x "$RUMQTTD" ]]; then
    v4=$((BASE_PORT + 2))
    v5=$((BASE_PORT + 3))
    # rumqttd's own defaults (its shipped rumqttd.toml), with loopback listeners only and
    # without the console and metrics endpoints.
    write_rumqttd_config "$OUT/rumqttd.toml" $v4 $v5
    "$RUMQTTD" -q -c "$OUT/rumqttd.toml" >"$OUT/rumqttd.log" 2>&1 &
    PIDS+=($!)
    if [[ $PROTOCOL == 5 ]]; then PORT[rumqttd]=$v5; else PORT[rumqttd]=$v4; fi
    VERSION[rumqttd]=$("$RUMQTTD" -V)
    AVAILABLE+=(rumqttd)
fi

for b in "${AVAILABLE[@]}"; do
    wait_for_port "${PORT[$b]}"
done

# name | publishers | subscribers | qos | rate ("" = flat out)
ALL_SCENARIOS=(
    "qos0-fanin-max|4|1|0|"
    "qos0-fanout-max|1|8|0|"
    "qos1-fanin-max|4|1|1|"
    "qos1-fanout-max|1|8|1|"
    "qos0-fanin-rate|4|1|0|$RATE"
    "qos0-fanout-rate|1|8|0|$RATE"
    "qos1-fanin-rate|4|1|1|$RATE"
    "qos1-fanout-rate|1|8|1|$RATE"
    "qos0-single-rate|1|1|0|$RATE"
    "qos1-single-rate|1|1|1|$RATE"
)

{
    echo "# Broker comparison"
    echo
    echo "- command: \`DURATION=$DURATION ROUNDS=$ROUNDS RATE=$RATE PROTOCOL=$PROTOCOL BENCH_ARGS=\"${BENCH_ARGS:-}\" scripts/bench-brokers.sh\`"
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    for b in "${AVAILABLE[@]}"; do
        echo "- $b: ${VERSION[$b]}, 127.0.0.1:${PORT[$b]}"
    done
    echo "- MQTT $PROTOCOL, 1024-byte payload, $DURATION s per run, $ROUNDS run(s) per broker and scenario;"
    echo "  each row is the run with the median delivered rate (the slower one of two)"
    echo "- drain end: complete = everything arrived; idle = nothing arrived for 2 s, the missing"
    echo "  messages are lost; cap = still arriving at the drain limit, 'lost' includes late ones"
} >"$OUT/summary.md"

for entry in "${ALL_SCENARIOS[@]}"; do
    IFS='|' read -r name pubs subs qos rate <<<"$entry"
    if [[ -n ${SCENARIOS:-} && " $SCENARIOS " != *" $name "* ]]; then
        continue
    fi
    for round in $(seq 1 "$ROUNDS"); do
        for b in "${AVAILABLE[@]}"; do
            json="$OUT/$name.$b.$round.json"
            args=(bench --broker "127.0.0.1:${PORT[$b]}" --protocol "$PROTOCOL"
                --publishers "$pubs" --subscribers "$subs" --qos "$qos" --payload 1024
                --duration "$DURATION" --topic "bench/$name/$b/$round" --json "$json")
            if [[ -n $rate ]]; then args+=(--rate "$rate"); fi
            # shellcheck disable=SC2206 # extra arguments, split on spaces on purpose
            args+=(${BENCH_ARGS:-})
            echo "== $name round $round: $b (load $(cut -d' ' -f1 /proc/loadavg))"
            if ! "$BENCH" "${args[@]}" >"$OUT/$name.$b.$round.txt" 2>&1; then
                echo "   FAILED: $(tail -1 "$OUT/$name.$b.$round.txt")"
                rm -f "$json"
            else
                grep -E '^(sent|total)' "$OUT/$name.$b.$round.txt" | sed 's/^/   /'
            fi
        done
    done

    {
        echo
        if [[ -n $rate ]]; then pace="$rate msg/s per publisher"; else pace="flat out"; fi
        echo "## $name ($pubs publisher(s) -> $subs subscriber(s), QoS $qos, $pace)"
        echo
        echo "| broker | sent msg/s | delivered msg/s | lost | lost % | reordered | dup | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | drain end | delivered msg/s of each run | p50 µs of each run | median of the runs' p50 µs |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
    } >>"$OUT/summary.md"
    for b in "${AVAILABLE[@]}"; do
        files=("$OUT/$name.$b".*.json)
        if [[ ! -e ${files[0]} ]]; then
            echo "| $b | failed | | | | | | | | | | | | | | |" >>"$OUT/summary.md"
            continue
        fi
        jq -s -r --arg b "$b" '
            map(.total.latency_us.p50) as $p50s
            | sort_by(.total.delivered_per_sec) as $runs
            | $runs[((($runs | length) - 1) / 2 | floor)] as $r
            | ($r.total.expected) as $exp
            | [$b,
               ($r.sent_per_sec | round),
               ($r.total.delivered_per_sec | round),
               $r.total.lost,
               (if $exp > 0 then ($r.total.lost * 10000 / $exp | round) / 100 else 0 end),
               $r.total.reordered,
               $r.total.duplicates,
               ($r.total.latency_us.p50 | round),
               ($r.total.latency_us.p90 | round),
               ($r.total.latency_us.p99 | round),
               ($r.total.latency_us.p99_9 | round),
               ($r.total.latency_us.max | round),
               $r.drain_end,
               ($runs | map(.total.delivered_per_sec | round | tostring) | join(" / ")),
               ($p50s | map(round | tostring) | join(" / ")),
               ($p50s | sort | if length % 2 == 1 then .[(length - 1) / 2]
                   else (.[length / 2 - 1] + .[length / 2]) / 2 end | round)]
            | "| " + (map(tostring) | join(" | ")) + " |"' "${files[@]}" >>"$OUT/summary.md"
    done
done

echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/summary.md"
echo
echo "== results in $OUT/summary.md"
cat "$OUT/summary.md"
