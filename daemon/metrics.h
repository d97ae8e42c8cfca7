/*
 * metrics.h: secd's counters, and the Prometheus endpoint that serves them.
 *
 * Counting.  Each worker keeps a struct metrics_worker (in its struct
 * server_stats) and only that worker writes it, with relaxed atomic adds:
 * no lock and no shared cache line on the per-connection path.  A scrape
 * loads every worker's counters and sums them; it never waits for a
 * worker.  Every label has a small fixed set of values (an unknown TLS
 * suite is "other", an extension op is "other"), so what a peer sends can
 * never grow the number of series.
 *
 * Serving.  metrics_open() binds metrics.listen on the main thread, before
 * privileges are dropped; metrics_start() serves it on the main thread's
 * loop: a small HTTP/1.x server that answers GET /metrics in the
 * Prometheus text format 0.0.4 and closes after each response.  Requests
 * are bounded in size (METRICS_REQUEST_MAX) and time (METRICS_TIMEOUT_MS),
 * and at most METRICS_MAX_CLIENTS scrapes are served at once.
 */
#ifndef SECD_METRICS_H
#define SECD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "msg.h"

struct conf_addr;
struct hhost;
struct server;
struct tls_info;

#define METRICS_REQUEST_MAX 8192	/* bytes of request line + headers */
#define METRICS_TIMEOUT_MS 10000	/* to receive the request */
#define METRICS_MAX_CLIENTS 16		/* scrape connections at once */

/* Why a connection was refused before its handshake. */
enum metrics_refuse {
	METRICS_REFUSE_MAX_CONNECTIONS = 0,
	METRICS_REFUSE_PER_IP,
	METRICS_REFUSE_HANDSHAKE_RATE,
	METRICS_REFUSE_NO_MEMORY,
	METRICS_REFUSE_N
};

/* Why a handshake failed. */
enum metrics_hsfail {
	METRICS_HSF_TIMEOUT = 0,	/* handshake_timeout fired */
	METRICS_HSF_PEER_CLOSED,	/* EOF or reset mid-handshake */
	METRICS_HSF_NO_SHARED_CIPHER,
	METRICS_HSF_NO_SHARED_GROUP,
	METRICS_HSF_VERSION,		/* no shared version, or not TLS */
	METRICS_HSF_CERTIFICATE,	/* client certificate missing/bad */
	METRICS_HSF_ALPN,
	METRICS_HSF_MALFORMED,		/* not TLS, or a message that does
					   not parse */
	METRICS_HSF_OTHER,
	METRICS_HSF_N
};

/* The op label: the built-in ops, and "other" for the rest. */
enum metrics_op {
	METRICS_OP_PING = 0,
	METRICS_OP_LOGIN,
	METRICS_OP_LOGOUT,
	METRICS_OP_BALANCE,
	METRICS_OP_TRANSFER,
	METRICS_OP_HISTORY,
	METRICS_OP_OTHER,		/* extension ops, lines with no op */
	METRICS_OP_N
};

#define METRICS_TLS_VERSIONS 3		/* TLSv1.3, TLSv1.2, other */
#define METRICS_TLS_SUITES 10		/* the 9 allowed suites, other */
#define METRICS_TLS_GROUPS 5		/* x25519 p256 p384 p521, other */
#define METRICS_LATENCY_BOUNDS 14	/* 0.5 ms .. 10 s, then +Inf */

/* One worker's counters.  Written by that worker only. */
struct metrics_worker {
	_Atomic uint64_t refused_nomem;
	_Atomic uint64_t resumed;
	_Atomic uint64_t hs_failed[METRICS_HSF_N];
	_Atomic uint64_t tls[METRICS_TLS_VERSIONS][METRICS_TLS_SUITES]
	    [METRICS_TLS_GROUPS];
	_Atomic uint64_t requests[METRICS_OP_N][MSG_ERR_COUNT];
	/* Request latency: per bucket (not cumulative), the last is +Inf. */
	_Atomic uint64_t latency[METRICS_LATENCY_BOUNDS + 1];
	_Atomic uint64_t latency_sum_ns;
};

/*
 * metrics_hsfail_class(text): the failure class of a handshake that
 * failed with tls_chan_error() text.
 */
enum metrics_hsfail metrics_hsfail_class(const char *text);

/*
 * metrics_note_session(mw, info): count a completed handshake's version,
 * suite and group, and whether it was resumed.
 */
void metrics_note_session(struct metrics_worker *mw,
    const struct tls_info *info);

/*
 * metrics_note_request(mw, op, code, ns): count a request of op answered
 * with code (MSG_ERR_NONE: ok) ns nanoseconds after its line was cut.
 */
void metrics_note_request(struct metrics_worker *mw, enum msg_op op,
    enum msg_err code, uint64_t ns);

/*
 * metrics_reload_done(ok): count a configuration reload that succeeded
 * (ok != 0) or failed.  Any thread.
 */
void metrics_reload_done(int ok);

/*
 * metrics_render(srv, hh, out, len): the text exposition of every metric
 * of srv (and of the built-in ledger when hh's handler is it) into a
 * malloc'd *out of *len bytes that the caller frees.  Reads the workers'
 * counters without waiting for them.  0, or -1 if memory is short.
 */
int metrics_render(struct server *srv, const struct hhost *hh, char **out,
    size_t *len);

struct metrics;

/*
 * metrics_open(addr, err, errlen): bind and listen on addr (main thread,
 * before privileges are dropped).  Returns the endpoint, or NULL with
 * "metrics.listen 127.0.0.1:9443: Address already in use" in err.
 */
struct metrics *metrics_open(const struct conf_addr *addr, char *err,
    size_t errlen);

/*
 * metrics_start(m, loop, srv, hh): serve scrapes on loop (the main
 * thread's), rendering srv and hh, which must outlive metrics_stop().
 * 0, or -1 with the reason logged.  Does nothing for m NULL.
 */
int metrics_start(struct metrics *m, uv_loop_t *loop, struct server *srv,
    const struct hhost *hh);

/*
 * metrics_stop(m): stop listening and close every scrape connection; the
 * handles are closed by the next turns of the loop.  Idempotent; NULL ok.
 */
void metrics_stop(struct metrics *m);

/*
 * metrics_free(m): stop m if it still runs, run its loop until its handles
 * are closed, close the socket and free m.  Call after the loop is done
 * with it (after uv_run returns).  NULL ok.
 */
void metrics_free(struct metrics *m);

#endif /* !SECD_METRICS_H */
