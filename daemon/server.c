/*
 * server.c: listening sockets, worker threads and their loops.
 *
 * Every socket is created and bound on the main thread before any worker
 * starts, so a bad address or a port in use is a startup error with the
 * address in it, and (later) privileges can be dropped after binding.
 * libuv 1.44 has no flag for SO_REUSEPORT, so the sockets are made by hand
 * and handed to uv_tcp_open().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "iplimit.h"
#include "throttle.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define SERVER_BACKLOG 1024
#define WORKER_PLAINBUF (16 * 1024 + 256)

static int
server_bind_one(const struct conf_addr *l, char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (l->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->sa, l->salen) != 0)
		goto fail;
	if (listen(fd, SERVER_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", l->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int
server_open(struct server *srv, const struct conf *conf, struct tls_ctx *tls,
    struct hhost *handler, char *err, size_t errlen)
{
	unsigned i;
	size_t a;
	long ncpu;

	memset(srv, 0, sizeof(*srv));
	srv->conf = conf;
	atomic_store(&srv->tls, tls);
	srv->handler = handler;
	srv->nworkers = conf->workers;
	if (srv->nworkers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		srv->nworkers = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	srv->naddrs = conf->nlisten;
	if ((srv->iplimit = iplimit_new(conf->limits.max_connections,
	    conf->limits.max_connections_per_ip,
	    conf->limits.handshake_rate_per_ip,
	    conf->limits.handshake_burst_per_ip)) == NULL)
		goto nomem;
	if ((srv->throttle = throttle_new(&(struct throttle_limits){
	    .max_failures = conf->auth.max_failures,
	    .max_failures_per_ip = conf->auth.max_failures_per_ip,
	    .window_ms = conf->auth.failure_window_ms,
	    .lockout_ms = conf->auth.lockout_ms })) == NULL)
		goto nomem;
	if (dispatch_make_hello(srv) != 0)
		goto nomem;
	if ((srv->listen_fds = malloc(sizeof(int) * srv->nworkers *
	    srv->naddrs)) == NULL)
		goto nomem;
	for (i = 0; i < srv->nworkers * srv->naddrs; i++)
		srv->listen_fds[i] = -1;
	for (i = 0; i < srv->nworkers; i++)
		for (a = 0; a < srv->naddrs; a++)
			if ((srv->listen_fds[i * srv->naddrs + a] =
			    server_bind_one(&conf->listen[a], err, errlen)) < 0)
				return -1;
	if ((srv->workers = calloc(srv->nworkers, sizeof(*srv->workers))) ==
	    NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* The worker's wake callback: answered calls, then commands. */
static void
worker_wake_cb(uv_async_t *h)
{
	struct worker *w = h->data;
	struct dcall *list, *call;
	unsigned cmd;
	struct conn *c, *next;
	size_t i;

	pthread_mutex_lock(&w->done_mtx);
	list = w->done_head;
	w->done_head = NULL;
	w->done_tail = &w->done_head;
	pthread_mutex_unlock(&w->done_mtx);
	while ((call = list) != NULL) {
		list = call->next;
		call->next = NULL;
		conn_answered(call->conn, call);
	}

	cmd = atomic_exchange(&w->cmd, 0);
	if (cmd & (WORKER_CMD_DRAIN | WORKER_CMD_FORCE | WORKER_CMD_STOP)) {
		if (!w->draining) {
			w->draining = 1;
			for (i = 0; i < w->nlisteners; i++)
				if (!uv_is_closing((uv_handle_t *)&w->listeners[i]))
					uv_close((uv_handle_t *)&w->listeners[i],
					    NULL);
		}
		for (c = w->conns; c != NULL; c = next) {
			next = c->next;
			if (cmd & (WORKER_CMD_FORCE | WORKER_CMD_STOP))
				conn_close(c, "shutdown: closed without waiting");
			else
				conn_drain(c);
		}
	}
	if (cmd & WORKER_CMD_STOP)
		uv_close((uv_handle_t *)&w->wake, NULL);
	/* No callback of this loop holds an older conf or context now. */
	atomic_store(&w->gen_seen, atomic_load(&w->srv->gen));
}

static void
worker_accept_cb(uv_stream_t *server, int status)
{
	struct worker *w = server->data;

	if (status < 0) {
		log_warnx("worker %u: accept: %s", w->index, uv_strerror(status));
		return;
	}
	conn_accept(w, server);
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;
	int rc;

	rc = uv_run(&w->loop, UV_RUN_DEFAULT);
	(void)rc;
	tls_thread_cleanup();
}

static int
worker_init(struct server *srv, struct worker *w, unsigned index)
{
	size_t a;
	int rc, fd;

	w->srv = srv;
	w->index = index;
	w->done_tail = &w->done_head;
	if ((rc = uv_loop_init(&w->loop)) != 0) {
		log_errx("worker %u: loop: %s", index, uv_strerror(rc));
		return -1;
	}
	pthread_mutex_init(&w->done_mtx, NULL);
	w->loop_inited = 1;
	w->plainbuf_size = WORKER_PLAINBUF;
	if ((w->plainbuf = malloc(w->plainbuf_size)) == NULL ||
	    (w->stage = malloc(WORKER_STAGE)) == NULL)
		return -1;
	if ((rc = uv_async_init(&w->loop, &w->wake, worker_wake_cb)) != 0)
		return -1;
	w->wake.data = w;
	if ((w->listeners = calloc(srv->naddrs, sizeof(uv_tcp_t))) == NULL)
		return -1;
	for (a = 0; a < srv->naddrs; a++) {
		fd = srv->listen_fds[index * srv->naddrs + a];
		uv_tcp_init(&w->loop, &w->listeners[a]);
		w->listeners[a].data = w;
		w->nlisteners++;
		if ((rc = uv_tcp_open(&w->listeners[a], fd)) != 0) {
			log_errx("listen %s: %s", srv->conf->listen[a].text,
			    uv_strerror(rc));
			return -1;
		}
		/* The handle owns the descriptor from here on. */
		srv->listen_fds[index * srv->naddrs + a] = -1;
		if ((rc = uv_listen((uv_stream_t *)&w->listeners[a],
		    SERVER_BACKLOG, worker_accept_cb)) != 0) {
			log_errx("listen %s: %s", srv->conf->listen[a].text,
			    uv_strerror(rc));
			return -1;
		}
	}
	return 0;
}

int
server_start(struct server *srv)
{
	unsigned i;
	int rc;

	for (i = 0; i < srv->nworkers; i++)
		if (worker_init(srv, &srv->workers[i], i) != 0)
			return -1;
	for (i = 0; i < srv->nworkers; i++) {
		rc = uv_thread_create(&srv->workers[i].thread, worker_main,
		    &srv->workers[i]);
		if (rc != 0) {
			log_errx("worker %u: thread: %s", i, uv_strerror(rc));
			return -1;
		}
		srv->workers[i].thread_started = 1;
	}
	return 0;
}

static void
server_command(struct server *srv, unsigned cmd)
{
	unsigned i;

	/* A failed server_open leaves no workers. */
	if (srv->workers == NULL)
		return;
	for (i = 0; i < srv->nworkers; i++) {
		if (!srv->workers[i].thread_started)
			continue;
		atomic_fetch_or(&srv->workers[i].cmd, cmd);
		uv_async_send(&srv->workers[i].wake);
	}
}

uint64_t
server_reload(struct server *srv, const struct conf *conf,
    struct tls_ctx *tls)
{
	uint64_t gen;

	iplimit_set_limits(srv->iplimit, conf->limits.max_connections,
	    conf->limits.max_connections_per_ip,
	    conf->limits.handshake_rate_per_ip,
	    conf->limits.handshake_burst_per_ip);
	throttle_set_limits(srv->throttle, &(struct throttle_limits){
	    .max_failures = conf->auth.max_failures,
	    .max_failures_per_ip = conf->auth.max_failures_per_ip,
	    .window_ms = conf->auth.failure_window_ms,
	    .lockout_ms = conf->auth.lockout_ms });
	atomic_store(&srv->conf, conf);
	atomic_store(&srv->tls, tls);
	gen = atomic_fetch_add(&srv->gen, 1) + 1;
	server_command(srv, 0);		/* a wake is the acknowledgement */
	return gen;
}

int
server_synced(struct server *srv, uint64_t gen)
{
	unsigned i;

	for (i = 0; i < srv->nworkers; i++)
		if (srv->workers[i].thread_started &&
		    atomic_load(&srv->workers[i].gen_seen) < gen)
			return 0;
	return 1;
}

void
server_drain(struct server *srv)
{
	server_command(srv, WORKER_CMD_DRAIN);
}

void
server_force(struct server *srv)
{
	server_command(srv, WORKER_CMD_FORCE);
}

size_t
server_connections(struct server *srv)
{
	return srv->iplimit != NULL ? iplimit_total(srv->iplimit) : 0;
}

void
worker_post_done(struct worker *w, struct dcall *call)
{
	call->next = NULL;
	pthread_mutex_lock(&w->done_mtx);
	*w->done_tail = call;
	w->done_tail = &call->next;
	pthread_mutex_unlock(&w->done_mtx);
	uv_async_send(&w->wake);
}

void
server_stop(struct server *srv)
{
	unsigned i;

	if (srv->workers == NULL)
		return;
	server_command(srv, WORKER_CMD_STOP);
	for (i = 0; i < srv->nworkers; i++)
		if (srv->workers[i].thread_started) {
			uv_thread_join(&srv->workers[i].thread);
			srv->workers[i].thread_started = 0;
		}
}

static void
worker_close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
worker_free(struct worker *w)
{
	int rc;

	if (w->loop_inited) {
		/* A worker that never ran (failed start) still has handles. */
		uv_walk(&w->loop, worker_close_walk_cb, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		if ((rc = uv_loop_close(&w->loop)) != 0)
			log_warnx("worker %u: loop still busy at exit: %s",
			    w->index, uv_strerror(rc));
		pthread_mutex_destroy(&w->done_mtx);
	}
	dcall_spare_drain(w);
	free(w->listeners);
	free(w->plainbuf);
	free(w->stage);
}

void
server_close(struct server *srv)
{
	unsigned i;

	if (srv->workers != NULL)
		for (i = 0; i < srv->nworkers; i++)
			worker_free(&srv->workers[i]);
	free(srv->workers);
	if (srv->listen_fds != NULL)
		for (i = 0; i < srv->nworkers * srv->naddrs; i++)
			if (srv->listen_fds[i] >= 0)
				close(srv->listen_fds[i]);
	free(srv->listen_fds);
	iplimit_free(srv->iplimit);
	throttle_free(srv->throttle);
	free(srv->hello);
	memset(srv, 0, sizeof(*srv));
}
