#!/usr/bin/env bash
# Starts Mosquitto with TLS and WebSocket listeners on 127.0.0.1, with a throwaway CA and
# server certificate generated now (openssl; nothing is committed), for running mqttspec over
# every transport:
#
#   plain TCP   127.0.0.1:$TCP_PORT   (default 18860)   --broker 127.0.0.1:18860
#   TLS         127.0.0.1:$TLS_PORT   (default 18861)   --broker mqtts://localhost:18861 --tls-ca DIR/ca.pem
#   WebSocket   127.0.0.1:$WS_PORT    (default 18862)   --broker ws://127.0.0.1:18862/mqtt
#   WSS         127.0.0.1:$WSS_PORT   (default 18863)   --broker wss://localhost:18863/mqtt --tls-ca DIR/ca.pem
#
# Usage: scripts/mosquitto-tls-ws.sh DIR
#   Writes DIR/ca.pem, DIR/server.pem, DIR/server.key, DIR/mosquitto.conf and
#   DIR/mosquitto.log, starts Mosquitto in the background, waits until every listener
#   accepts connections, and prints its PID (stop it with `kill PID`). The server
#   certificate names localhost and 127.0.0.1 and is valid for 2 days.
# Environment: MOSQUITTO (default: `mosquitto` on PATH, else /usr/sbin/mosquitto),
#   TCP_PORT, TLS_PORT, WS_PORT, WSS_PORT.
set -euo pipefail

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# Mosquitto started as root drops to its own user, which must be able to read the files:
# DIR is made world-readable (its parent directories must let others through too).
chmod 755 "$dir"
mosquitto=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[ -x "$mosquitto" ] || { echo "mosquitto not found (set MOSQUITTO)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }
tcp=${TCP_PORT:-18860} tls=${TLS_PORT:-18861} ws=${WS_PORT:-18862} wss=${WSS_PORT:-18863}

# A throwaway CA, and a server certificate for localhost / 127.0.0.1 signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mqttspec throwaway CA" \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
chmod 644 "$dir/server.key"

cat > "$dir/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
listener $tcp 127.0.0.1
listener $tls 127.0.0.1
cafile $dir/ca.pem
certfile $dir/server.pem
keyfile $dir/server.key
listener $ws 127.0.0.1
protocol websockets
listener $wss 127.0.0.1
protocol websockets
cafile $dir/ca.pem
certfile $dir/server.pem
keyfile $dir/server.key
EOF

"$mosquitto" -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 &
pid=$!
for port in "$tcp" "$tls" "$ws" "$wss"; do
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "mosquitto exited; see $dir/mosquitto.log" >&2; cat "$dir/mosquitto.log" >&2; exit 2
    fi
    sleep 0.1
  done
done
echo "$pid"
