/*
 * client.c: secctl's blocking session over the sans-I/O TLS channel.
 *
 * Every wait is a poll() bounded by the configured timeout; nothing is
 * written after the handshake unless the server passed every check (chain,
 * name, pins): tls_chan_handshake only returns TLS_OK for a verified peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "frame.h"
#include "tls.h"

struct client {
	int fd;
	int timeout_ms;
	int trace;
	struct tls_ctx *ctx;
	struct tls_chan *ch;
	struct frame fr;
	struct msg_hello hello;
	int64_t next_id;
	char plain[16384];
};

static void
client_trace_cb(void *arg, const char *step, const char *detail)
{
	(void)arg;
	fprintf(stderr, "* %-18s %s\n", step, detail);
}

/* Split "host:port" / "[v6]:port" into its parts. */
static int
client_split(const char *server, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *end;

	if (server[0] == '[') {
		if ((end = strchr(server, ']')) == NULL || end[1] != ':')
			return -1;
		if ((size_t)(end - server - 1) >= hostlen)
			return -1;
		memcpy(host, server + 1, (size_t)(end - server - 1));
		host[end - server - 1] = '\0';
		colon = end + 1;
	} else {
		if ((colon = strrchr(server, ':')) == NULL ||
		    (size_t)(colon - server) >= hostlen || colon == server)
			return -1;
		memcpy(host, server, (size_t)(colon - server));
		host[colon - server] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= portlen)
		return -1;
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

static int
client_wait(struct client *c, short events, char *err, size_t errlen)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, c->timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		snprintf(err, errlen, "timed out after %d ms", c->timeout_ms);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
client_connect(struct client *c, const char *server, char *host,
    size_t hostlen, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	socklen_t len;
	int rc, soerr = 0;

	if (client_split(server, host, hostlen, port, sizeof(port)) != 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT or [IPV6]:PORT",
		    server);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", server, gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "%s: no address", server);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		    client_wait(c, POLLOUT, err, errlen) == 0 &&
		    (len = sizeof(soerr), getsockopt(c->fd, SOL_SOCKET,
		    SO_ERROR, &soerr, &len)) == 0 && soerr == 0)) {
			freeaddrinfo(res);
			if (c->trace)
				fprintf(stderr, "* %-18s %s\n", "connect",
				    server);
			return 0;
		}
		snprintf(err, errlen, "connect %s: %s", server,
		    strerror(soerr != 0 ? soerr : errno));
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	return -1;
}

/* Write out everything the channel has queued. */
static int
client_flush(struct client *c, char *err, size_t errlen)
{
	void *buf;
	size_t len, off = 0;
	ssize_t n;

	if (tls_chan_output_len(c->ch) == 0)
		return 0;
	tls_chan_take_output(c->ch, &buf, &len);
	while (off < len) {
		n = send(c->fd, (char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (client_wait(c, POLLOUT, err, errlen) != 0)
				goto fail;
			continue;
		}
		snprintf(err, errlen, "send: %s", strerror(errno));
		goto fail;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* Read what the socket has into the channel (waiting for it). */
static int
client_fill(struct client *c, char *err, size_t errlen)
{
	void *buf;
	size_t room;
	ssize_t n;

	if (client_wait(c, POLLIN, err, errlen) != 0)
		return -1;
	if (tls_chan_input_reserve(c->ch, &buf, &room) != 0) {
		snprintf(err, errlen, "TLS input buffer full");
		return -1;
	}
	do
		n = recv(c->fd, buf, room, 0);
	while (n < 0 && errno == EINTR);
	tls_chan_input_commit(c->ch, n > 0 ? (size_t)n : 0);
	if (n == 0)
		tls_chan_feed_eof(c->ch);
	else if (n < 0 && errno != EAGAIN) {
		snprintf(err, errlen, "recv: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
client_recv_line(struct client *c, const char **line, size_t *len, char *err,
    size_t errlen)
{
	enum frame_status st;
	size_t room;
	ssize_t n;

	for (;;) {
		st = frame_next(&c->fr, line, len);
		if (st == FRAME_LINE)
			return 0;
		if (st == FRAME_TOO_LARGE) {
			snprintf(err, errlen, "the server sent a line over %d "
			    "bytes", MSG_REPLY_MAX_BYTES);
			return -1;
		}
		room = c->fr.max + FRAME_SLACK - frame_buffered(&c->fr);
		if (room > sizeof(c->plain))
			room = sizeof(c->plain);
		n = tls_chan_read(c->ch, c->plain, room);
		if (client_flush(c, err, errlen) != 0)
			return -1;
		if (n > 0) {
			if (frame_push(&c->fr, c->plain, (size_t)n) !=
			    (size_t)n) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			continue;
		}
		if (n == TLS_WANT_READ) {
			if (client_fill(c, err, errlen) != 0)
				return -1;
			continue;
		}
		if (n == TLS_CLOSED)
			snprintf(err, errlen, "the server closed the connection");
		else
			snprintf(err, errlen, "TLS: %s", tls_chan_error(c->ch));
		return -1;
	}
}

int
client_send_line(struct client *c, const char *line, size_t len, char *err,
    size_t errlen)
{
	if (tls_chan_write(c->ch, line, len) != 0 ||
	    ((len == 0 || line[len - 1] != '\n') &&
	    tls_chan_write(c->ch, "\n", 1) != 0)) {
		snprintf(err, errlen, "TLS: %s", tls_chan_error(c->ch));
		return -1;
	}
	return client_flush(c, err, errlen);
}

static int
client_handshake(struct client *c, const char *server, char *err,
    size_t errlen)
{
	int rc;

	for (;;) {
		rc = tls_chan_handshake(c->ch);
		if (client_flush(c, err, errlen) != 0)
			return -1;
		if (rc == TLS_OK)
			return 0;
		if (rc != TLS_WANT_READ) {
			snprintf(err, errlen, "TLS handshake with %s failed: %s",
			    server, tls_chan_error(c->ch));
			return -1;
		}
		if (client_fill(c, err, errlen) != 0)
			return -1;
	}
}

struct client *
client_open(const struct client_opts *o, char *err, size_t errlen)
{
	struct client *c;
	struct tls_client_config cfg;
	struct codec_error cerr;
	const char *pins[CLIENT_MAX_PINS + 1];
	const char *line;
	char host[256], why[512];
	size_t i, len;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	c->trace = o->trace;
	frame_init(&c->fr, MSG_REPLY_MAX_BYTES);

	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = o->ca_file;
	cfg.cert_file = o->cert_file;
	cfg.key_file = o->key_file;
	for (i = 0; i < o->npins; i++)
		pins[i] = o->pins[i];
	pins[o->npins] = NULL;
	cfg.pins = o->npins > 0 ? pins : NULL;
	if (o->trace) {
		cfg.trace = client_trace_cb;
		cfg.trace_arg = c;
	}
	if ((c->ctx = tls_ctx_new_client(&cfg, err, errlen)) == NULL)
		goto fail;
	if (client_connect(c, o->server, host, sizeof(host), err, errlen) != 0)
		goto fail;
	if ((c->ch = tls_chan_new(c->ctx, o->servername != NULL ?
	    o->servername : host)) == NULL) {
		snprintf(err, errlen, "cannot start TLS for '%s'",
		    o->servername != NULL ? o->servername : host);
		goto fail;
	}
	if (client_handshake(c, o->server, err, errlen) != 0)
		goto fail;
	/* With TLS 1.3 a refused client certificate shows up here. */
	if (client_recv_line(c, &line, &len, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "no greeting from %s: %s", o->server, why);
		goto fail;
	}
	if (codec_decode_hello(line, len, &c->hello, &cerr) != 0) {
		snprintf(err, errlen, "bad greeting from %s: %s", o->server,
		    cerr.message);
		goto fail;
	}
	if (c->hello.version != MSG_PROTOCOL_VERSION) {
		snprintf(err, errlen, "%s speaks protocol %lld, secctl speaks "
		    "%d", o->server, (long long)c->hello.version,
		    MSG_PROTOCOL_VERSION);
		goto fail;
	}
	if (c->trace)
		fprintf(stderr, "* %-18s %.*s\n", "greeting", (int)len, line);
	return c;
fail:
	client_close(c);
	return NULL;
}

const struct msg_hello *
client_hello(const struct client *c)
{
	return &c->hello;
}

int
client_request(struct client *c, struct msg_request *req,
    struct msg_reply *rep, char *err, size_t errlen)
{
	struct codec_buf b;
	struct codec_error cerr;
	struct msg_id id;
	const char *line;
	size_t len;
	int rc;

	msg_id_set_int(&req->id, ++c->next_id);
	codec_buf_init(&b);
	if (codec_encode_request(&b, req) != 0) {
		snprintf(err, errlen, "cannot encode the request: %s",
		    strerror(errno));
		codec_buf_free(&b);
		return -1;
	}
	if (c->trace) {
		if (req->op == MSG_OP_LOGIN)
			fprintf(stderr, "* %-18s login as %s (password not "
			    "shown)\n", "request", req->u.login.account);
		else
			fprintf(stderr, "* %-18s %.*s", "request", (int)b.len,
			    b.data);
	}
	rc = client_send_line(c, b.data, b.len, err, errlen);
	codec_buf_free(&b);
	if (rc != 0)
		return -1;
	/* Lines answering other ids (none, in secctl's own use) are skipped. */
	for (;;) {
		if (client_recv_line(c, &line, &len, err, errlen) != 0)
			return -1;
		if (c->trace)
			fprintf(stderr, "* %-18s %.*s\n", "reply", (int)len,
			    line);
		if (codec_decode_reply_id(line, len, &id, &cerr) != 0)
			break;
		if (msg_id_equal(&id, &req->id) || id.kind == MSG_ID_NONE)
			break;
	}
	if (codec_decode_reply(line, len, msg_id_equal(&id, &req->id) ?
	    req->op : MSG_OP_NONE, rep, &cerr) != 0) {
		snprintf(err, errlen, "bad reply: %s", cerr.message);
		return -1;
	}
	return 0;
}

void
client_close(struct client *c)
{
	char err[128];

	if (c == NULL)
		return;
	if (c->ch != NULL && c->fd >= 0 && tls_chan_handshake_done(c->ch) &&
	    tls_chan_close_notify(c->ch) == 0)
		client_flush(c, err, sizeof(err));
	tls_chan_free(c->ch);
	tls_ctx_free(c->ctx);
	frame_free(&c->fr);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
