/*
 * server.h: listeners, worker loops and the control thread.
 *
 * Threads: the main thread builds the server (config, TLS context, handler,
 * listening sockets), starts one worker thread per configured worker and
 * then runs its own loop for signals only.  A worker owns a uv_loop_t, its
 * own SO_REUSEPORT listening sockets on every configured address (so the
 * kernel spreads accepts), and every connection it accepted, for that
 * connection's whole life: nothing on the per-connection path takes a lock.
 * Handler answers arrive from other threads through the worker's done list
 * and its uv_async_t.
 */
#ifndef SECD_SERVER_H
#define SECD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "metrics.h"

struct conf;
struct conn;
struct dcall;
struct hhost;
struct audit;
struct iplimit;
struct throttle;
struct tls_ctx;

/* Bits of worker.cmd, set by the main thread, read in the wake callback. */
#define WORKER_CMD_DRAIN 0x1	/* stop accepting, finish, close */
#define WORKER_CMD_FORCE 0x2	/* close every connection now */
#define WORKER_CMD_STOP 0x4	/* close the loop's own handles and return */

/*
 * Counters; each worker keeps its own, summed when read (metrics.c serves
 * them).  accepted counts every TCP connection accepted, refused ones
 * included; each refusal also counts under its reason.
 */
struct server_stats {
	_Atomic uint64_t accepted;
	_Atomic uint64_t refused_total;		/* max_connections reached */
	_Atomic uint64_t refused_per_ip;
	_Atomic uint64_t handshakes;		/* completed */
	_Atomic uint64_t handshake_failures;	/* = sum of m.hs_failed */
	_Atomic uint64_t requests;		/* lines received */
	_Atomic uint64_t refused_handshake_rate;
	_Atomic uint64_t logins_locked;		/* refused: name locked */
	_Atomic uint64_t logins_rate_limited;	/* refused: address */
	struct metrics_worker m;		/* by label: see metrics.h */
};

/* The most answer bytes gathered into one TLS record: TLS's largest. */
#define WORKER_STAGE 16384

/* Freed request records a worker keeps for its next requests (dispatch.c). */
#define WORKER_SPARE_DCALLS 64

struct worker {
	struct server *srv;
	unsigned index;
	uv_loop_t loop;
	uv_thread_t thread;
	int thread_started;
	int loop_inited;
	uv_async_t wake;
	uv_tcp_t *listeners;		/* one per configured address */
	size_t nlisteners;
	size_t nlisteners_open;

	pthread_mutex_t done_mtx;	/* guards done_head/done_tail */
	struct dcall *done_head;
	struct dcall **done_tail;
	atomic_uint cmd;		/* WORKER_CMD_* */
	_Atomic uint64_t gen_seen;	/* srv->gen at its last wake */

	struct conn *conns;		/* every live connection */
	size_t nconns;
	uint64_t conn_seq;
	int draining;
	struct server_stats stats;

	/* Scratch for TLS plaintext, loop thread only. */
	char *plainbuf;
	size_t plainbuf_size;

	/*
	 * Answers of one connection gathered in one turn of the loop, so
	 * that they leave as one TLS record and one write (conn.c).  Empty
	 * (stage_conn NULL) whenever a callback returns.
	 */
	char *stage;
	size_t stage_len;
	struct conn *stage_conn;

	/*
	 * Request records freed on this loop, kept for the next requests
	 * (dcall_new) so that a request costs no large malloc and free:
	 * at most WORKER_SPARE_DCALLS, each already wiped.  Loop thread only.
	 */
	struct dcall *spare;
	unsigned nspare;
};

struct server {
	/*
	 * The configuration and TLS context for new work.  A reload swaps
	 * both (server_reload); workers read them afresh in each callback
	 * and never keep them, so once every worker has run its wake
	 * callback after a swap (server_synced) the old ones are unused.
	 */
	const struct conf *_Atomic conf;
	_Atomic uint64_t gen;		/* bumped by each server_reload */
	struct tls_ctx *_Atomic tls;	/* context for new connections */
	struct hhost *handler;
	struct iplimit *iplimit;
	struct throttle *throttle;	/* failed logins, all workers */
	struct audit *audit;		/* or NULL; main's, set after open */
	char *hello;			/* greeting line, with "\n" */
	size_t hello_len;
	unsigned nworkers;
	struct worker *workers;
	int *listen_fds;		/* nworkers x naddrs, bound before start */
	size_t naddrs;
};

/*
 * server_open(srv, conf, tls, handler, err, errlen): bind every listening
 * socket (one per worker per address) and prepare the workers.  Takes a
 * reference on nothing: tls and handler stay the caller's until
 * server_close.  -1 with a reason in err (e.g. "listen 127.0.0.1:7443:
 * address already in use").
 */
int server_open(struct server *srv, const struct conf *conf,
    struct tls_ctx *tls, struct hhost *handler, char *err, size_t errlen);

/* server_start(srv): start the worker threads.  0 / -1. */
int server_start(struct server *srv);

/* server_drain(srv): ask every worker to stop accepting and finish. */
void server_drain(struct server *srv);

/* server_force(srv): ask every worker to close all connections now. */
void server_force(struct server *srv);

/*
 * server_reload(srv, conf, tls): new connections use conf and tls from
 * now on; established ones keep the TLS context they began with.  Limits
 * that live in shared tables (connections, handshake rate, login
 * throttle) change at once.  Returns the generation to pass to
 * server_synced(); the previous conf and tls stay the caller's, and must
 * stay valid until then.  Main thread.
 */
uint64_t server_reload(struct server *srv, const struct conf *conf,
    struct tls_ctx *tls);

/* server_synced(srv, gen): has every worker seen generation gen? */
int server_synced(struct server *srv, uint64_t gen);

/* server_connections(srv): live connections over all workers. */
size_t server_connections(struct server *srv);

/*
 * server_stop(srv): stop and join the workers.  Call after the handler has
 * been closed (so every call has been answered and its answer delivered).
 */
void server_stop(struct server *srv);

/* server_close(srv): free what server_open made.  Safe on a failed open. */
void server_close(struct server *srv);

/* worker_post_done(w, call): hand an answered call to its worker (any
   thread). */
void worker_post_done(struct worker *w, struct dcall *call);

#endif /* !SECD_SERVER_H */
