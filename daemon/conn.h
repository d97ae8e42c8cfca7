/*
 * conn.h: one client connection, from accept to close, on the worker loop
 * that accepted it.
 *
 * States (conn.state), and what each waits for:
 *   CONN_S_HANDSHAKE  the client's TLS flights.  Timer: handshake_timeout.
 *   CONN_S_UNAUTH     requests; only ping, login and logout pass the gate.
 *                     Timer: login_timeout, from the end of the handshake.
 *   CONN_S_AUTH       requests.  Timer: idle_timeout, counted from the last
 *                     request (noted by each; the timer, when it fires
 *                     early, waits for the rest).
 *   CONN_S_DRAINING   nothing more is read from the socket; requests already
 *                     received are answered, output is flushed, then the
 *                     connection closes.  Entered on server drain, on the
 *                     peer's close_notify/EOF, and after a fatal protocol
 *                     error (too_large).  Timer: flush timeout.
 *   CONN_S_CLOSED     handles are closing; the struct is freed in the last
 *                     close callback, or when the call still at the handler
 *                     is answered, whichever comes last.
 * What happens when the peer stops: every state has a timer, so a silent
 * peer is closed at the latest when that timer fires.
 *
 * Ownership: the worker owns its connections.  A connection is freed only
 * through conn_close() and the close callbacks; nothing else frees one.
 */
#ifndef SECD_CONN_H
#define SECD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "frame.h"

struct dcall;
struct tls_chan;
struct worker;

enum conn_state {
	CONN_S_HANDSHAKE = 0,
	CONN_S_UNAUTH,
	CONN_S_AUTH,
	CONN_S_DRAINING,
	CONN_S_CLOSED
};

#define CONN_F_READING 0x01		/* uv_read_start is in effect */
#define CONN_F_PEER_EOF 0x02		/* no more bytes will come */
#define CONN_F_CLOSE_AFTER_FLUSH 0x04	/* close once output is written */
#define CONN_F_NOTIFIED 0x08		/* close_notify queued */
#define CONN_F_FRAMING_LOST 0x10	/* a line was too large: read no more */
#define CONN_F_RESERVED 0x20		/* TLS input reserved for a socket read */

struct conn {
	struct worker *w;
	struct conn *prev, *next;	/* worker's list */
	uint64_t id;
	enum conn_state state;
	unsigned flags;
	int handles;			/* open uv handles (tcp, timer) */

	uv_tcp_t tcp;
	uv_timer_t timer;
	struct tls_chan *tls;
	struct frame frame;

	struct sockaddr_storage peer;
	char peer_str[64];		/* "127.0.0.1:50000", "[::1]:50000" */
	int counted;			/* holds an iplimit slot */

	/* Identity, once known. */
	char *account;			/* logged-in account, or NULL */
	char cert_sha256[65];		/* verified client certificate, or "" */
	char cert_subject[256];

	/* Requests received and not yet answered, oldest first. */
	struct dcall *q_head, *q_tail;
	unsigned q_len;
	struct dcall *inflight;		/* at the handler, or NULL */

	uint64_t active_ms;		/* loop time of the last request (AUTH):
					   the idle timer counts from it */
	size_t write_pending;		/* bytes handed to uv_write, unwritten */
	const char *close_reason;	/* for the deferred close after flush */
};

/*
 * conn_accept(w, server): accept one connection from the listening socket
 * server on worker w, apply the connection limits, and start the
 * handshake.  Refusals are counted and logged (rate limited).
 */
void conn_accept(struct worker *w, uv_stream_t *server);

/* conn_answered(c, call): the handler answered call (on c's loop). */
void conn_answered(struct conn *c, struct dcall *call);

/*
 * conn_set_account(c, account): the session is now logged in as account
 * (copied), or logged out (NULL).  Moves between CONN_S_UNAUTH and
 * CONN_S_AUTH and re-arms the matching timer.
 */
void conn_set_account(struct conn *c, const char *account);

/* conn_drain(c): the server is shutting down: finish, then close. */
void conn_drain(struct conn *c);

/*
 * conn_close(c, reason): the one close path.  Logs reason once, closes the
 * handles, releases the limits; the struct is freed later (see above).
 * reason is a static string.
 */
void conn_close(struct conn *c, const char *reason);

#endif /* !SECD_CONN_H */
