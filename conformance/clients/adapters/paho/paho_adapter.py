#!/usr/bin/env python3
"""mqttspec client adapter for paho-mqtt (Python); protocol: conformance/clients/ADAPTER.md.

One thread owns the paho client: it runs the network loop (`Client.loop`) and carries out the
commands that a second thread reads from stdin. Automatic reconnection is off; a `connect`
after the connection ended reconnects the same client object, so its session state stays.
"""

import json
import queue
import sys
import threading

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ADAPTER_VERSION = "1"
out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def with_token(obj, token):
    if token is not None:
        obj["token"] = token
    return obj


def payload_of(c):
    if c.get("payload_hex") is not None:
        return bytes.fromhex(c["payload_hex"])
    return (c.get("payload") or "").encode()


def code_of(rc):
    if rc is None:
        return None
    return getattr(rc, "value", rc)


class Adapter:
    def __init__(self):
        self.client = None
        self.version = None
        self.transport = None
        self.connected_socket = False
        self.tokens = {}  # mid -> token
        self.closing = False

    # --- paho callbacks -------------------------------------------------------------------
    def on_connect(self, client, userdata, flags, reason_code, properties):
        props = {}
        if properties is not None:
            for name, key in [
                ("AssignedClientIdentifier", "assigned_client_identifier"),
                ("ServerKeepAlive", "server_keep_alive"),
                ("ReceiveMaximum", "receive_maximum"),
                ("MaximumPacketSize", "maximum_packet_size"),
                ("TopicAliasMaximum", "topic_alias_maximum"),
                ("ReasonString", "reason_string"),
            ]:
                if hasattr(properties, name):
                    props[key] = getattr(properties, name)
        emit({
            "event": "connack",
            "reason_code": code_of(reason_code),
            "session_present": bool(getattr(flags, "session_present", False)),
            "properties": props,
        })

    def on_disconnect(self, client, userdata, flags, reason_code, properties):
        ev = {"event": "disconnected", "by": "client" if self.closing else "network"}
        rc = code_of(reason_code)
        if rc is not None and not self.closing:
            ev["reason_code"] = rc
        self.connected_socket = False
        self.closing = False
        emit(ev)

    def on_message(self, client, userdata, msg):
        props = {}
        p = msg.properties
        if p is not None:
            if hasattr(p, "SubscriptionIdentifier"):
                ids = p.SubscriptionIdentifier
                props["subscription_identifiers"] = ids if isinstance(ids, list) else [ids]
            if hasattr(p, "TopicAlias"):
                props["topic_alias"] = p.TopicAlias
            if hasattr(p, "UserProperty"):
                props["user_properties"] = [list(x) for x in p.UserProperty]
            if hasattr(p, "ContentType"):
                props["content_type"] = p.ContentType
        ev = {
            "event": "message",
            "topic": msg.topic,
            "payload_hex": msg.payload.hex(),
            "qos": msg.qos,
            "retain": bool(msg.retain),
            "dup": bool(msg.dup),
            "properties": props,
        }
        try:
            ev["payload"] = msg.payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
        emit(ev)

    def on_publish(self, client, userdata, mid, reason_code, properties):
        emit(with_token({"event": "published", "reason_code": code_of(reason_code)},
                        self.tokens.pop(mid, None)))

    def on_subscribe(self, client, userdata, mid, reason_codes, properties):
        emit(with_token({"event": "subscribed", "reason_codes": [code_of(r) for r in reason_codes]},
                        self.tokens.pop(mid, None)))

    def on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        codes = [code_of(r) for r in reason_codes] if reason_codes else None
        emit(with_token({"event": "unsubscribed", "reason_codes": codes}, self.tokens.pop(mid, None)))

    # --- commands -------------------------------------------------------------------------
    def connect(self, c, token):
        v5 = c.get("protocol", "5") in ("5", "5.0")
        version = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        clean = bool(c.get("clean_start", True))
        if c.get("authentication_method") is not None:
            # paho-mqtt has no enhanced authentication (no AUTH packet handling).
            emit(with_token({"unsupported": "connect.authentication_method"}, token))
            return
        transport = c.get("transport") or "tcp"
        if transport not in ("tcp", "tls", "ws", "wss"):
            emit(with_token({"unsupported": "connect.transport=" + str(transport)}, token))
            return
        if self.client is None or self.version != version or self.transport != transport:
            kwargs = {"client_id": c.get("client_id", ""), "protocol": version,
                      "reconnect_on_failure": False,
                      "transport": "websockets" if transport in ("ws", "wss") else "tcp"}
            if not v5:
                kwargs["clean_session"] = clean
            self.client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
            self.version = version
            self.transport = transport
            cl = self.client
            if transport in ("ws", "wss"):
                # paho offers the "mqtt" subprotocol in its upgrade request.
                cl.ws_set_options(path=c.get("path") or "/mqtt")
            if transport in ("tls", "wss"):
                cl.tls_set(ca_certs=c.get("ca_file"))
            cl.on_connect = self.on_connect
            cl.on_disconnect = self.on_disconnect
            cl.on_message = self.on_message
            cl.on_publish = self.on_publish
            cl.on_subscribe = self.on_subscribe
            cl.on_unsubscribe = self.on_unsubscribe
        cl = self.client
        if not v5:
            # paho takes Clean Session at construction; a reconnect may ask otherwise.
            cl._clean_session = clean
        if c.get("username") is not None:
            cl.username_pw_set(c["username"], c.get("password"))
        will = c.get("will")
        if will:
            cl.will_set(will["topic"], payload_of(will), will.get("qos", 0), will.get("retain", False))
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            if c.get("session_expiry"):
                props.SessionExpiryInterval = c["session_expiry"]
            if c.get("receive_maximum"):
                props.ReceiveMaximum = c["receive_maximum"]
            if c.get("maximum_packet_size"):
                props.MaximumPacketSize = c["maximum_packet_size"]
            if c.get("topic_alias_maximum"):
                props.TopicAliasMaximum = c["topic_alias_maximum"]
            for k, val in c.get("user_properties") or []:
                props.UserProperty = (k, val)
        kwargs = {"keepalive": c.get("keep_alive", 60)}
        if v5:
            kwargs["clean_start"] = clean
            kwargs["properties"] = props
        cl.connect(c["host"], c["port"], **kwargs)
        self.connected_socket = True

    def subscribe(self, c, token):
        qos = c.get("qos", 0)
        if self.version == mqtt.MQTTv5:
            from paho.mqtt.subscribeoptions import SubscribeOptions
            opts = SubscribeOptions(qos=qos, noLocal=bool(c.get("no_local", False)),
                                    retainAsPublished=bool(c.get("retain_as_published", False)),
                                    retainHandling=c.get("retain_handling", 0))
            props = None
            if c.get("subscription_identifier"):
                props = Properties(PacketTypes.SUBSCRIBE)
                props.SubscriptionIdentifier = c["subscription_identifier"]
            rc, mid = self.client.subscribe(c["topic"], options=opts, properties=props)
        else:
            rc, mid = self.client.subscribe(c["topic"], qos)
        self.tokens[mid] = token

    def unsubscribe(self, c, token):
        rc, mid = self.client.unsubscribe(c["topic"])
        self.tokens[mid] = token

    def publish(self, c, token):
        props = None
        p = c.get("properties") or {}
        if self.version == mqtt.MQTTv5 and p:
            props = Properties(PacketTypes.PUBLISH)
            if p.get("message_expiry") is not None:
                props.MessageExpiryInterval = p["message_expiry"]
            if p.get("content_type") is not None:
                props.ContentType = p["content_type"]
            for k, val in p.get("user_properties") or []:
                props.UserProperty = (k, val)
        info = self.client.publish(c["topic"], payload_of(c), c.get("qos", 0), bool(c.get("retain", False)),
                                   properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            emit(with_token({"event": "error", "command": "publish",
                             "message": mqtt.error_string(info.rc)}, token))
            return
        self.tokens[info.mid] = token
        if c.get("qos", 0) == 0:
            # paho calls on_publish for QoS 0 too, once written.
            pass

    def disconnect(self, c, token):
        self.closing = True
        if self.version == mqtt.MQTTv5 and c.get("reason_code"):
            from paho.mqtt.reasoncodes import ReasonCode
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=c["reason_code"]))
        else:
            self.client.disconnect()

    def handle(self, c):
        token = c.get("token")
        cmd = c.get("cmd")
        fn = {"connect": self.connect, "subscribe": self.subscribe, "unsubscribe": self.unsubscribe,
              "publish": self.publish, "disconnect": self.disconnect}.get(cmd)
        if fn is None:
            emit(with_token({"unsupported": cmd}, token))
            return
        if cmd != "connect" and self.client is None:
            emit(with_token({"event": "error", "command": cmd, "message": "not connected"}, token))
            return
        try:
            fn(c, token)
        except Exception as e:  # the library refused: tell the application, go on
            emit(with_token({"event": "error", "command": cmd, "message": f"{type(e).__name__}: {e}"}, token))


def main():
    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            line = line.strip()
            if line:
                try:
                    commands.put(json.loads(line))
                except ValueError as e:
                    emit({"event": "error", "message": f"bad command: {e}"})
        commands.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    emit({"event": "ready", "library": "paho-mqtt", "version": paho.mqtt.__version__,
          "adapter": ADAPTER_VERSION})
    a = Adapter()
    while True:
        try:
            c = commands.get(timeout=0.02 if a.connected_socket else 0.2)
        except queue.Empty:
            c = False
        if c is None:
            break
        if c:
            a.handle(c)
        if a.client is not None and a.connected_socket:
            rc = a.client.loop(timeout=0.02)
            if rc not in (mqtt.MQTT_ERR_SUCCESS,):
                if a.connected_socket:
                    a.connected_socket = False
    sys.exit(0)


if __name__ == "__main__":
    main()
