# Shared by the scripts in scripts/: third-party broker configurations and start-up waits.
# Source it (`. scripts/lib/brokers.sh`); it defines functions only.

# write_rumqttd_config FILE V4_PORT V5_PORT
# rumqttd's shipped rumqttd.toml (its defaults and limits), with the v4 (MQTT 3.1.1) and v5
# listeners on 127.0.0.1 at the given ports, and without the console, metrics and websocket
# endpoints.
write_rumqttd_config() {
    cat >"$1" <<CONF
id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$2"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true

[v5.1]
name = "v5-1"
listen = "127.0.0.1:$3"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
CONF
}

# wait_for_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most; status 1 then).
wait_for_port() {
    local port=$1
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    return 1
}
