/*
 * client.h: one blocking secd session for secctl: TCP connect, TLS 1.3
 * handshake with verification always on, the greeting, then request/reply
 * round trips.  secctl is a command-line tool, so plain blocking sockets
 * with poll() timeouts are the simplest correct thing; the TLS work is the
 * same sans-I/O channel secd uses.
 */
#ifndef SECCTL_CLIENT_H
#define SECCTL_CLIENT_H

#include <stddef.h>

#include "msg.h"

#define CLIENT_MAX_PINS 8

struct client_opts {
	const char *server;		/* "host:port", "[v6]:port" */
	const char *servername;		/* name to verify; NULL: the host */
	const char *ca_file;		/* required */
	const char *cert_file;		/* client certificate, or NULL */
	const char *key_file;
	const char *pins[CLIENT_MAX_PINS]; /* "sha256:HEX" SPKI pins */
	size_t npins;
	int trace;			/* print each step to stderr */
	int timeout_ms;			/* per network wait */
};

struct client;

/*
 * client_open(opts, err, errlen): connect, handshake, verify (chain, name,
 * pins) and read the greeting.  Nothing is sent after the handshake unless
 * every check passed.  NULL with a reason in err.
 */
struct client *client_open(const struct client_opts *opts, char *err,
    size_t errlen);

/* client_hello(c): the server's greeting. */
const struct msg_hello *client_hello(const struct client *c);

/* client_send_line(c, line, len): send one line; "\n" is added if missing. */
int client_send_line(struct client *c, const char *line, size_t len,
    char *err, size_t errlen);

/*
 * client_recv_line(c, &line, &len, err, errlen): the next line from the
 * server (without terminator), valid until the next call.  -1 on timeout,
 * close or error, with the reason in err.
 */
int client_recv_line(struct client *c, const char **line, size_t *len,
    char *err, size_t errlen);

/*
 * client_request(c, req, rep, err, errlen): give req a fresh integer id,
 * send it, wait for the reply with that id and decode it into rep (the
 * caller msg_reply_clear()s it).  0 when a reply arrived (ok or error
 * reply: see rep->error.code), -1 on a transport or decoding failure.
 */
int client_request(struct client *c, struct msg_request *req,
    struct msg_reply *rep, char *err, size_t errlen);

/* client_close(c): send close_notify, close, free.  NULL ok. */
void client_close(struct client *c);

#endif /* !SECCTL_CLIENT_H */
