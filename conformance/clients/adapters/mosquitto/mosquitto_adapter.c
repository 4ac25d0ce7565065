/*
 * mqttspec client adapter for libmosquitto (C); protocol: conformance/clients/ADAPTER.md.
 *
 * One thread: a poll() on stdin and, while connected, mosquitto_loop() with a short timeout.
 * Commands are parsed by the small JSON reader below (objects, arrays, strings, numbers,
 * booleans, null; bounded depth and size). Automatic reconnection is off (mosquitto_loop never
 * reconnects); a `connect` after the connection ended calls mosquitto_connect again on the same
 * client object, so its session state (in-flight messages) stays.
 *
 * What libmosquitto cannot express is answered `unsupported`: a Keep Alive below 5 s (the
 * library refuses it) and a Clean Start on a reconnection that differs from the one the client
 * object was made with (libmosquitto takes Clean Start only in mosquitto_new; changing it means
 * mosquitto_reinitialise, which throws away the session state the case is about), and the
 * WebSocket transports (libmosquitto has no WebSocket client). TLS is mosquitto_tls_set with the
 * CA file of the `connect` command.
 *
 * Build: cc -O2 -o mosquitto_adapter mosquitto_adapter.c -lmosquitto
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADAPTER_VERSION "1"
#define MAX_LINE (1024 * 1024)
#define MAX_DEPTH 16

/* ---------------------------------------------------------------- JSON reading */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jt t;
    double num;
    bool b;
    char *str;         /* J_STR: bytes (may contain NUL), length in len */
    size_t len;        /* J_STR: byte length; J_ARR/J_OBJ: element count */
    char **keys;       /* J_OBJ */
    struct jv **items; /* J_ARR/J_OBJ */
};

struct jp {
    const char *s;
    size_t i, n;
};

static void jfree(struct jv *v) {
    if (!v) return;
    for (size_t k = 0; (v->t == J_ARR || v->t == J_OBJ) && k < v->len; k++) {
        if (v->keys) free(v->keys[k]);
        jfree(v->items[k]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
    free(v);
}

static void jws(struct jp *p) {
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i])) p->i++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(char *out, size_t *o, unsigned cp) {
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int read_u4(struct jp *p, unsigned *cp) {
    if (p->i + 4 > p->n) return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + k]);
        if (h < 0) return -1;
        v = v * 16 + (unsigned)h;
    }
    p->i += 4;
    *cp = v;
    return 0;
}

/* Reads a string at p->s[p->i] == '"'; returns a malloc'ed buffer (NUL-terminated). */
static char *jstr(struct jp *p, size_t *len) {
    p->i++;
    char *out = malloc(p->n - p->i + 1);
    if (!out) return NULL;
    size_t o = 0;
    while (p->i < p->n) {
        char c = p->s[p->i++];
        if (c == '"') {
            out[o] = 0;
            *len = o;
            return out;
        }
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        if (p->i >= p->n) break;
        char e = p->s[p->i++];
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (read_u4(p, &cp)) goto bad;
            if (cp >= 0xD800 && cp < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                unsigned lo;
                p->i += 2;
                if (read_u4(p, &lo)) goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(out, &o, cp);
            break;
        }
        default: goto bad;
        }
    }
bad:
    free(out);
    return NULL;
}

static struct jv *jparse(struct jp *p, int depth) {
    if (depth > MAX_DEPTH) return NULL;
    jws(p);
    if (p->i >= p->n) return NULL;
    struct jv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        p->i++;
        size_t cap = 0;
        jws(p);
        if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
            p->i++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            if (obj) {
                jws(p);
                size_t kl;
                if (p->i >= p->n || p->s[p->i] != '"' || !(key = jstr(p, &kl))) goto fail;
                jws(p);
                if (p->i >= p->n || p->s[p->i] != ':') {
                    free(key);
                    goto fail;
                }
                p->i++;
            }
            struct jv *item = jparse(p, depth + 1);
            if (!item) {
                free(key);
                goto fail;
            }
            if (v->len == cap) {
                cap = cap ? cap * 2 : 8;
                struct jv **ni = realloc(v->items, cap * sizeof *ni);
                char **nk = obj ? realloc(v->keys, cap * sizeof *nk) : NULL;
                if (ni) v->items = ni;
                if (nk) v->keys = nk;
                if (!ni || (obj && !nk)) {
                    free(key);
                    jfree(item);
                    goto fail;
                }
            }
            if (obj) v->keys[v->len] = key;
            v->items[v->len++] = item;
            jws(p);
            if (p->i >= p->n) goto fail;
            if (p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->s[p->i] == (obj ? '}' : ']')) {
                p->i++;
                return v;
            }
            goto fail;
        }
    } else if (c == '"') {
        v->t = J_STR;
        if (!(v->str = jstr(p, &v->len))) goto fail;
        return v;
    } else if (p->n - p->i >= 4 && !strncmp(p->s + p->i, "true", 4)) {
        v->t = J_BOOL;
        v->b = true;
        p->i += 4;
        return v;
    } else if (p->n - p->i >= 5 && !strncmp(p->s + p->i, "false", 5)) {
        v->t = J_BOOL;
        p->i += 5;
        return v;
    } else if (p->n - p->i >= 4 && !strncmp(p->s + p->i, "null", 4)) {
        v->t = J_NULL;
        p->i += 4;
        return v;
    } else {
        char buf[64];
        size_t k = 0;
        while (p->i < p->n && k < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[p->i]))
            buf[k++] = p->s[p->i++];
        buf[k] = 0;
        char *end;
        v->t = J_NUM;
        v->num = strtod(buf, &end);
        if (k == 0 || *end) goto fail;
        return v;
    }
fail:
    jfree(v);
    return NULL;
}

/* The member `key` of an object, NULL when absent or null. */
static const struct jv *jget(const struct jv *o, const char *key) {
    if (!o || o->t != J_OBJ) return NULL;
    for (size_t k = 0; k < o->len; k++)
        if (!strcmp(o->keys[k], key)) return o->items[k]->t == J_NULL ? NULL : o->items[k];
    return NULL;
}

static bool has(const struct jv *o, const char *key) { return jget(o, key) != NULL; }

static long jint(const struct jv *o, const char *key, long dflt) {
    const struct jv *v = jget(o, key);
    if (!v) return dflt;
    if (v->t == J_NUM) return (long)v->num;
    if (v->t == J_BOOL) return v->b;
    return dflt;
}

static bool jbool(const struct jv *o, const char *key, bool dflt) { return jint(o, key, dflt) != 0; }

static const char *jstring(const struct jv *o, const char *key) {
    const struct jv *v = jget(o, key);
    return v && v->t == J_STR ? v->str : NULL;
}

/* ---------------------------------------------------------------- JSON writing */

struct out {
    char *b;
    size_t n, cap;
};

static void oraw(struct out *o, const char *s, size_t n) {
    if (o->n + n + 1 > o->cap) {
        size_t cap = (o->cap + n + 1) * 2;
        char *nb = realloc(o->b, cap);
        if (!nb) return;
        o->b = nb;
        o->cap = cap;
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
    o->b[o->n] = 0;
}

static void ofmt(struct out *o, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) oraw(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Whether the bytes are well-formed UTF-8 (no surrogates, no overlongs). */
static bool valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t extra;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= n) return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

/* A JSON string of bytes that are valid UTF-8. */
static void ostr_n(struct out *o, const char *s, size_t n) {
    oraw(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            oraw(o, e, 2);
        } else if (c < 0x20) {
            ofmt(o, "\\u%04x", c);
        } else {
            oraw(o, (const char *)&c, 1);
        }
    }
    oraw(o, "\"", 1);
}

/* A string field; bytes that are not UTF-8 are written with \u escapes of each byte (lossy,
 * but the line stays JSON). */
static void okey_str(struct out *o, const char *key, const char *s, size_t n) {
    ofmt(o, ",\"%s\":", key);
    if (valid_utf8((const unsigned char *)s, n)) {
        ostr_n(o, s, n);
    } else {
        oraw(o, "\"", 1);
        for (size_t i = 0; i < n; i++) ofmt(o, "\\u%04x", (unsigned char)s[i]);
        oraw(o, "\"", 1);
    }
}

static void ohex(struct out *o, const void *p, size_t n) {
    const unsigned char *b = p;
    oraw(o, "\"", 1);
    for (size_t i = 0; i < n; i++) ofmt(o, "%02x", b[i]);
    oraw(o, "\"", 1);
}

static void emit_out(struct out *o, long token) {
    if (token >= 0) ofmt(o, ",\"token\":%ld", token);
    oraw(o, "}\n", 2);
    if (o->b) {
        fwrite(o->b, 1, o->n, stdout);
        fflush(stdout);
    }
    free(o->b);
}

static struct out begin(const char *event) {
    struct out o = {0};
    ofmt(&o, "{\"event\":\"%s\"", event);
    return o;
}

static void emit_error(const char *command, const char *message, long token) {
    struct out o = begin("error");
    okey_str(&o, "command", command, strlen(command));
    okey_str(&o, "message", message, strlen(message));
    emit_out(&o, token);
}

static void emit_unsupported(const char *what, long token) {
    struct out o = {0};
    oraw(&o, "{\"unsupported\":", 15);
    ostr_n(&o, what, strlen(what));
    emit_out(&o, token);
}

/* ---------------------------------------------------------------- state */

static struct mosquitto *mosq;
static int mosq_version;      /* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
static bool mosq_clean;       /* the Clean Start the object was made with */
static char *mosq_id;         /* the Client Identifier the object was made with (NULL: none) */
static bool connected;        /* a network connection exists (mosquitto_loop runs) */
static bool closing;          /* the application asked to disconnect */
static long connect_token = -1;
static long call_token = -1;  /* the token of the call in progress (callbacks inside it) */

#define MAX_TOKENS 1024
static struct {
    int mid;
    long token;
} tokens[MAX_TOKENS];

static void token_put(int mid, long token) {
    if (token < 0) return;
    for (int k = 0; k < MAX_TOKENS; k++)
        if (tokens[k].token < 0 || tokens[k].mid == mid) {
            tokens[k].mid = mid;
            tokens[k].token = token;
            return;
        }
}

static long token_take(int mid) {
    for (int k = 0; k < MAX_TOKENS; k++)
        if (tokens[k].token >= 0 && tokens[k].mid == mid) {
            long t = tokens[k].token;
            tokens[k].token = -1;
            return t;
        }
    return call_token;
}

/* ---------------------------------------------------------------- callbacks */

static void add_props(struct out *o, const mosquitto_property *props) {
    oraw(o, ",\"properties\":{", 15);
    bool first = true;
#define SEP() (first ? (first = false, "") : ",")
    bool ids = false;
    bool users = false;
    for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
        int id = mosquitto_property_identifier(p);
        uint8_t b8;
        uint16_t i16;
        uint32_t i32;
        char *s = NULL, *v = NULL;
        void *bin = NULL;
        uint16_t blen;
        switch (id) {
        case MQTT_PROP_SUBSCRIPTION_IDENTIFIER:
            if (!ids) {
                ids = true;
                ofmt(o, "%s\"subscription_identifiers\":[", SEP());
                bool f2 = true;
                for (const mosquitto_property *q = props; q; q = mosquitto_property_next(q))
                    if (mosquitto_property_identifier(q) == MQTT_PROP_SUBSCRIPTION_IDENTIFIER &&
                        mosquitto_property_read_varint(q, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &i32, false)) {
                        ofmt(o, "%s%u", f2 ? "" : ",", i32);
                        f2 = false;
                    }
                oraw(o, "]", 1);
            }
            break;
        case MQTT_PROP_USER_PROPERTY:
            if (!users) {
                users = true;
                ofmt(o, "%s\"user_properties\":[", SEP());
                bool f2 = true;
                for (const mosquitto_property *q = props; q; q = mosquitto_property_next(q))
                    if (mosquitto_property_identifier(q) == MQTT_PROP_USER_PROPERTY &&
                        mosquitto_property_read_string_pair(q, MQTT_PROP_USER_PROPERTY, &s, &v, false)) {
                        oraw(o, f2 ? "[" : ",[", f2 ? 1 : 2);
                        ostr_n(o, s, strlen(s));
                        oraw(o, ",", 1);
                        ostr_n(o, v, strlen(v));
                        oraw(o, "]", 1);
                        free(s);
                        free(v);
                        s = v = NULL;
                        f2 = false;
                    }
                oraw(o, "]", 1);
            }
            break;
        case MQTT_PROP_TOPIC_ALIAS:
            if (mosquitto_property_read_int16(p, id, &i16, false)) ofmt(o, "%s\"topic_alias\":%u", SEP(), i16);
            break;
        case MQTT_PROP_SERVER_KEEP_ALIVE:
            if (mosquitto_property_read_int16(p, id, &i16, false)) ofmt(o, "%s\"server_keep_alive\":%u", SEP(), i16);
            break;
        case MQTT_PROP_RECEIVE_MAXIMUM:
            if (mosquitto_property_read_int16(p, id, &i16, false)) ofmt(o, "%s\"receive_maximum\":%u", SEP(), i16);
            break;
        case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
            if (mosquitto_property_read_int16(p, id, &i16, false))
                ofmt(o, "%s\"topic_alias_maximum\":%u", SEP(), i16);
            break;
        case MQTT_PROP_MAXIMUM_PACKET_SIZE:
            if (mosquitto_property_read_int32(p, id, &i32, false))
                ofmt(o, "%s\"maximum_packet_size\":%u", SEP(), i32);
            break;
        case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
            if (mosquitto_property_read_int32(p, id, &i32, false)) ofmt(o, "%s\"message_expiry\":%u", SEP(), i32);
            break;
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
            if (mosquitto_property_read_byte(p, id, &b8, false)) ofmt(o, "%s\"payload_format\":%u", SEP(), b8);
            break;
        case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER:
        case MQTT_PROP_REASON_STRING:
        case MQTT_PROP_CONTENT_TYPE:
        case MQTT_PROP_RESPONSE_TOPIC:
            if (mosquitto_property_read_string(p, id, &s, false)) {
                const char *key = id == MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER ? "assigned_client_identifier"
                                  : id == MQTT_PROP_REASON_STRING           ? "reason_string"
                                  : id == MQTT_PROP_CONTENT_TYPE            ? "content_type"
                                                                            : "response_topic";
                ofmt(o, "%s\"%s\":", SEP(), key);
                ostr_n(o, s, strlen(s));
                free(s);
            }
            break;
        case MQTT_PROP_CORRELATION_DATA:
            if (mosquitto_property_read_binary(p, id, &bin, &blen, false)) {
                ofmt(o, "%s\"correlation_data_hex\":", SEP());
                ohex(o, bin, blen);
                free(bin);
            }
            break;
        default:
            break;
        }
    }
#undef SEP
    oraw(o, "}", 1);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props) {
    (void)m;
    (void)obj;
    struct out o = begin("connack");
    ofmt(&o, ",\"reason_code\":%d,\"session_present\":%s", rc, (flags & 1) ? "true" : "false");
    add_props(&o, props);
    emit_out(&o, connect_token);
    connect_token = -1;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props) {
    (void)m;
    (void)obj;
    struct out o = begin("disconnected");
    if (closing) {
        oraw(&o, ",\"by\":\"client\"", 14);
    } else if (mosq_version == MQTT_PROTOCOL_V5 && (rc == 0 || rc >= 0x80)) {
        /* libmosquitto passes the Reason Code of a DISCONNECT from the server; its own error
         * codes (connection lost, protocol error, ...) are small numbers other than 0. */
        ofmt(&o, ",\"by\":\"server\",\"reason_code\":%d", rc);
        add_props(&o, props);
    } else {
        oraw(&o, ",\"by\":\"network\"", 15);
        const char *msg = mosquitto_strerror(rc);
        okey_str(&o, "message", msg, strlen(msg));
    }
    emit_out(&o, connect_token);
    connect_token = -1;
    connected = false;
    closing = false;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props) {
    (void)m;
    (void)obj;
    struct out o = begin("message");
    const char *topic = msg->topic ? msg->topic : "";
    okey_str(&o, "topic", topic, strlen(topic));
    oraw(&o, ",\"payload_hex\":", 15);
    ohex(&o, msg->payload, (size_t)msg->payloadlen);
    if (valid_utf8(msg->payload, (size_t)msg->payloadlen)) {
        oraw(&o, ",\"payload\":", 11);
        ostr_n(&o, msg->payload, (size_t)msg->payloadlen);
    }
    ofmt(&o, ",\"qos\":%d,\"retain\":%s", msg->qos, msg->retain ? "true" : "false");
    add_props(&o, props);
    emit_out(&o, -1);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *props) {
    (void)m;
    (void)obj;
    (void)props;
    struct out o = begin("published");
    ofmt(&o, ",\"reason_code\":%d", rc);
    emit_out(&o, token_take(mid));
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
                         const mosquitto_property *props) {
    (void)m;
    (void)obj;
    (void)props;
    struct out o = begin("subscribed");
    oraw(&o, ",\"reason_codes\":[", 17);
    for (int k = 0; k < count; k++) ofmt(&o, "%s%d", k ? "," : "", granted[k]);
    oraw(&o, "]", 1);
    emit_out(&o, token_take(mid));
}

static void on_unsubscribe(struct mosquitto *m, void *obj, int mid, const mosquitto_property *props) {
    (void)m;
    (void)obj;
    (void)props;
    struct out o = begin("unsubscribed");
    emit_out(&o, token_take(mid));
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *line) {
    (void)m;
    (void)obj;
    (void)level;
    fprintf(stderr, "libmosquitto: %s\n", line);
}

/* ---------------------------------------------------------------- commands */

static bool is_v5(void) { return mosq_version == MQTT_PROTOCOL_V5; }

/* Adds the user properties `[[name, value], ...]` of `list`; false when malformed. */
static bool add_user_props(mosquitto_property **props, const struct jv *list) {
    if (!list) return true;
    if (list->t != J_ARR) return false;
    for (size_t k = 0; k < list->len; k++) {
        const struct jv *pair = list->items[k];
        if (pair->t != J_ARR || pair->len != 2 || pair->items[0]->t != J_STR || pair->items[1]->t != J_STR)
            return false;
        if (mosquitto_property_add_string_pair(props, MQTT_PROP_USER_PROPERTY, pair->items[0]->str,
                                               pair->items[1]->str))
            return false;
    }
    return true;
}

/* The payload of a command or will: `payload_hex` or `payload`; malloc'ed. */
static unsigned char *payload_of(const struct jv *c, size_t *len) {
    const struct jv *hex = jget(c, "payload_hex");
    if (hex && hex->t == J_STR) {
        *len = hex->len / 2;
        unsigned char *b = malloc(*len + 1);
        if (!b) return NULL;
        for (size_t k = 0; k < *len; k++) {
            int h = hexval(hex->str[2 * k]), l = hexval(hex->str[2 * k + 1]);
            b[k] = (unsigned char)((h < 0 ? 0 : h) * 16 + (l < 0 ? 0 : l));
        }
        return b;
    }
    const struct jv *text = jget(c, "payload");
    char buf[32];
    const char *src = "";
    size_t n = 0;
    if (text && text->t == J_STR) {
        src = text->str;
        n = text->len;
    } else if (text && text->t == J_NUM) {
        n = (size_t)snprintf(buf, sizeof buf, "%g", text->num);
        src = buf;
    }
    unsigned char *b = malloc(n + 1);
    if (b) memcpy(b, src, n);
    *len = n;
    return b;
}

static void cmd_connect(const struct jv *c, long token) {
    const char *proto = jstring(c, "protocol");
    int version = proto && !strcmp(proto, "3.1.1") ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
    bool clean = jbool(c, "clean_start", true);
    const char *id = jstring(c, "client_id");
    if (id && !*id) id = NULL; /* libmosquitto sends an empty Client Identifier for NULL */
    long keep_alive = jint(c, "keep_alive", 60);
    const char *host = jstring(c, "host");
    long port = jint(c, "port", 1883);
    if (keep_alive != 0 && keep_alive < 5) {
        emit_unsupported("connect.keep_alive (libmosquitto refuses a Keep Alive below 5 s)", token);
        return;
    }
    if (has(c, "authentication_method")) {
        /* libmosquitto's client API has no way to answer a server's AUTH. */
        emit_unsupported("connect.authentication_method (libmosquitto cannot answer AUTH)", token);
        return;
    }
    const char *transport = jstring(c, "transport");
    bool tls = transport && !strcmp(transport, "tls");
    if (transport && strcmp(transport, "tcp") && !tls) {
        /* libmosquitto's client side has no WebSocket transport (only the broker has). */
        emit_unsupported("connect.transport=ws (libmosquitto has no WebSocket client)", token);
        return;
    }
    if (connected) {
        emit_error("connect", "already connected", token);
        return;
    }
    bool same_id = (!id && !mosq_id) || (id && mosq_id && !strcmp(id, mosq_id));
    if (mosq && version == mosq_version && same_id && clean != mosq_clean) {
        emit_unsupported("connect.clean_start (libmosquitto fixes Clean Start when the client object is made)",
                         token);
        return;
    }
    if (!mosq || version != mosq_version || !same_id) {
        if (mosq) mosquitto_destroy(mosq);
        free(mosq_id);
        mosq_id = id ? strdup(id) : NULL;
        mosq = mosquitto_new(id, clean, NULL);
        if (!mosq) {
            emit_error("connect", strerror(errno), token);
            return;
        }
        mosq_version = version;
        mosq_clean = clean;
        mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, version);
        mosquitto_connect_v5_callback_set(mosq, on_connect);
        mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
        mosquitto_message_v5_callback_set(mosq, on_message);
        mosquitto_publish_v5_callback_set(mosq, on_publish);
        mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
        mosquitto_unsubscribe_v5_callback_set(mosq, on_unsubscribe);
        mosquitto_log_callback_set(mosq, on_log);
    }
    if (tls) {
        int rc = mosquitto_tls_set(mosq, jstring(c, "ca_file"), NULL, NULL, NULL, NULL);
        if (rc) {
            emit_error("connect", mosquitto_strerror(rc), token);
            return;
        }
    }
    if (has(c, "username")) mosquitto_username_pw_set(mosq, jstring(c, "username"), jstring(c, "password"));
    const struct jv *will = jget(c, "will");
    if (will) {
        size_t len;
        unsigned char *payload = payload_of(will, &len);
        int rc = mosquitto_will_set_v5(mosq, jstring(will, "topic"), (int)len, payload, (int)jint(will, "qos", 0),
                                       jbool(will, "retain", false), NULL);
        free(payload);
        if (rc) {
            emit_error("connect", mosquitto_strerror(rc), token);
            return;
        }
    }
    mosquitto_property *props = NULL;
    if (is_v5()) {
        if (has(c, "session_expiry"))
            mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)jint(c, "session_expiry", 0));
        if (has(c, "receive_maximum"))
            mosquitto_property_add_int16(&props, MQTT_PROP_RECEIVE_MAXIMUM, (uint16_t)jint(c, "receive_maximum", 0));
        if (has(c, "maximum_packet_size"))
            mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
                                         (uint32_t)jint(c, "maximum_packet_size", 0));
        if (has(c, "topic_alias_maximum"))
            mosquitto_property_add_int16(&props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM,
                                         (uint16_t)jint(c, "topic_alias_maximum", 0));
        if (!add_user_props(&props, jget(c, "user_properties"))) {
            mosquitto_property_free_all(&props);
            emit_error("connect", "bad user_properties", token);
            return;
        }
    }
    connect_token = token;
    closing = false;
    int rc = mosquitto_connect_bind_v5(mosq, host ? host : "127.0.0.1", (int)port, (int)keep_alive, NULL, props);
    mosquitto_property_free_all(&props);
    if (rc == MOSQ_ERR_SUCCESS) {
        connected = true;
    } else if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_NOT_SUPPORTED || rc == MOSQ_ERR_DUPLICATE_PROPERTY ||
               rc == MOSQ_ERR_PROTOCOL) {
        connect_token = -1;
        emit_error("connect", mosquitto_strerror(rc), token);
    } else {
        connect_token = -1;
        struct out o = begin("disconnected");
        oraw(&o, ",\"by\":\"network\"", 15);
        const char *msg = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
        okey_str(&o, "message", msg, strlen(msg));
        emit_out(&o, token);
    }
}

static void cmd_subscribe(const struct jv *c, long token) {
    int options = 0;
    mosquitto_property *props = NULL;
    if (is_v5()) {
        if (jbool(c, "no_local", false)) options |= MQTT_SUB_OPT_NO_LOCAL;
        if (jbool(c, "retain_as_published", false)) options |= MQTT_SUB_OPT_RETAIN_AS_PUBLISHED;
        options |= ((int)jint(c, "retain_handling", 0) & 3) << 4;
        if (has(c, "subscription_identifier"))
            mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER,
                                          (uint32_t)jint(c, "subscription_identifier", 0));
    }
    int mid = 0;
    const char *topic = jstring(c, "topic");
    call_token = token;
    int rc = mosquitto_subscribe_v5(mosq, &mid, topic ? topic : "", (int)jint(c, "qos", 0), options, props);
    call_token = -1;
    mosquitto_property_free_all(&props);
    if (rc)
        emit_error("subscribe", mosquitto_strerror(rc), token);
    else
        token_put(mid, token);
}

static void cmd_unsubscribe(const struct jv *c, long token) {
    int mid = 0;
    const char *topic = jstring(c, "topic");
    call_token = token;
    int rc = mosquitto_unsubscribe_v5(mosq, &mid, topic ? topic : "", NULL);
    call_token = -1;
    if (rc)
        emit_error("unsubscribe", mosquitto_strerror(rc), token);
    else
        token_put(mid, token);
}

static void cmd_publish(const struct jv *c, long token) {
    mosquitto_property *props = NULL;
    const struct jv *p = jget(c, "properties");
    if (is_v5() && p) {
        if (has(p, "message_expiry"))
            mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, (uint32_t)jint(p, "message_expiry", 0));
        if (has(p, "payload_format"))
            mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, (uint8_t)jint(p, "payload_format", 0));
        if (jstring(p, "content_type")) mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, jstring(p, "content_type"));
        if (jstring(p, "response_topic"))
            mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, jstring(p, "response_topic"));
        if (jstring(p, "correlation_data_hex")) {
            struct jv fake = {0};
            const char *key = "payload_hex";
            struct jv *item = (struct jv *)jget(p, "correlation_data_hex");
            char *keys[1] = {(char *)key};
            struct jv *items[1] = {item};
            fake.t = J_OBJ;
            fake.len = 1;
            fake.keys = keys;
            fake.items = items;
            size_t len;
            unsigned char *b = payload_of(&fake, &len);
            mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, b, (uint16_t)len);
            free(b);
        }
        if (!add_user_props(&props, jget(p, "user_properties"))) {
            mosquitto_property_free_all(&props);
            emit_error("publish", "bad user_properties", token);
            return;
        }
    }
    size_t len;
    unsigned char *payload = payload_of(c, &len);
    int mid = 0;
    const char *topic = jstring(c, "topic");
    call_token = token;
    int rc = mosquitto_publish_v5(mosq, &mid, topic ? topic : "", (int)len, payload, (int)jint(c, "qos", 0),
                                  jbool(c, "retain", false), props);
    call_token = -1;
    free(payload);
    mosquitto_property_free_all(&props);
    if (rc)
        emit_error("publish", mosquitto_strerror(rc), token);
    else
        token_put(mid, token);
}

static void cmd_disconnect(const struct jv *c, long token) {
    closing = true;
    connect_token = token;
    int rc = mosquitto_disconnect_v5(mosq, is_v5() ? (int)jint(c, "reason_code", 0) : 0, NULL);
    if (rc) {
        closing = false;
        connect_token = -1;
        emit_error("disconnect", mosquitto_strerror(rc), token);
    }
}

static void handle(const char *line, size_t n) {
    struct jp p = {line, 0, n};
    struct jv *c = jparse(&p, 0);
    if (!c || c->t != J_OBJ) {
        emit_error("", "bad command: not a JSON object", -1);
        jfree(c);
        return;
    }
    long token = jint(c, "token", -1);
    const char *cmd = jstring(c, "cmd");
    if (!cmd) cmd = "";
    if (!strcmp(cmd, "connect")) {
        cmd_connect(c, token);
    } else if (strcmp(cmd, "subscribe") && strcmp(cmd, "unsubscribe") && strcmp(cmd, "publish") &&
               strcmp(cmd, "disconnect")) {
        emit_unsupported(cmd, token);
    } else if (!mosq) {
        emit_error(cmd, "not connected", token);
    } else if (!strcmp(cmd, "subscribe")) {
        cmd_subscribe(c, token);
    } else if (!strcmp(cmd, "unsubscribe")) {
        cmd_unsubscribe(c, token);
    } else if (!strcmp(cmd, "publish")) {
        cmd_publish(c, token);
    } else {
        cmd_disconnect(c, token);
    }
    jfree(c);
}

int main(void) {
    for (int k = 0; k < MAX_TOKENS; k++) tokens[k].token = -1;
    mosquitto_lib_init();
    int major, minor, revision;
    mosquitto_lib_version(&major, &minor, &revision);
    printf("{\"event\":\"ready\",\"library\":\"libmosquitto\",\"version\":\"%d.%d.%d\",\"adapter\":\"%s\"}\n", major,
           minor, revision, ADAPTER_VERSION);
    fflush(stdout);

    char *buf = malloc(MAX_LINE + 1);
    size_t have = 0;
    bool skipping = false; /* inside a line longer than MAX_LINE */
    bool eof = false;
    if (!buf) return 1;
    while (!eof) {
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int pr = poll(&pfd, 1, connected ? 5 : 50);
        if (pr > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(STDIN_FILENO, buf + have, MAX_LINE - have);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                eof = true;
            } else {
                have += (size_t)r;
                size_t start = 0;
                for (size_t k = 0; k < have; k++) {
                    if (buf[k] != '\n') continue;
                    if (!skipping && k > start) handle(buf + start, k - start);
                    skipping = false;
                    start = k + 1;
                }
                memmove(buf, buf + start, have - start);
                have -= start;
                if (have == MAX_LINE) {
                    have = 0;
                    skipping = true;
                }
            }
        }
        if (mosq && connected) {
            int rc = mosquitto_loop(mosq, 5, 1);
            if (rc == MOSQ_ERR_NO_CONN) connected = false;
        }
    }
    if (mosq) mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    free(buf);
    return 0;
}
