#!/usr/bin/env node
// mqttspec client adapter for MQTT.js (npm `mqtt`); protocol: conformance/clients/ADAPTER.md.
//
// Automatic reconnection is off (reconnectPeriod 0); a `connect` after the connection ended
// reconnects the same client object (`client.reconnect()`), so its session state stays.
'use strict';

const fs = require('fs');
const readline = require('readline');
const mqtt = require('mqtt');
const mqttVersion = require('mqtt/package.json').version;

const ADAPTER_VERSION = '1';

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function withToken(obj, token) {
  if (token !== undefined && token !== null) obj.token = token;
  return obj;
}

function payloadOf(c) {
  if (c.payload_hex != null) return Buffer.from(c.payload_hex, 'hex');
  return Buffer.from(c.payload || '', 'utf8');
}

function userProps(list) {
  if (!list || list.length === 0) return undefined;
  const out = {};
  for (const [k, v] of list) {
    if (out[k] === undefined) out[k] = v;
    else out[k] = [].concat(out[k], v);
  }
  return out;
}

let client = null;
let closing = false;
let ended = false;

function attach(c) {
  c.on('connect', (connack) => {
    const p = connack.properties || {};
    const props = {};
    if (p.assignedClientIdentifier !== undefined) props.assigned_client_identifier = p.assignedClientIdentifier;
    if (p.serverKeepAlive !== undefined) props.server_keep_alive = p.serverKeepAlive;
    if (p.receiveMaximum !== undefined) props.receive_maximum = p.receiveMaximum;
    if (p.maximumPacketSize !== undefined) props.maximum_packet_size = p.maximumPacketSize;
    if (p.topicAliasMaximum !== undefined) props.topic_alias_maximum = p.topicAliasMaximum;
    emit({
      event: 'connack',
      reason_code: connack.reasonCode !== undefined ? connack.reasonCode : (connack.returnCode || 0),
      session_present: !!connack.sessionPresent,
      properties: props,
    });
  });
  c.on('message', (topic, payload, packet) => {
    const p = packet.properties || {};
    const props = {};
    if (p.subscriptionIdentifier !== undefined) {
      props.subscription_identifiers = [].concat(p.subscriptionIdentifier);
    }
    if (p.topicAlias !== undefined) props.topic_alias = p.topicAlias;
    if (p.contentType !== undefined) props.content_type = p.contentType;
    if (p.userProperties !== undefined) {
      props.user_properties = [];
      for (const [k, v] of Object.entries(p.userProperties)) {
        for (const x of [].concat(v)) props.user_properties.push([k, x]);
      }
    }
    const ev = {
      event: 'message',
      topic,
      payload_hex: payload.toString('hex'),
      qos: packet.qos,
      retain: !!packet.retain,
      dup: !!packet.dup,
      properties: props,
    };
    const text = payload.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(payload)) ev.payload = text;
    emit(ev);
  });
  c.on('disconnect', (packet) => {
    emit({ event: 'disconnected', by: 'server', reason_code: packet.reasonCode || 0 });
  });
  c.on('close', () => {
    emit({ event: 'disconnected', by: closing ? 'client' : 'network' });
    closing = false;
  });
  c.on('error', (err) => {
    const ev = { event: 'error', message: String(err && err.message ? err.message : err) };
    if (err && err.code !== undefined) ev.reason_code = err.code;
    emit(ev);
  });
}

// The adapter protocol's transports and MQTT.js's URL schemes (MQTT.js offers the "mqtt"
// WebSocket subprotocol for MQTT 3.1.1 and 5.0).
const SCHEMES = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' };

function connect(c) {
  const v5 = String(c.protocol || '5').startsWith('5');
  const transport = c.transport || 'tcp';
  if (!SCHEMES[transport]) {
    emit(withToken({ unsupported: `connect.transport=${transport}` }, c.token));
    return;
  }
  authMethod = v5 ? c.authentication_method : undefined;
  const opts = {
    host: c.host,
    port: c.port,
    protocol: SCHEMES[transport],
    protocolVersion: v5 ? 5 : 4,
    clientId: c.client_id === undefined ? '' : c.client_id,
    clean: c.clean_start === undefined ? true : !!c.clean_start,
    keepalive: c.keep_alive === undefined ? 60 : c.keep_alive,
    reconnectPeriod: 0,
    connectTimeout: 10000,
  };
  if (transport === 'ws' || transport === 'wss') opts.path = c.path || '/mqtt';
  if (transport === 'tls' || transport === 'wss') {
    opts.ca = c.ca_file ? [fs.readFileSync(c.ca_file)] : undefined;
    opts.rejectUnauthorized = true;
  }
  if (c.username != null) opts.username = c.username;
  if (c.password != null) opts.password = c.password;
  if (c.will) {
    opts.will = { topic: c.will.topic, payload: payloadOf(c.will), qos: c.will.qos || 0, retain: !!c.will.retain };
  }
  if (v5) {
    const props = {};
    if (c.session_expiry) props.sessionExpiryInterval = c.session_expiry;
    if (c.receive_maximum) props.receiveMaximum = c.receive_maximum;
    if (c.maximum_packet_size) props.maximumPacketSize = c.maximum_packet_size;
    if (c.topic_alias_maximum) props.topicAliasMaximum = c.topic_alias_maximum;
    const up = userProps(c.user_properties);
    if (up) props.userProperties = up;
    if (c.authentication_method != null) props.authenticationMethod = c.authentication_method;
    if (c.authentication_data_hex != null) props.authenticationData = Buffer.from(c.authentication_data_hex, 'hex');
    if (Object.keys(props).length > 0) opts.properties = props;
  }
  // MQTT.js keeps the session state in its message stores; reconnect() replaces them with
  // empty ones unless they are passed. An application resuming a session (Clean Start 0)
  // passes them; one starting clean does not.
  const same = client && client.options.protocolVersion === opts.protocolVersion && client.options.clientId === opts.clientId && client.options.protocol === opts.protocol;
  const stores = same && !opts.clean ? { incomingStore: client.incomingStore, outgoingStore: client.outgoingStore } : undefined;
  if (same && !ended) {
    Object.assign(client.options, opts);
    client.reconnect(stores);
    return;
  }
  // After end() the client object cannot reconnect: a new one, with the stores if resuming.
  if (client && !ended) client.end(true);
  if (stores) Object.assign(opts, stores);
  ended = false;
  client = mqtt.connect(opts);
  attach(client);
  // Enhanced authentication: the server's AUTH reaches the application (an `auth` event); its
  // answer (the `auth` command) is handed to MQTT.js's callback.
  client.handleAuth = (packet, callback) => {
    const p = packet.properties || {};
    const props = {};
    if (p.authenticationMethod !== undefined) props.authentication_method = p.authenticationMethod;
    if (p.authenticationData !== undefined) props.authentication_data_hex = Buffer.from(p.authenticationData).toString('hex');
    authCallback = callback;
    emit({ event: 'auth', reason_code: packet.reasonCode, properties: props });
  };
}

let authMethod;
let authCallback = null;

function handle(c) {
  const token = c.token;
  const cmd = c.cmd;
  try {
    if (cmd === 'connect') return connect(c);
    if (cmd === 'auth') {
      if (!authCallback) {
        emit(withToken({ event: 'error', command: cmd, message: 'no AUTH from the server to answer' }, token));
        return;
      }
      const cb = authCallback;
      authCallback = null;
      const properties = { authenticationMethod: authMethod };
      if (c.authentication_data_hex != null) properties.authenticationData = Buffer.from(c.authentication_data_hex, 'hex');
      cb(null, { cmd: 'auth', reasonCode: 0x18, properties });
      return;
    }
    if (!client) {
      emit(withToken({ event: 'error', command: cmd, message: 'not connected' }, token));
      return;
    }
    if (cmd === 'subscribe') {
      const o = { qos: c.qos || 0 };
      if (client.options.protocolVersion === 5) {
        if (c.no_local != null) o.nl = !!c.no_local;
        if (c.retain_as_published != null) o.rap = !!c.retain_as_published;
        if (c.retain_handling != null) o.rh = c.retain_handling;
        if (c.subscription_identifier) o.properties = { subscriptionIdentifier: c.subscription_identifier };
      }
      client.subscribe(c.topic, o, (err, granted) => {
        if (err) emit(withToken({ event: 'error', command: cmd, message: String(err.message || err) }, token));
        else emit(withToken({ event: 'subscribed', reason_codes: (granted || []).map((g) => g.qos) }, token));
      });
    } else if (cmd === 'unsubscribe') {
      client.unsubscribe(c.topic, (err, packet) => {
        if (err) emit(withToken({ event: 'error', command: cmd, message: String(err.message || err) }, token));
        else emit(withToken({ event: 'unsubscribed', reason_codes: packet && packet.reasonCode !== undefined ? [].concat(packet.reasonCode) : undefined }, token));
      });
    } else if (cmd === 'publish') {
      const o = { qos: c.qos || 0, retain: !!c.retain };
      const p = c.properties || {};
      if (client.options.protocolVersion === 5 && Object.keys(p).length > 0) {
        o.properties = {};
        if (p.message_expiry != null) o.properties.messageExpiryInterval = p.message_expiry;
        if (p.content_type != null) o.properties.contentType = p.content_type;
        const up = userProps(p.user_properties);
        if (up) o.properties.userProperties = up;
      }
      client.publish(c.topic, payloadOf(c), o, (err, packet) => {
        if (err) emit(withToken({ event: 'error', command: cmd, message: String(err.message || err) }, token));
        else emit(withToken({ event: 'published', qos: o.qos, reason_code: packet && packet.reasonCode }, token));
      });
    } else if (cmd === 'disconnect') {
      closing = true;
      ended = true;
      const opts = c.reason_code ? { reasonCode: c.reason_code } : {};
      client.end(false, opts);
    } else {
      emit(withToken({ unsupported: cmd }, token));
    }
  } catch (e) {
    emit(withToken({ event: 'error', command: cmd, message: String(e && e.message ? e.message : e) }, token));
  }
}

emit({ event: 'ready', library: 'mqtt (MQTT.js)', version: mqttVersion, adapter: ADAPTER_VERSION });
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  line = line.trim();
  if (!line) return;
  let c;
  try {
    c = JSON.parse(line);
  } catch (e) {
    emit({ event: 'error', message: 'bad command: ' + e.message });
    return;
  }
  handle(c);
});
rl.on('close', () => {
  if (client) client.end(true);
  process.exit(0);
});
