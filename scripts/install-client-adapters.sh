#!/usr/bin/env bash
# Installs the dependencies of the client adapters (conformance/clients/adapters/), pinned:
#   paho-mqtt (Python) into conformance/clients/adapters/paho/venv
#   MQTT.js (npm `mqtt`) into conformance/clients/adapters/mqttjs/node_modules
# Needs python3 (with venv) and node/npm. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
adapters="$root/conformance/clients/adapters"

if command -v python3 >/dev/null; then
    python3 -m venv "$adapters/paho/venv"
    "$adapters/paho/venv/bin/pip" install --quiet --disable-pip-version-check -r "$adapters/paho/requirements.txt"
    echo "paho-mqtt: $("$adapters/paho/venv/bin/python" -c 'import paho.mqtt; print(paho.mqtt.__version__)')"
else
    echo "python3 not found: the paho-mqtt adapter is not installed" >&2
fi

if command -v npm >/dev/null; then
    (cd "$adapters/mqttjs" && npm install --silent --no-audit --no-fund)
    echo "mqtt (MQTT.js): $(node -p "require('$adapters/mqttjs/node_modules/mqtt/package.json').version")"
else
    echo "npm not found: the MQTT.js adapter is not installed" >&2
fi
