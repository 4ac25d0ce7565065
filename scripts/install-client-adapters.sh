#!/usr/bin/env bash
# Installs the dependencies of the client adapters (conformance/clients/adapters/), pinned:
#   paho-mqtt (Python) into conformance/clients/adapters/paho/venv
#   MQTT.js (npm `mqtt`) into conformance/clients/adapters/mqttjs/node_modules
#   libmosquitto (C, Debian's libmosquitto-dev; installed with apt-get when run as root and it is
#     missing): the driver built with `cc` into conformance/clients/adapters/mosquitto/build
#   rumqttc 0.25.1 (Rust): the adapter crate built with cargo (Cargo.lock pinned) into
#     conformance/clients/adapters/rumqttc/target
# Needs python3 (with venv), node/npm, cc and cargo; each adapter whose tools are missing is
# skipped with a message. Arguments name the adapters to install (paho mqttjs mosquitto
# rumqttc); none means all. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
adapters="$root/conformance/clients/adapters"
want() { [ -z "$WANT" ] || [[ " $WANT " == *" $1 "* ]]; }
WANT="$*"
# An adapter named on the command line that cannot be installed makes the script fail.
failed=0
missing() { echo "$1" >&2; [ -z "$WANT" ] || failed=1; }

if want paho && command -v python3 >/dev/null; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        # Debian ships venv/ensurepip separately.
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq python3-venv >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
    fi
    python3 -m venv "$adapters/paho/venv"
    "$adapters/paho/venv/bin/pip" install --quiet --disable-pip-version-check -r "$adapters/paho/requirements.txt"
    echo "paho-mqtt: $("$adapters/paho/venv/bin/python" -c 'import paho.mqtt; print(paho.mqtt.__version__)')"
elif want paho; then
    missing "python3 not found: the paho-mqtt adapter is not installed"
fi

if want mqttjs && command -v npm >/dev/null; then
    (cd "$adapters/mqttjs" && npm install --silent --no-audit --no-fund)
    echo "mqtt (MQTT.js): $(node -p "require('$adapters/mqttjs/node_modules/mqtt/package.json').version")"
elif want mqttjs; then
    missing "npm not found: the MQTT.js adapter is not installed"
fi

if want mosquitto; then
    if [ ! -f /usr/include/mosquitto.h ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq libmosquitto-dev >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq libmosquitto-dev >/dev/null; }
    fi
    if command -v cc >/dev/null && [ -f /usr/include/mosquitto.h ]; then
        mkdir -p "$adapters/mosquitto/build"
        cc -O2 -Wall -o "$adapters/mosquitto/build/mosquitto_adapter" \
            "$adapters/mosquitto/mosquitto_adapter.c" -lmosquitto
        echo "libmosquitto: $(echo | "$adapters/mosquitto/build/mosquitto_adapter" | head -1)"
    else
        missing "cc or libmosquitto-dev (mosquitto.h) not found: the libmosquitto adapter is not installed"
    fi
fi

if want rumqttc; then
    if command -v cargo >/dev/null; then
        cargo build --quiet --locked --manifest-path "$adapters/rumqttc/Cargo.toml" \
            --target-dir "$adapters/rumqttc/target"
        echo "rumqttc: $(echo | "$adapters/rumqttc/target/debug/mqttspec-rumqttc-adapter" | head -1)"
    else
        missing "cargo not found: the rumqttc adapter is not installed"
    fi
fi
exit "$failed"
