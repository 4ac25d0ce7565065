#!/usr/bin/env bash
# Runs the published network-fuzzing campaigns (`mqttspec fuzz`) on 127.0.0.1 only and writes
# them under reports/fuzz/network/ (see reports/fuzz/network.md).
#
# Campaigns (arguments, default all):
#   reference  the embedded reference broker -> reports/fuzz/network/reference-broker/
#   mosquitto  Eclipse Mosquitto (the `mosquitto` on PATH), started and restarted by the fuzzer
#              on 127.0.0.1:18880 -> reports/fuzz/network/mosquitto/
#   rumqttd    rumqttd ($RUMQTTD, default /opt/rumqttd/bin/rumqttd) with its shipped limits, the
#              v4 listener on 127.0.0.1:18881 fuzzed with MQTT 3.1.1 and the v5 listener on
#              127.0.0.1:18882 with MQTT 5.0, one campaign each
#              -> reports/fuzz/network/rumqttd-v4/, reports/fuzz/network/rumqttd-v5/
#   aedes, mosca, amqtt, moat-lib-mqtt, rmqtt, nats-server, ejabberd
#              installed unless there (pinned versions, scripts/lib/brokers.sh), started and
#              restarted by the fuzzer with the same configuration as in
#              scripts/run-third-party.sh on 127.0.0.1:18883, fuzzed with the protocols each
#              serves, one campaign per protocol version -> reports/fuzz/network/NAME-VERSION/
#              (NAME-VERSION-v4/ and -v5/ for a broker that serves both)
#              (not in the default list: their campaigns have not been run yet, see
#              reports/README.md; name them to run them)
#
# Environment: DURATION (seconds per campaign, default 600), SEED (default 20261125),
# OUT_ROOT (default reports/fuzz/network), RUMQTTD, MQTTSPEC (a built mqttspec binary to use
# instead of building one).
# Exit status: 0 when every campaign ran (findings do not fail the script), 2 otherwise.
#
# Usage: scripts/fuzz-third-party.sh [reference] [mosquitto] [rumqttd] [aedes] ...
#        (from anywhere)
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/lib/brokers.sh
DURATION=${DURATION:-600}
SEED=${SEED:-20261125}
OUT_ROOT=${OUT_ROOT:-reports/fuzz/network}
RUMQTTD=${RUMQTTD:-/opt/rumqttd/bin/rumqttd}
WANTED=${*:-reference mosquitto rumqttd}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ -z ${MQTTSPEC:-} ]]; then
    cargo build --release -p mqttspec
    MQTTSPEC=target/release/mqttspec
fi
STATUS=0

OTHER_PORT=${OTHER_PORT:-18883}

campaign() {
    local out=$1
    shift
    echo "== $out"
    rm -rf "${OUT_ROOT:?}/$out"
    # Exit 1 means findings: that is a result, not a failure of the script.
    "$MQTTSPEC" fuzz --seed "$SEED" --duration "$DURATION" --out "$OUT_ROOT/$out" "$@" || {
        local rc=$?
        if [[ $rc -ne 1 ]]; then STATUS=2; fi
    }
}

if [[ " $WANTED " == *" reference "* ]]; then
    campaign reference-broker
fi

if [[ " $WANTED " == *" mosquitto "* ]]; then
    cat >"$WORK/mosquitto.conf" <<EOF
listener 18880 127.0.0.1
allow_anonymous true
persistence false
log_type none
EOF
    campaign mosquitto --broker 127.0.0.1:18880 --broker-cmd "mosquitto -c $WORK/mosquitto.conf"
fi

if [[ " $WANTED " == *" rumqttd "* ]]; then
    # rumqttd's shipped rumqttd.toml, listeners on loopback, console/prometheus/websocket dropped
    # (the same as scripts/run-third-party.sh, other ports).
    write_rumqttd_config "$WORK/rumqttd.toml" 18881 18882
    campaign rumqttd-v4 --protocol 3.1.1 --broker 127.0.0.1:18881 \
        --broker-cmd "$RUMQTTD -q -c $WORK/rumqttd.toml"
    campaign rumqttd-v5 --protocol 5 --broker 127.0.0.1:18882 \
        --broker-cmd "$RUMQTTD -q -c $WORK/rumqttd.toml"
fi

for name in $OTHER_BROKERS; do
    if [[ " $WANTED " != *" $name "* ]]; then continue; fi
    install_broker "$name"
    mkdir -p "$WORK/$name"
    cmd=$(broker_command "$name" "$OTHER_PORT" "$WORK/$name")
    proto=$(broker_protocols "$name")
    # A broker that refuses anonymous clients (ejabberd) has a profile with credentials:
    # the fuzz clients, the liveness probe and the reproducers log in with them.
    login=()
    profile=$(broker_profile "$name")
    if [[ -n $profile ]]; then login=(--profile "$(realpath --relative-to=. "$profile")"); fi
    if [[ $proto == all ]]; then
        # One campaign per protocol version, like rumqttd's.
        for v in 3.1.1 5; do
            suffix=v5
            if [[ $v == 3.1.1 ]]; then suffix=v4; fi
            campaign "$name-$(broker_version "$name")-$suffix" --protocol "$v" \
                --broker "127.0.0.1:$OTHER_PORT" --broker-cmd "$cmd" "${login[@]}"
        done
    else
        campaign "$name-$(broker_version "$name")" --protocol "$proto" \
            --broker "127.0.0.1:$OTHER_PORT" --broker-cmd "$cmd" "${login[@]}"
    fi
done

exit $STATUS
