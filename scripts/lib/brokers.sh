# shellcheck shell=bash
# Shared by the scripts in scripts/: third-party broker installs, configurations, start
# commands and start-up waits. Source it (`. scripts/lib/brokers.sh`, from the workspace root);
# it defines variables and functions only.
#
# Brokers besides Mosquitto and rumqttd (see reports/README.md for what each one is):
#
#   name          package (pinned)                 installed into               protocols
#   aedes         npm aedes 1.2.0                  $BROKERS_ROOT/aedes-1.2.0      3.1.1
#   mosca         npm mosca 2.8.3                  $BROKERS_ROOT/mosca-2.8.3      3.1.1
#   amqtt         PyPI amqtt 0.12.1 (venv)         $BROKERS_ROOT/amqtt-0.12.1     3.1.1
#   moat-lib-mqtt PyPI moat-lib-mqtt 0.8.7 (venv)  $BROKERS_ROOT/moat-lib-mqtt-0.8.7  5
#   rmqtt         crates.io rmqttd 0.24.0          $BROKERS_ROOT/rmqttd-0.24.0    3.1.1, 5
#   nats-server   Debian nats-server 2.9.10-1+b3   /usr/bin (apt)               3.1.1
#   ejabberd      Debian ejabberd 23.01-1          /usr (apt)                   3.1.1, 5
#
# For each NAME:
#   install_broker NAME              installs it if it is not there yet (idempotent)
#   broker_version NAME              prints the version under test
#   broker_protocols NAME            prints the protocols it serves: "3.1.1", "5" or "all"
#   broker_command NAME PORT WORKDIR writes the broker's configuration into WORKDIR (which
#                                    must exist) and prints a command line that runs it in
#                                    the foreground, listening on 127.0.0.1:PORT only; the
#                                    line is meant for `sh -c "exec LINE"` (as `mqttspec fuzz
#                                    --broker-cmd` runs it), so the broker is that process.
# Every broker listens on 127.0.0.1 only, with its defaults except where a comment says.

BROKERS_ROOT=${BROKERS_ROOT:-/opt}
AEDES_VERSION=1.2.0
MOSCA_VERSION=2.8.3
AMQTT_VERSION=0.12.1
MOAT_LIB_MQTT_VERSION=0.8.7
RMQTTD_VERSION=0.24.0
NATS_SERVER_DEB=2.9.10-1+b3
EJABBERD_DEB=23.01-1
# The brokers handled by the functions below, in the order the scripts run them.
# shellcheck disable=SC2034 # used by the scripts that source this file
OTHER_BROKERS="aedes mosca amqtt moat-lib-mqtt rmqtt nats-server ejabberd"
# Where the scripts live (for aedes' server script).
BROKERS_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

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

# wait_for_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT (10 s unless told;
# status 1 then).
wait_for_port() {
    local port=$1 tries=$((${2:-10} * 10))
    for _ in $(seq 1 "$tries"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    return 1
}

# _apt_install PACKAGE VERSION: installs the Debian package at that version unless it is
# installed already.
_apt_install() {
    local have
    have=$(dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true)
    if [[ $have == "$2" ]]; then return 0; fi
    if ! apt-cache policy "$1" | grep -q "$2"; then apt-get update -qq; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1=$2"
}

# _npm_install NAME VERSION [OVERRIDES]: the npm package into
# $BROKERS_ROOT/NAME-VERSION/node_modules; OVERRIDES is the JSON of npm's "overrides" field
# (pinned versions of dependencies), {} unless given.
_npm_install() {
    local dir=$BROKERS_ROOT/$1-$2
    if [[ -f $dir/node_modules/$1/package.json ]]; then return 0; fi
    mkdir -p "$dir"
    cat >"$dir/package.json" <<JSON
{
  "private": true,
  "dependencies": { "$1": "$2" },
  "overrides": ${3:-{\}}
}
JSON
    (cd "$dir" && npm install --no-audit --no-fund)
}

# _pip_install NAME VERSION: the PyPI package into the venv $BROKERS_ROOT/NAME-VERSION.
_pip_install() {
    local dir=$BROKERS_ROOT/$1-$2
    if "$dir/bin/pip" show "$1" 2>/dev/null | grep -qx "Version: $2"; then return 0; fi
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$1==$2"
}

install_broker() {
    case $1 in
    aedes) _npm_install aedes $AEDES_VERSION ;;
    # Mosca 2.8.3 (2018) asks for jsonschema ^1.0.3, and the newest 1.x rejects its option
    # schema at start-up: the 1.2.4 of its time.
    mosca) _npm_install mosca $MOSCA_VERSION '{ "jsonschema": "1.2.4" }' ;;
    amqtt) _pip_install amqtt $AMQTT_VERSION ;;
    moat-lib-mqtt) _pip_install moat-lib-mqtt $MOAT_LIB_MQTT_VERSION ;;
    rmqtt)
        local root=$BROKERS_ROOT/rmqttd-$RMQTTD_VERSION
        if [[ -x $root/bin/rmqttd ]]; then return 0; fi
        # A long build (several hundred crates): its own target directory, under the lock
        # the shared machine's cargo commands take. Its gRPC dependency needs protoc, its
        # Kafka bridge builds librdkafka with CMake, and OpenSSL's headers come from Debian.
        if ! command -v protoc >/dev/null || ! command -v cmake >/dev/null ||
            ! dpkg-query -W libssl-dev >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                protobuf-compiler cmake libssl-dev pkg-config
        fi
        local target=${RMQTT_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/rmqtt-install}
        flock /tmp/cargo.lock cargo install --locked "rmqttd@$RMQTTD_VERSION" \
            --root "$root" --target-dir "$target"
        ;;
    nats-server) _apt_install nats-server "$NATS_SERVER_DEB" ;;
    ejabberd) _apt_install ejabberd "$EJABBERD_DEB" ;;
    *)
        echo "unknown broker $1" >&2
        return 1
        ;;
    esac
}

broker_version() {
    case $1 in
    aedes) echo $AEDES_VERSION ;;
    mosca) echo $MOSCA_VERSION ;;
    amqtt) echo $AMQTT_VERSION ;;
    moat-lib-mqtt) echo $MOAT_LIB_MQTT_VERSION ;;
    rmqtt) echo $RMQTTD_VERSION ;;
    # Debian's version without the packaging revision.
    nats-server) echo "${NATS_SERVER_DEB%%-*}" ;;
    ejabberd) echo "${EJABBERD_DEB%%-*}" ;;
    *) return 1 ;;
    esac
}

# broker_profile NAME: the `mqttspec run --profile` file the broker needs (credentials), if
# any: profiles/NAME.toml when it exists.
broker_profile() {
    local f=$BROKERS_SCRIPTS_DIR/../profiles/$1.toml
    if [[ -f $f ]]; then echo "$f"; fi
}

broker_protocols() {
    case $1 in
    # Aedes, Mosca, amqtt and NATS implement MQTT 3.1.1 only; moat-lib-mqtt only 5.0.
    aedes | mosca | amqtt | nats-server) echo 3.1.1 ;;
    moat-lib-mqtt) echo 5 ;;
    rmqtt | ejabberd) echo all ;;
    *) return 1 ;;
    esac
}

broker_command() {
    local name=$1 port=$2 work=$3
    case $name in
    aedes)
        # Aedes is a library: scripts/brokers/aedes-server.js serves it on a TCP socket.
        echo "env NODE_PATH=$BROKERS_ROOT/aedes-$AEDES_VERSION/node_modules node $BROKERS_SCRIPTS_DIR/brokers/aedes-server.js $port"
        ;;
    mosca)
        # Mosca's own command line; its default in-memory backend, $SYS stats off.
        echo "node $BROKERS_ROOT/mosca-$MOSCA_VERSION/node_modules/mosca/bin/mosca --host 127.0.0.1 --port $port --disable-stats"
        ;;
    amqtt)
        # amqtt's shipped default_broker.yaml with the listener on loopback and without the
        # two logging plugins (they only log).
        cat >"$work/amqtt.yaml" <<CONF
---
listeners:
  default:
    type: tcp
    bind: 127.0.0.1:$port
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
  amqtt.plugins.sys.broker.BrokerSysPlugin:
    sys_interval: 20
CONF
        echo "$BROKERS_ROOT/amqtt-$AMQTT_VERSION/bin/amqtt -c $work/amqtt.yaml"
        ;;
    moat-lib-mqtt)
        # moat-lib-mqtt ships the broker as a class (AsyncMQTTBroker) with no command line:
        # its defaults, bound to loopback.
        echo "$BROKERS_ROOT/moat-lib-mqtt-$MOAT_LIB_MQTT_VERSION/bin/python -c 'import anyio; from moat.lib.mqtt.async_broker import AsyncMQTTBroker; anyio.run(AsyncMQTTBroker(bind_address=(\"127.0.0.1\", $port)).serve)'"
        ;;
    rmqtt)
        # rmqttd with its defaults except: the MQTT listener and the cluster gRPC port
        # (PORT + 1000, which it opens even alone) on loopback; the HTTP API plugin (a
        # 0.0.0.0 listener by default) not started; the plugins that implement two MQTT
        # features started, so that the suite sees them: retained messages (rmqtt-retainer)
        # and Shared Subscriptions (rmqtt-shared-subscription). Every plugin with its own
        # defaults (no files in WORKDIR/rmqtt-plugins/; rmqtt-acl's allow 127.0.0.1). Its
        # "busy" check is off: it refuses CONNECTs (0x88) while the machine's load average
        # is high, which on a shared build machine says nothing about the broker.
        mkdir -p "$work/rmqtt-plugins"
        cat >"$work/rmqtt.toml" <<CONF
node.id = 1
node.busy.check_enable = false
rpc.server_addr = "127.0.0.1:$((port + 1000))"
log.to = "Console"
log.level = "warn"
plugins.dir = "$work/rmqtt-plugins/"
plugins.default_startups = ["rmqtt-retainer", "rmqtt-shared-subscription"]
plugins.disabled_default_startups = ["rmqtt-http-api"]
listener.tcp.external.addr = "127.0.0.1:$port"
CONF
        echo "$BROKERS_ROOT/rmqttd-$RMQTTD_VERSION/bin/rmqttd -f $work/rmqtt.toml"
        ;;
    nats-server)
        # NATS serves MQTT only with JetStream on and a server name; its own client port is
        # on loopback too (a free port).
        mkdir -p "$work/nats-jetstream"
        cat >"$work/nats.conf" <<CONF
server_name: mqttspec
listen: 127.0.0.1:-1
jetstream {
    store_dir: "$work/nats-jetstream"
}
mqtt {
    listen: 127.0.0.1:$port
}
CONF
        echo "nats-server -c $work/nats.conf"
        ;;
    ejabberd)
        # ejabberd with only its MQTT module (mod_mqtt) on a loopback port, no XMPP/HTTP
        # listener, run as a plain Erlang VM without distribution (no epmd, no node port),
        # the Mnesia database in WORKDIR. mod_mqtt wants a password for every client (it has
        # no anonymous login), so the user of profiles/ejabberd.toml is registered at start
        # in ejabberd's own (internal) user store.
        mkdir -p "$work/ejabberd-spool" "$work/ejabberd-logs"
        cat >"$work/ejabberd.yml" <<CONF
hosts:
  - localhost
loglevel: warning
log_rotate_count: 0
listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: mod_mqtt
    backlog: 1000
modules:
  mod_mqtt: {}
CONF
        printf '%s' "env ERL_LIBS=/usr/lib/x86_64-linux-gnu EJABBERD_CONFIG_PATH=$work/ejabberd.yml" \
            " EJABBERD_LOG_PATH=$work/ejabberd-logs/ejabberd.log HOME=$work" \
            " erl -noinput -mnesia dir '\"$work/ejabberd-spool\"' -s ejabberd" \
            " -eval 'ejabberd_auth:try_register(<<\"mqttspec\">>, <<\"localhost\">>, <<\"mqttspec-password\">>)'"
        echo
        ;;
    *)
        echo "unknown broker $name" >&2
        return 1
        ;;
    esac
}
