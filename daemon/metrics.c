/*
 * metrics.c: the labelled counters, their Prometheus text exposition, and
 * the small HTTP/1.x server on metrics.listen that serves it.
 *
 * The server runs on the main thread's loop, next to the signal handlers,
 * so a scrape never takes time from a worker: rendering reads the
 * workers' atomic counters (relaxed loads; a scrape that races a worker
 * may see one counter of a pair a moment before the other, which
 * Prometheus tolerates) and the ledger writer's, whose lock is only ever
 * held to copy a few words.
 *
 * Every scrape connection is hostile until proven otherwise: its request
 * must fit METRICS_REQUEST_MAX bytes and arrive within METRICS_TIMEOUT_MS,
 * at most METRICS_MAX_CLIENTS are served at once (more are closed at
 * accept), and each gets exactly one response and a close.  After the
 * response the connection lingers (reads and discards, bounded in bytes
 * and time) until the peer closes, so that unread request bytes never turn
 * the close into a reset that would destroy the response in flight.
 *
 * A connection's life: MC_READ (request bytes; timer METRICS_TIMEOUT_MS)
 * -> MC_WRITE (the response; same timer) -> MC_LINGER (discard until EOF;
 * timer METRICS_LINGER_MS) -> closed.  Its memory is freed in the last
 * close callback of its two handles.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "hhost.h"
#include "iplimit.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "secd_build.h"
#include "server.h"
#include "tls.h"

#define METRICS_LINGER_MS 2000		/* wait for the peer's close */
#define METRICS_LINGER_MAX (64 * 1024)	/* bytes discarded at most */
#define METRICS_BACKLOG 64
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- label sets ---- */

static const char *const metrics_refuse_names[METRICS_REFUSE_N] = {
	"max_connections", "max_connections_per_ip", "handshake_rate",
	"out_of_memory"
};

static const char *const metrics_hsfail_names[METRICS_HSF_N] = {
	"timeout", "peer_closed", "no_shared_cipher", "no_shared_group",
	"version", "certificate", "alpn", "malformed", "other"
};

static const char *const metrics_op_names[METRICS_OP_N] = {
	"ping", "login", "logout", "balance", "transfer", "history", "other"
};

/* The last of each is "other". */
static const char *const metrics_versions[METRICS_TLS_VERSIONS] = {
	"TLSv1.3", "TLSv1.2", "other"
};

static const char *const metrics_suites[METRICS_TLS_SUITES] = {
	"TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"other"
};

static const char *const metrics_groups[METRICS_TLS_GROUPS] = {
	"x25519", "p256", "p384", "p521", "other"
};

/* Request latency buckets: upper bounds in ns, and as the le label. */
static const uint64_t metrics_latency_ns[METRICS_LATENCY_BOUNDS] = {
	500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000ULL,
	5000000000ULL, 10000000000ULL
};

static const char *const metrics_latency_le[METRICS_LATENCY_BOUNDS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5", "5", "10"
};

static const char *const metrics_commit_le[LEDGER_COMMIT_BOUNDS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"
};

/* Reloads, counted by whoever reloads (main thread). */
static _Atomic uint64_t metrics_reloads_ok, metrics_reloads_failed;

/* When secd started serving (metrics_open): unix seconds, or 0. */
static _Atomic uint64_t metrics_started_at;

/* ---- counting ---- */

static size_t
metrics_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return n - 1;
}

static void
metrics_inc(_Atomic uint64_t *a, uint64_t v)
{
	atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static uint64_t
metrics_load(_Atomic uint64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

enum metrics_hsfail
metrics_hsfail_class(const char *t)
{
	/* Alerts first: their names mention what the peer disliked. */
	if (strncmp(t, "peer sent alert ", 16) == 0) {
		t += 16;
		if (strstr(t, "certificate") != NULL ||
		    strncmp(t, "unknown_ca", 10) == 0)
			return METRICS_HSF_CERTIFICATE;
		if (strncmp(t, "protocol_version", 16) == 0)
			return METRICS_HSF_VERSION;
		if (strncmp(t, "no_application_protocol", 23) == 0)
			return METRICS_HSF_ALPN;
		if (strncmp(t, "decode_error", 12) == 0 ||
		    strncmp(t, "unexpected_message", 18) == 0 ||
		    strncmp(t, "record_overflow", 15) == 0)
			return METRICS_HSF_MALFORMED;
		if (strncmp(t, "close_notify", 12) == 0 ||
		    strncmp(t, "user_canceled", 13) == 0)
			return METRICS_HSF_PEER_CLOSED;
		return METRICS_HSF_OTHER;
	}
	if (strncmp(t, "peer closed", 11) == 0)
		return METRICS_HSF_PEER_CLOSED;
	if (strncmp(t, "no shared cipher", 16) == 0)
		return METRICS_HSF_NO_SHARED_CIPHER;
	if (strncmp(t, "no shared key exchange group", 28) == 0)
		return METRICS_HSF_NO_SHARED_GROUP;
	if (strncmp(t, "no shared protocol version", 26) == 0)
		return METRICS_HSF_VERSION;
	if (strncmp(t, "alpn", 4) == 0)
		return METRICS_HSF_ALPN;
	if (strstr(t, "certificate") != NULL)
		return METRICS_HSF_CERTIFICATE;
	/* wolfSSL's words for bytes that are not a TLS message. */
	if (strstr(t, "parse error") != NULL || strstr(t, "malformed") !=
	    NULL || strstr(t, "unexpected") != NULL ||
	    strstr(t, "length") != NULL || strstr(t, "decode") != NULL)
		return METRICS_HSF_MALFORMED;
	return METRICS_HSF_OTHER;
}

void
metrics_note_session(struct metrics_worker *mw, const struct tls_info *ti)
{
	size_t v, s, g;

	v = metrics_index(metrics_versions, METRICS_TLS_VERSIONS, ti->version);
	s = metrics_index(metrics_suites, METRICS_TLS_SUITES, ti->suite);
	g = metrics_index(metrics_groups, METRICS_TLS_GROUPS, ti->group);
	metrics_inc(&mw->tls[v][s][g], 1);
	if (ti->resumed)
		metrics_inc(&mw->resumed, 1);
}

void
metrics_note_request(struct metrics_worker *mw, enum msg_op op,
    enum msg_err code, uint64_t ns)
{
	size_t o, b;

	switch (op) {
	case MSG_OP_PING: o = METRICS_OP_PING; break;
	case MSG_OP_LOGIN: o = METRICS_OP_LOGIN; break;
	case MSG_OP_LOGOUT: o = METRICS_OP_LOGOUT; break;
	case MSG_OP_BALANCE: o = METRICS_OP_BALANCE; break;
	case MSG_OP_TRANSFER: o = METRICS_OP_TRANSFER; break;
	case MSG_OP_HISTORY: o = METRICS_OP_HISTORY; break;
	default: o = METRICS_OP_OTHER; break;
	}
	if ((unsigned)code >= MSG_ERR_COUNT)
		code = MSG_ERR_INTERNAL;
	metrics_inc(&mw->requests[o][code], 1);
	for (b = 0; b < METRICS_LATENCY_BOUNDS && ns > metrics_latency_ns[b];
	    b++)
		;
	metrics_inc(&mw->latency[b], 1);
	metrics_inc(&mw->latency_sum_ns, ns);
}

void
metrics_reload_done(int ok)
{
	metrics_inc(ok ? &metrics_reloads_ok : &metrics_reloads_failed, 1);
}

/* ---- rendering ---- */

struct mbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void mbuf_printf(struct mbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *p;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		cap = b->cap * 2 + (size_t)n + 1;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static void
mbuf_head(struct mbuf *b, const char *name, const char *type,
    const char *help)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Nanoseconds as decimal seconds, exactly. */
static void
mbuf_seconds(struct mbuf *b, uint64_t ns)
{
	mbuf_printf(b, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
	    (unsigned long long)(ns % 1000000000u));
}

/* A histogram from per-bucket counts (n bounds, then +Inf). */
static void
mbuf_histogram(struct mbuf *b, const char *name, const char *const *le,
    const uint64_t *counts, size_t n, uint64_t sum_ns, uint64_t sum_plain,
    int seconds)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		cum += counts[i];
		mbuf_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name, le[i],
		    (unsigned long long)cum);
	}
	cum += counts[n];
	mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)cum);
	mbuf_printf(b, "%s_sum ", name);
	if (seconds)
		mbuf_seconds(b, sum_ns);
	else
		mbuf_printf(b, "%llu", (unsigned long long)sum_plain);
	mbuf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)cum);
}

/* Sum one counter, found at the same offset in each worker's stats. */
static uint64_t
metrics_sum(struct server *srv, size_t off)
{
	uint64_t sum = 0;
	unsigned i;

	if (srv->workers == NULL)
		return 0;
	for (i = 0; i < srv->nworkers; i++)
		sum += metrics_load((_Atomic uint64_t *)(void *)
		    ((char *)&srv->workers[i].stats + off));
	return sum;
}

#define SUM(srv, field) metrics_sum((srv), offsetof(struct server_stats, field))

static void
metrics_render_ledger(struct mbuf *b, const struct hhost *hh)
{
	struct ledger_stats st;
	uint64_t bounds[LEDGER_BATCH_BOUNDS];
	char lebuf[LEDGER_BATCH_BOUNDS][24];
	const char *le[LEDGER_BATCH_BOUNDS];
	size_t i;

	/* Only the built-in ledger has these, and only once it is open. */
	if (hh == NULL || hh->h != &ledger_handler || !hh->opened)
		return;
	ledger_stats(hh->state, &st);
	for (i = 0; i < LEDGER_BATCH_BOUNDS; i++) {
		bounds[i] = ledger_batch_bounds[i];
		snprintf(lebuf[i], sizeof(lebuf[i]), "%llu",
		    (unsigned long long)bounds[i]);
		le[i] = lebuf[i];
	}
	mbuf_head(b, "secd_ledger_batches_total", "counter",
	    "Batches the ledger writer took on, by result.");
	mbuf_printf(b, "secd_ledger_batches_total{result=\"committed\"} "
	    "%llu\n", (unsigned long long)st.commits);
	mbuf_printf(b, "secd_ledger_batches_total{result=\"failed\"} %llu\n",
	    (unsigned long long)st.failed);
	mbuf_head(b, "secd_ledger_transfers_total", "counter",
	    "Transfers the ledger writer answered, by result.");
	mbuf_printf(b, "secd_ledger_transfers_total{result=\"applied\"} %llu\n"
	    "secd_ledger_transfers_total{result=\"replayed\"} %llu\n"
	    "secd_ledger_transfers_total{result=\"refused\"} %llu\n"
	    "secd_ledger_transfers_total{result=\"unavailable\"} %llu\n",
	    (unsigned long long)st.applied, (unsigned long long)st.replayed,
	    (unsigned long long)st.refused,
	    (unsigned long long)st.unavailable);
	mbuf_head(b, "secd_ledger_commit_batch_size", "histogram",
	    "Jobs (transfers, password rehashes) per committed batch.");
	mbuf_histogram(b, "secd_ledger_commit_batch_size", le, st.batch_size,
	    LEDGER_BATCH_BOUNDS, 0, st.batch_jobs, 0);
	mbuf_head(b, "secd_ledger_commit_duration_seconds", "histogram",
	    "Time the ledger's COMMIT (its fsync) took, per committed batch.");
	mbuf_histogram(b, "secd_ledger_commit_duration_seconds",
	    metrics_commit_le, st.commit_time, LEDGER_COMMIT_BOUNDS,
	    st.commit_ns, 0, 1);
}

int
metrics_render(struct server *srv, const struct hhost *hh, char **out,
    size_t *len)
{
	static const size_t refuse_off[METRICS_REFUSE_N] = {
		offsetof(struct server_stats, refused_total),
		offsetof(struct server_stats, refused_per_ip),
		offsetof(struct server_stats, refused_handshake_rate),
		offsetof(struct server_stats, m.refused_nomem),
	};
	uint64_t lat[METRICS_LATENCY_BOUNDS + 1], v;
	struct mbuf b = { NULL, 0, 0, 0 };
	size_t i, j, k;

	if ((b.p = malloc(b.cap = 16384)) == NULL)
		return -1;
	mbuf_head(&b, "secd_build_info", "gauge",
	    "Always 1; the version of secd as a label.");
	mbuf_printf(&b, "secd_build_info{version=\"%s\"} 1\n", SECD_VERSION);
	if ((v = metrics_load(&metrics_started_at)) != 0) {
		mbuf_head(&b, "secd_start_time_seconds", "gauge",
		    "When secd started, in seconds since the Unix epoch.");
		mbuf_printf(&b, "secd_start_time_seconds %llu\n",
		    (unsigned long long)v);
	}

	mbuf_head(&b, "secd_connections_open", "gauge",
	    "Client connections open now (past the connection limits).");
	mbuf_printf(&b, "secd_connections_open %lu\n", (unsigned long)
	    (srv->iplimit != NULL ? iplimit_total(srv->iplimit) : 0));
	mbuf_head(&b, "secd_connections_accepted_total", "counter",
	    "TCP connections accepted, refused ones included.");
	mbuf_printf(&b, "secd_connections_accepted_total %llu\n",
	    (unsigned long long)SUM(srv, accepted));
	mbuf_head(&b, "secd_connections_refused_total", "counter",
	    "Connections closed at accept, before TLS, by reason.");
	for (i = 0; i < METRICS_REFUSE_N; i++)
		mbuf_printf(&b, "secd_connections_refused_total{reason=\"%s\"} "
		    "%llu\n", metrics_refuse_names[i],
		    (unsigned long long)metrics_sum(srv, refuse_off[i]));

	mbuf_head(&b, "secd_handshakes_total", "counter",
	    "TLS handshakes, by result.");
	mbuf_printf(&b, "secd_handshakes_total{result=\"completed\"} %llu\n",
	    (unsigned long long)SUM(srv, handshakes));
	mbuf_printf(&b, "secd_handshakes_total{result=\"failed\"} %llu\n",
	    (unsigned long long)SUM(srv, handshake_failures));
	mbuf_head(&b, "secd_handshake_failures_total", "counter",
	    "Failed TLS handshakes, by reason.");
	for (i = 0; i < METRICS_HSF_N; i++)
		mbuf_printf(&b, "secd_handshake_failures_total{reason=\"%s\"} "
		    "%llu\n", metrics_hsfail_names[i], (unsigned long long)
		    SUM(srv, m.hs_failed[i]));
	mbuf_head(&b, "secd_handshakes_resumed_total", "counter",
	    "Completed TLS handshakes that resumed a session (ticket).");
	mbuf_printf(&b, "secd_handshakes_resumed_total %llu\n",
	    (unsigned long long)SUM(srv, m.resumed));
	mbuf_head(&b, "secd_tls_sessions_total", "counter",
	    "Completed TLS handshakes, by version, cipher suite and group.");
	for (i = 0; i < METRICS_TLS_VERSIONS; i++)
		for (j = 0; j < METRICS_TLS_SUITES; j++)
			for (k = 0; k < METRICS_TLS_GROUPS; k++) {
				/* 150 cells, few possible: show those seen. */
				if ((v = SUM(srv, m.tls[i][j][k])) == 0)
					continue;
				mbuf_printf(&b, "secd_tls_sessions_total{"
				    "version=\"%s\",suite=\"%s\",group=\"%s\"} "
				    "%llu\n", metrics_versions[i],
				    metrics_suites[j], metrics_groups[k],
				    (unsigned long long)v);
			}

	mbuf_head(&b, "secd_requests_total", "counter",
	    "Requests answered, by op and result code.");
	for (i = 0; i < METRICS_OP_N; i++)
		for (j = 0; j < MSG_ERR_COUNT; j++)
			mbuf_printf(&b, "secd_requests_total{op=\"%s\",code="
			    "\"%s\"} %llu\n", metrics_op_names[i],
			    j == MSG_ERR_NONE ? "ok" :
			    msg_err_name((enum msg_err)j), (unsigned long long)
			    SUM(srv, m.requests[i][j]));
	mbuf_head(&b, "secd_request_duration_seconds", "histogram",
	    "Time from a request line's arrival to its answer being queued.");
	for (i = 0; i <= METRICS_LATENCY_BOUNDS; i++)
		lat[i] = SUM(srv, m.latency[i]);
	mbuf_histogram(&b, "secd_request_duration_seconds", metrics_latency_le,
	    lat, METRICS_LATENCY_BOUNDS, SUM(srv, m.latency_sum_ns), 0, 1);

	metrics_render_ledger(&b, hh);

	mbuf_head(&b, "secd_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result.");
	mbuf_printf(&b, "secd_reloads_total{result=\"ok\"} %llu\n"
	    "secd_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)metrics_load(&metrics_reloads_ok),
	    (unsigned long long)metrics_load(&metrics_reloads_failed));
	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- the HTTP endpoint ---- */

enum metrics_client_state { MC_READ, MC_WRITE, MC_LINGER, MC_CLOSED };

struct metrics_client {
	struct metrics *m;
	struct metrics_client *prev, *next;
	enum metrics_client_state state;
	int handles;			/* open: tcp, timer */
	int peer_eof;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	char *resp;			/* the response, while being written */
	size_t discarded;		/* bytes thrown away after the request */
	size_t len;
	char req[METRICS_REQUEST_MAX];
};

struct metrics {
	int fd;				/* bound; the handle's once started */
	char addr[INET6_ADDRSTRLEN + 8];
	uv_loop_t *loop;
	uv_tcp_t listener;
	int started;			/* listener initialised */
	int stopped;
	struct server *srv;
	const struct hhost *hh;
	struct metrics_client *clients;
	size_t nclients;
	char discard[4096];		/* after the request, bytes go here */
};

struct metrics *
metrics_open(const struct conf_addr *a, char *err, size_t errlen)
{
	struct metrics *m;
	int one = 1;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "metrics.listen %s: out of memory",
		    a->text);
		return NULL;
	}
	snprintf(m->addr, sizeof(m->addr), "%s", a->text);
	atomic_store(&metrics_started_at, (uint64_t)time(NULL));
	m->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (m->fd < 0 ||
	    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 ||
	    (a->family == AF_INET6 && setsockopt(m->fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(m->fd, (const struct sockaddr *)&a->sa, a->salen) != 0 ||
	    listen(m->fd, METRICS_BACKLOG) != 0) {
		snprintf(err, errlen, "metrics.listen %s: %s", a->text,
		    strerror(errno));
		if (m->fd >= 0)
			close(m->fd);
		free(m);
		return NULL;
	}
	return m;
}

static void
metrics_client_close_cb(uv_handle_t *h)
{
	struct metrics_client *mc = h->data;

	if (--mc->handles > 0)
		return;
	if (mc->prev != NULL)
		mc->prev->next = mc->next;
	else
		mc->m->clients = mc->next;
	if (mc->next != NULL)
		mc->next->prev = mc->prev;
	mc->m->nclients--;
	free(mc->resp);
	free(mc);
}

/* The one close path of a scrape connection. */
static void
metrics_client_close(struct metrics_client *mc)
{
	if (mc->state == MC_CLOSED)
		return;
	mc->state = MC_CLOSED;
	uv_timer_stop(&mc->timer);
	uv_close((uv_handle_t *)&mc->tcp, metrics_client_close_cb);
	uv_close((uv_handle_t *)&mc->timer, metrics_client_close_cb);
}

static void
metrics_client_timer_cb(uv_timer_t *t)
{
	metrics_client_close(t->data);
}

static void
metrics_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct metrics_client *mc = req->data;

	if (mc->state == MC_CLOSED)
		return;
	if (status < 0 || mc->peer_eof) {
		metrics_client_close(mc);
		return;
	}
	/* Wait for the peer's FIN, reading and discarding, not for long. */
	mc->state = MC_LINGER;
	uv_timer_start(&mc->timer, metrics_client_timer_cb, METRICS_LINGER_MS,
	    0);
}

static void
metrics_write_cb(uv_write_t *req, int status)
{
	struct metrics_client *mc = req->data;

	free(mc->resp);
	mc->resp = NULL;
	if (mc->state == MC_CLOSED)
		return;
	if (status < 0 || uv_shutdown(&mc->sreq, (uv_stream_t *)&mc->tcp,
	    metrics_shutdown_cb) != 0)
		metrics_client_close(mc);
}

/* Queue the one response: status, and a body (NULL: a one-line reason). */
static void
metrics_respond(struct metrics_client *mc, int status, const char *reason,
    const char *extra, const char *body, size_t body_len, int head_only)
{
	char head[512];
	size_t hlen;
	uv_buf_t buf;
	char *resp;

	if (body == NULL) {
		body = reason;
		body_len = strlen(reason);
	}
	snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", status, reason,
	    status == 200 ? METRICS_CONTENT_TYPE : "text/plain; charset=utf-8",
	    body_len + (status == 200 ? 0 : 1), extra);
	hlen = strlen(head);
	if (head_only)
		body_len = 0;
	if ((resp = malloc(hlen + body_len + 1)) == NULL) {
		metrics_client_close(mc);
		return;
	}
	memcpy(resp, head, hlen);
	memcpy(resp + hlen, body, body_len);
	if (status != 200 && !head_only)
		resp[hlen + body_len++] = '\n';
	mc->resp = resp;
	mc->state = MC_WRITE;
	mc->wreq.data = mc;
	mc->sreq.data = mc;
	buf = uv_buf_init(resp, (unsigned)(hlen + body_len));
	if (uv_write(&mc->wreq, (uv_stream_t *)&mc->tcp, &buf, 1,
	    metrics_write_cb) != 0) {
		free(mc->resp);
		mc->resp = NULL;
		metrics_client_close(mc);
	}
}

static int
metrics_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Check one request line: METHOD SP TARGET SP HTTP/1.x.  0 with the
 * method's and target's spans, or -1.  line has no line end.
 */
static int
metrics_parse_request_line(const char *line, size_t len, size_t *mlen,
    const char **target, size_t *tlen)
{
	size_t i = 0, t;

	while (i < len && i < 32 && metrics_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= len || line[i] != ' ')
		return -1;
	*mlen = i++;
	t = i;
	while (i < len && (unsigned char)line[i] > 0x20 &&
	    (unsigned char)line[i] < 0x7f)
		i++;
	if (i == t || i >= len || line[i] != ' ')
		return -1;
	*target = line + t;
	*tlen = i - t;
	i++;
	if (len - i != 8 || memcmp(line + i, "HTTP/1.", 7) != 0 ||
	    (line[i + 7] != '0' && line[i + 7] != '1'))
		return -1;
	return 0;
}

/* A header line: a token, ':', then visible text, spaces and tabs. */
static int
metrics_header_ok(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && metrics_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= len || line[i] != ':')
		return 0;
	for (i++; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    (unsigned char)line[i] == 0x7f)
			return 0;
	return 1;
}

/* The length of a line in p[0..n) without its end, or -1 if unfinished. */
static ssize_t
metrics_line(const char *p, size_t n, size_t *next)
{
	const char *nl = memchr(p, '\n', n);
	size_t l;

	if (nl == NULL)
		return -1;
	l = (size_t)(nl - p);
	*next = l + 1;
	if (l > 0 && p[l - 1] == '\r')
		l--;
	return (ssize_t)l;
}

/*
 * Look at the request so far: answer it once complete, or as soon as it
 * is clearly wrong.  Returns 1 once answered, 0 to read more.
 */
static int
metrics_handle(struct metrics_client *mc)
{
	const char *target, *p = mc->req;
	size_t n = mc->len, mlen, tlen, next, plen;
	ssize_t l;
	char *body;
	size_t blen;
	int head;

	if ((l = metrics_line(p, n, &next)) < 0)
		goto incomplete;
	if (metrics_parse_request_line(p, (size_t)l, &mlen, &target,
	    &tlen) != 0) {
		metrics_respond(mc, 400, "Bad Request", "", NULL, 0, 0);
		return 1;
	}
	/* The headers, up to the empty line: checked, then ignored. */
	p += next;
	n -= next;
	for (;;) {
		if ((l = metrics_line(p, n, &next)) < 0)
			goto incomplete;
		if (l == 0)
			break;
		if (!metrics_header_ok(p, (size_t)l)) {
			metrics_respond(mc, 400, "Bad Request", "", NULL, 0, 0);
			return 1;
		}
		p += next;
		n -= next;
	}
	head = mlen == 4 && memcmp(mc->req, "HEAD", 4) == 0;
	if (!head && !(mlen == 3 && memcmp(mc->req, "GET", 3) == 0)) {
		metrics_respond(mc, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n", NULL, 0, 0);
		return 1;
	}
	plen = memchr(target, '?', tlen) != NULL ?
	    (size_t)((const char *)memchr(target, '?', tlen) - target) : tlen;
	if (plen != 8 || memcmp(target, "/metrics", 8) != 0) {
		metrics_respond(mc, 404, "Not Found", "", NULL, 0, head);
		return 1;
	}
	if (metrics_render(mc->m->srv, mc->m->hh, &body, &blen) != 0) {
		metrics_respond(mc, 500, "Internal Server Error", "", NULL, 0,
		    head);
		return 1;
	}
	metrics_respond(mc, 200, "OK", "", body, blen, head);
	free(body);
	return 1;

incomplete:
	if (mc->len == sizeof(mc->req)) {
		metrics_respond(mc, 431, "Request Header Fields Too Large", "",
		    NULL, 0, 0);
		return 1;
	}
	return 0;
}

static void
metrics_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct metrics_client *mc = h->data;

	(void)suggested;
	if (mc->state == MC_READ && mc->len < sizeof(mc->req))
		*buf = uv_buf_init(mc->req + mc->len,
		    (unsigned)(sizeof(mc->req) - mc->len));
	else
		*buf = uv_buf_init(mc->m->discard, sizeof(mc->m->discard));
}

static void
metrics_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct metrics_client *mc = s->data;

	(void)buf;
	if (mc->state == MC_CLOSED || nread == 0)
		return;
	if (nread < 0) {
		/* EOF or error: before the whole request, nothing to
		   answer; after it, the peer has closed its side. */
		mc->peer_eof = 1;
		uv_read_stop(s);
		if (mc->state != MC_WRITE)
			metrics_client_close(mc);
		return;
	}
	if (mc->state == MC_READ) {
		mc->len += (size_t)nread;
		(void)metrics_handle(mc);
		return;
	}
	mc->discarded += (size_t)nread;
	if (mc->discarded > METRICS_LINGER_MAX)
		metrics_client_close(mc);
}

static void
metrics_extra_close_cb(uv_handle_t *h)
{
	free(h);
}

static void
metrics_accept_cb(uv_stream_t *server, int status)
{
	struct metrics *m = server->data;
	struct metrics_client *mc;
	uv_tcp_t *extra;

	if (status < 0) {
		log_warnx("metrics %s: accept: %s", m->addr,
		    uv_strerror(status));
		return;
	}
	if (m->nclients >= METRICS_MAX_CLIENTS ||
	    (mc = calloc(1, sizeof(*mc))) == NULL) {
		/* Over the limit: take the connection off the backlog and
		   close it at once. */
		if ((extra = malloc(sizeof(*extra))) == NULL)
			return;
		uv_tcp_init(m->loop, extra);
		if (uv_accept(server, (uv_stream_t *)extra) == 0)
			log_debug("metrics %s: %d scrapes already: connection "
			    "closed", m->addr, METRICS_MAX_CLIENTS);
		uv_close((uv_handle_t *)extra, metrics_extra_close_cb);
		return;
	}
	mc->m = m;
	uv_tcp_init(m->loop, &mc->tcp);
	uv_timer_init(m->loop, &mc->timer);
	mc->tcp.data = mc->timer.data = mc;
	mc->handles = 2;
	mc->next = m->clients;
	if (m->clients != NULL)
		m->clients->prev = mc;
	m->clients = mc;
	m->nclients++;
	if (uv_accept(server, (uv_stream_t *)&mc->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&mc->tcp, metrics_alloc_cb,
	    metrics_read_cb) != 0) {
		metrics_client_close(mc);
		return;
	}
	uv_timer_start(&mc->timer, metrics_client_timer_cb, METRICS_TIMEOUT_MS,
	    0);
}

int
metrics_start(struct metrics *m, uv_loop_t *loop, struct server *srv,
    const struct hhost *hh)
{
	int rc;

	if (m == NULL)
		return 0;
	m->loop = loop;
	m->srv = srv;
	m->hh = hh;
	uv_tcp_init(loop, &m->listener);
	m->listener.data = m;
	m->started = 1;
	if ((rc = uv_tcp_open(&m->listener, m->fd)) != 0) {
		log_errx("metrics.listen %s: %s", m->addr, uv_strerror(rc));
		return -1;
	}
	m->fd = -1;	/* the handle's now */
	if ((rc = uv_listen((uv_stream_t *)&m->listener, METRICS_BACKLOG,
	    metrics_accept_cb)) != 0) {
		log_errx("metrics.listen %s: %s", m->addr, uv_strerror(rc));
		return -1;
	}
	log_notice("metrics on http://%s/metrics", m->addr);
	return 0;
}

void
metrics_stop(struct metrics *m)
{
	struct metrics_client *mc, *next;

	if (m == NULL || !m->started || m->stopped)
		return;
	m->stopped = 1;
	uv_close((uv_handle_t *)&m->listener, NULL);
	for (mc = m->clients; mc != NULL; mc = next) {
		next = mc->next;
		metrics_client_close(mc);
	}
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->started && !m->stopped) {
		metrics_stop(m);
		uv_run(m->loop, UV_RUN_DEFAULT);
	}
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}
