#!/usr/bin/env bash
# Runs the mqttspec conformance suite against third-party brokers, on 127.0.0.1 only, and
# writes the published reports under reports/ (see reports/README.md).
#
# Brokers (arguments, default all three):
#   mosquitto  Eclipse Mosquitto (the `mosquitto` on PATH; Debian 2.0.11 here), one listener on
#              127.0.0.1:18850 serving 3.1.1 and 5; both protocols in one run, with
#              baselines/mosquitto-2.0.toml -> reports/mosquitto-2.0.11/
#   rumqttd    rumqttd ($RUMQTTD, default /opt/rumqttd/bin/rumqttd; 0.20.0 here), its shipped
#              defaults with the v4 (3.1.1) listener on 127.0.0.1:18851 and the v5 listener on
#              127.0.0.1:18852, no console, metrics or websocket; one run per listener, with
#              baselines/rumqttd-0.20.0.toml -> reports/rumqttd-0.20.0/mqtt-3.1.1/ and
#              reports/rumqttd-0.20.0/mqtt-5/
#   aedes, mosca, amqtt, moat-lib-mqtt, rmqtt, nats-server, ejabberd
#              installed (pinned versions, see scripts/lib/brokers.sh) unless they are there,
#              each started on 127.0.0.1:$OTHER_PORT (18853 unless told) with its defaults
#              and run with the protocols it serves, with baselines/NAME-VERSION.toml
#              -> reports/NAME-VERSION/ (a broker serving both protocols on one listener:
#              one run; see reports/README.md)
#   reference  the embedded reference broker -> reports/reference-broker/
# then the side-by-side page reports/compare.html.
#
# Environment: OUT_ROOT (default reports), RUMQTTD (path of rumqttd), JOBS (mqttspec --jobs),
# MQTTSPEC (a prebuilt mqttspec binary instead of building one), RUN_ARGS (extra `mqttspec run`
# arguments, e.g. "--repeat 5" to check that repeated runs agree).
# Exit status: the worst `mqttspec run` status (0 = only baselined non-passes).
#
# Usage: scripts/run-third-party.sh [mosquitto] [rumqttd] [aedes] ... [reference]
#        (from anywhere; default: all of them)
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/lib/brokers.sh
OUT_ROOT=${OUT_ROOT:-reports}
RUMQTTD=${RUMQTTD:-/opt/rumqttd/bin/rumqttd}
MOSQUITTO_PORT=18850
RUMQTTD_V4_PORT=18851
RUMQTTD_V5_PORT=18852
OTHER_PORT=${OTHER_PORT:-18853}
WANTED=${*:-mosquitto rumqttd $OTHER_BROKERS reference}
JOB_ARGS=()
if [[ -n ${JOBS:-} ]]; then JOB_ARGS=(--jobs "$JOBS"); fi

if [[ -z ${MQTTSPEC:-} ]]; then
    cargo build --release -p mqttspec
    MQTTSPEC=target/release/mqttspec
fi
read -r -a EXTRA_ARGS <<<"${RUN_ARGS:-}"

WORK=$(mktemp -d)
STATUS=0
# Every broker is started (and restarted, when it stops serving) by `mqttspec run
# --broker-cmd`, in a process group of its own that stops with the run.
trap 'rm -rf "$WORK"' EXIT

run_suite() {
    local rc=0
    "$MQTTSPEC" run --quiet "${JOB_ARGS[@]}" "${EXTRA_ARGS[@]}" "$@" || rc=$?
    echo "   exit status $rc"
    if ((rc > STATUS)); then STATUS=$rc; fi
}

if [[ " $WANTED " == *" mosquitto "* ]]; then
    cat >"$WORK/mosquitto.conf" <<EOF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
    # `mosquitto -h` prints its version first, then exits with status 3.
    version=$( (mosquitto -h 2>/dev/null || true) | head -1 | awk '{print $3}')
    echo "== mosquitto $version on 127.0.0.1:$MOSQUITTO_PORT"
    run_suite --broker "127.0.0.1:$MOSQUITTO_PORT" --broker-cmd "mosquitto -c $WORK/mosquitto.conf" \
        --name "mosquitto $version" --protocol all \
        --baseline baselines/mosquitto-2.0.toml --out "$OUT_ROOT/mosquitto-$version"
fi

if [[ " $WANTED " == *" rumqttd "* ]]; then
    version=$("$RUMQTTD" --version | awk '{print $2}')
    # rumqttd's shipped rumqttd.toml, listeners on loopback, console/prometheus/websocket dropped.
    write_rumqttd_config "$WORK/rumqttd.toml" $RUMQTTD_V4_PORT $RUMQTTD_V5_PORT
    for proto in 3.1.1 5; do
        port=$RUMQTTD_V4_PORT
        if [[ $proto == 5 ]]; then port=$RUMQTTD_V5_PORT; fi
        echo "== rumqttd $version, MQTT $proto on 127.0.0.1:$port"
        # A fresh broker per protocol (and per repeated run); mqttspec restarts it when it
        # stops serving (rumqttd 0.20.0's router panics on a Topic Name starting with a
        # multi-byte character) and names the case that did it.
        run_suite --broker "127.0.0.1:$port" --broker-cmd "$RUMQTTD -q -c $WORK/rumqttd.toml" \
            --name "rumqttd $version (MQTT $proto listener)" \
            --protocol $proto --baseline "baselines/rumqttd-$version.toml" \
            --out "$OUT_ROOT/rumqttd-$version/mqtt-$proto"
    done
fi

for name in $OTHER_BROKERS; do
    if [[ " $WANTED " != *" $name "* ]]; then continue; fi
    install_broker "$name"
    version=$(broker_version "$name")
    proto=$(broker_protocols "$name")
    mkdir -p "$WORK/$name"
    cmd=$(broker_command "$name" "$OTHER_PORT" "$WORK/$name")
    echo "== $name $version, MQTT $proto on 127.0.0.1:$OTHER_PORT"
    baseline=()
    if [[ -f baselines/$name-$version.toml ]]; then
        baseline=(--baseline "baselines/$name-$version.toml")
    fi
    profile=$(broker_profile "$name")
    if [[ -n $profile ]]; then baseline+=(--profile "$profile"); fi
    # NATS Server 2.9.10 panics on a QoS 1 message with a 65,535-byte Topic Name, which the
    # practical-limits probe sends (corpus/regressions/nats-2.9.10-filestore-panic-65535-byte-topic.toml):
    # without --no-limits the broker dies at the end of the first of the repeated runs.
    if [[ $name == nats-server ]]; then baseline+=(--no-limits); fi
    run_suite --broker "127.0.0.1:$OTHER_PORT" --broker-cmd "$cmd" --name "$name $version" \
        --protocol "$proto" "${baseline[@]}" --out "$OUT_ROOT/$name-$version"
done

if [[ " $WANTED " == *" reference "* ]]; then
    echo "== embedded reference broker"
    run_suite --out "$OUT_ROOT/reference-broker"
fi

shopt -s nullglob
reports=()
for r in "$OUT_ROOT"/*/report.json "$OUT_ROOT"/*/*/report.json; do
    # reports/latest/ is the default output of ad-hoc runs, not a published report.
    if [[ $r != "$OUT_ROOT/latest/"* ]]; then reports+=("$r"); fi
done
if ((${#reports[@]} > 1)); then
    "$MQTTSPEC" report --compare "${reports[@]}" --out "$OUT_ROOT/compare.html"
fi
exit $STATUS
