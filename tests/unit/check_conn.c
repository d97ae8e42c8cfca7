/*
 * check_conn.c: the connection state machine (daemon/conn.c), driven end to
 * end in one process.
 *
 * Each test starts a real server from a struct conf (server_open binds
 * 127.0.0.1 on the main thread, server_start runs one or two worker threads
 * with their own loops) with the test handler below in place of the
 * ledger, and talks to it over loopback TCP through the sans-I/O client
 * channel.  The client is single-threaded and every wait is a bounded
 * poll(2), so a server that misbehaves fails a test instead of hanging it.
 * Each test shuts the server down the way secd does (handler, then
 * workers) and asserts that no worker loop kept a handle, which is what
 * uv_loop_close() in server_close needs to succeed.
 *
 * The test handler serves login (password "pw" for any account), balance
 * (a fixed answer naming the session's account) and slow (answered from a
 * thread of the handler after "ms" milliseconds, so that requests are in
 * flight while a test acts).
 *
 * main() makes development certificates with certgen in a temporary
 * directory and removes it at exit.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "certgen.h"
#include "conf.h"
#include "dispatch.h"
#include "hhost.h"
#include "log.h"
#include "secd/handler.h"
#include "server.h"
#include "tls.h"
#include "tlsconf.h"

/* The greeting of a server with the test handler, for max_message_bytes N. */
#define HELLO_PREFIX "{\"type\":\"hello\",\"server\":\"secd\",\"version\":1," \
	"\"ops\":[\"ping\",\"login\",\"logout\",\"balance\",\"slow\"]," \
	"\"max_message_bytes\":"

#define AUTH_REQUIRED(id) "{\"id\":" id ",\"ok\":false,\"error\":{\"code\":" \
	"\"auth_required\",\"message\":\"log in first\"}}"
#define BALANCE_AAA(id) "{\"id\":" id ",\"ok\":true,\"account\":\"AAA\"," \
	"\"balance\":10000,\"currency\":\"CNY\"}"

/* Every wait of a client is bounded by this unless a test says otherwise. */
#define WAIT_MS 5000

static char tmpdir[256];

static const char *
cert_path(const char *file)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, file);
	return (b);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ---- the test handler ---- */

struct th_job {
	struct th_job *next;
	struct secd_call *call;
	int64_t ms;
};

struct th {
	const struct secd_host *host;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct th_job *head, **tail;	/* slow calls, oldest first */
	int stop;
	pthread_t thread;
	atomic_int slow_submitted;
};

/* The open handler, for tests that wait for calls to reach it. */
static struct th *th_live;

static const char *const th_ops[] = { "login", "balance", "slow", NULL };

/* Answer slow calls in order, each after its delay; exit when closed. */
static void *
th_main(void *arg)
{
	struct th *t = arg;
	struct th_job *j;

	for (;;) {
		pthread_mutex_lock(&t->mtx);
		while (t->head == NULL && !t->stop)
			pthread_cond_wait(&t->cv, &t->mtx);
		if ((j = t->head) == NULL) {
			pthread_mutex_unlock(&t->mtx);
			break;
		}
		if ((t->head = j->next) == NULL)
			t->tail = &t->head;
		pthread_mutex_unlock(&t->mtx);
		sleep_ms(j->ms);
		{
			struct secd_value f[1] = { SECD_INT("slept", j->ms) };

			t->host->reply(j->call, f, 1);
		}
		free(j);
	}
	return (NULL);
}

static int
th_open(const struct secd_host *host, const struct secd_option *options,
    size_t noptions, void **state, char *err, size_t errlen)
{
	struct th *t;

	(void)options;
	(void)noptions;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	t->host = host;
	t->tail = &t->head;
	atomic_init(&t->slow_submitted, 0);
	pthread_mutex_init(&t->mtx, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->thread, NULL, th_main, t) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		free(t);
		return (-1);
	}
	th_live = t;
	*state = t;
	return (0);
}

/* Answers every queued slow call (the thread drains its queue), then frees. */
static void
th_close(void *state)
{
	struct th *t = state;

	pthread_mutex_lock(&t->mtx);
	t->stop = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mtx);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mtx);
	th_live = NULL;
	free(t);
}

static void
th_submit(void *state, struct secd_call *call)
{
	struct th *t = state;
	const char *account, *pw;
	struct th_job *j;
	int64_t ms = 0;

	if (strcmp(call->op, "login") == 0) {
		account = secd_arg_str(call, "account");
		pw = secd_arg_str(call, "password");
		if (account != NULL && pw != NULL && strcmp(pw, "pw") == 0)
			t->host->reply_login(call, account);
		else
			t->host->reply_error(call, "auth_failed",
			    "wrong account or password", -1);
	} else if (strcmp(call->op, "balance") == 0) {
		struct secd_value f[3] = {
			SECD_STR("account", call->account),
			SECD_INT("balance", 10000),
			SECD_STR("currency", "CNY"),
		};

		t->host->reply(call, f, 3);
	} else if (strcmp(call->op, "slow") == 0) {
		(void)secd_arg_int(call, "ms", &ms);
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			t->host->reply_error(call, "internal", "out of memory",
			    -1);
			return;
		}
		j->call = call;
		j->ms = ms;
		/* Counted before the call leaves our hands. */
		atomic_fetch_add(&t->slow_submitted, 1);
		pthread_mutex_lock(&t->mtx);
		*t->tail = j;
		t->tail = &j->next;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&t->mtx);
	} else {
		t->host->reply_error(call, "unknown_op", "not served", -1);
	}
}

static const struct secd_handler th_handler = {
	.abi = SECD_HANDLER_ABI,
	.name = "test",
	.ops = th_ops,
	.open = th_open,
	.close = th_close,
	.submit = th_submit,
};

/* ---- the server under test ---- */

struct tsrv {
	struct conf *conf;		/* tests set limits before tsrv_start */
	struct tls_ctx *tls;
	struct tls_ctx *cctx;		/* for the clients */
	struct hhost hh;
	struct server srv;
	uint16_t port;
	int sockbuf;			/* SO_SNDBUF/SO_RCVBUF of accepted
					   sockets, or 0 for the default */
};

static void
tsrv_init(struct tsrv *t, unsigned workers)
{

	memset(t, 0, sizeof(*t));
	ck_assert_ptr_nonnull(t->conf = conf_new_defaults());
	t->conf->workers = workers;
	ck_assert_ptr_nonnull(t->conf->tls.certificate =
	    strdup(cert_path("server.pem")));
	ck_assert_ptr_nonnull(t->conf->tls.key =
	    strdup(cert_path("server.key")));
}

/*
 * A port on 127.0.0.1 for every worker's SO_REUSEPORT socket.  (With port
 * 0 each worker would bind a port of its own.)  The returned socket holds
 * the port, with SO_REUSEPORT, until the server has bound it too.
 */
static int
port_reserve(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/* listen[0] = 127.0.0.1:port, set directly (the loader refuses port 0). */
static void
conf_set_listen(struct conf *conf, uint16_t port)
{
	struct conf_addr *l = &conf->listen[0];
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&l->sa;

	memset(l, 0, sizeof(*l));
	l->family = AF_INET;
	snprintf(l->host, sizeof(l->host), "127.0.0.1");
	snprintf(l->text, sizeof(l->text), "127.0.0.1:%u", (unsigned)port);
	l->port = port;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->salen = sizeof(*sin);
	conf->nlisten = 1;
}

static void
tsrv_start(struct tsrv *t)
{
	struct tls_client_config ccfg;
	struct sockaddr_in sin;
	socklen_t len;
	char err[512] = "";
	size_t i;
	int hold;

	hold = port_reserve(&t->port);
	conf_set_listen(t->conf, t->port);
	t->tls = tlsconf_server_ctx(t->conf, err, sizeof(err));
	ck_assert_msg(t->tls != NULL, "server context: %s", err);
	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.ca_file = cert_path("ca.pem");
	t->cctx = tls_ctx_new_client(&ccfg, err, sizeof(err));
	ck_assert_msg(t->cctx != NULL, "client context: %s", err);

	/* What hhost_open does, with the test handler. */
	memset(&t->hh, 0, sizeof(t->hh));
	hhost_set_handler(&t->hh, &th_handler);
	dispatch_host_init(&t->hh.host, &t->hh.auth);
	ck_assert_msg(t->hh.h->open(&t->hh.host, NULL, 0, &t->hh.state, err,
	    sizeof(err)) == 0, "handler: %s", err);
	t->hh.opened = 1;

	ck_assert_msg(server_open(&t->srv, t->conf, t->tls, &t->hh, err,
	    sizeof(err)) == 0, "server_open: %s", err);
	close(hold);
	ck_assert_uint_eq(t->srv.nworkers, t->conf->workers);
	for (i = 0; i < t->srv.nworkers * t->srv.naddrs; i++) {
		len = sizeof(sin);
		ck_assert_int_eq(getsockname(t->srv.listen_fds[i],
		    (struct sockaddr *)&sin, &len), 0);
		ck_assert_uint_eq(ntohs(sin.sin_port), t->port);
		/* Accepted sockets inherit these (and lose autotuning). */
		if (t->sockbuf > 0) {
			ck_assert_int_eq(setsockopt(t->srv.listen_fds[i],
			    SOL_SOCKET, SO_SNDBUF, &t->sockbuf,
			    sizeof(t->sockbuf)), 0);
			ck_assert_int_eq(setsockopt(t->srv.listen_fds[i],
			    SOL_SOCKET, SO_RCVBUF, &t->sockbuf,
			    sizeof(t->sockbuf)), 0);
		}
	}
	ck_assert_int_eq(server_start(&t->srv), 0);
}

static void
count_handle_cb(uv_handle_t *h, void *arg)
{
	size_t *n = arg;

	fprintf(stderr, "leaked handle: %s%s\n", uv_handle_type_name(h->type),
	    uv_is_closing(h) ? " (closing)" : "");
	(*n)++;
}

/*
 * Shut down as secd does: the handler answers what it holds, the workers
 * deliver it and stop.  A stopped worker's loop must hold no handle (the
 * uv_loop_close() in server_close then succeeds).
 */
static void
tsrv_stop(struct tsrv *t)
{
	size_t i, live;

	hhost_close(&t->hh);
	ck_assert_ptr_null(th_live);
	server_stop(&t->srv);
	for (i = 0; i < t->srv.nworkers; i++) {
		live = 0;
		uv_walk(&t->srv.workers[i].loop, count_handle_cb, &live);
		ck_assert_msg(live == 0, "worker %zu kept %zu handles", i,
		    live);
	}
	server_close(&t->srv);
	tls_ctx_free(t->cctx);
	tls_ctx_free(t->tls);
	conf_free(t->conf);
	memset(t, 0, sizeof(*t));
}

/* Wait until the server counts n connections; 0, or -1 on timeout. */
static int
tsrv_wait_conns(struct tsrv *t, size_t n, int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (server_connections(&t->srv) != n) {
		if (now_ms() >= end)
			return (-1);
		sleep_ms(5);
	}
	return (0);
}

/* A statistics counter summed over the workers. */
#define TSRV_STAT(t, field) tsrv_stat_sum((t), \
	offsetof(struct server_stats, field))

static uint64_t
tsrv_stat_sum(struct tsrv *t, size_t off)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < t->srv.nworkers; i++)
		sum += atomic_load((_Atomic uint64_t *)(void *)
		    ((char *)&t->srv.workers[i].stats + off));
	return (sum);
}

/* ---- the client ---- */

struct cli {
	int fd;
	struct tls_chan *ch;		/* NULL: a raw TCP client */
	int hs;				/* last tls_chan_handshake result */
	unsigned char *out;		/* ciphertext not yet sent */
	size_t outoff, outlen, outcap;
	char *rx;			/* plaintext (or raw bytes) received */
	size_t rxlen, rxcap;
	int notify;			/* close_notify came before EOF */
	int eof;			/* the socket said EOF (or reset) */
	int reset;			/* ECONNRESET / EPIPE */
	int tlserr;
	int keep_raw;			/* also keep the ciphertext received */
	unsigned char *raw;
	size_t rawlen, rawcap;
};

static void
buf_append(void *bufp, size_t *len, size_t *cap, const void *p, size_t n)
{
	unsigned char **buf = bufp;

	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		ck_assert_ptr_nonnull(*buf = realloc(*buf, *cap));
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* Move the channel's output to the send queue. */
static void
cli_take(struct cli *c)
{
	void *p;
	size_t n;

	if (c->ch == NULL || tls_chan_output_len(c->ch) == 0)
		return;
	ck_assert_int_eq(tls_chan_take_output(c->ch, &p, &n), 0);
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	buf_append(&c->out, &c->outlen, &c->outcap, p, n);
	free(p);
}

/* Advance the handshake, then take all the plaintext there is. */
static void
cli_drive(struct cli *c)
{
	char buf[16384];
	ssize_t n;

	if (!tls_chan_handshake_done(c->ch)) {
		c->hs = tls_chan_handshake(c->ch);
		if (c->hs == TLS_ERROR)
			c->tlserr = 1;
		if (c->hs != TLS_OK) {
			cli_take(c);
			return;
		}
	}
	for (;;) {
		n = tls_chan_read(c->ch, buf, sizeof(buf));
		if (n > 0) {
			buf_append(&c->rx, &c->rxlen, &c->rxcap, buf,
			    (size_t)n);
			continue;
		}
		/* TLS_CLOSED before any EOF was fed: a close_notify. */
		if (n == TLS_CLOSED && !c->eof)
			c->notify = 1;
		else if (n == TLS_ERROR)
			c->tlserr = 1;
		break;
	}
	cli_take(c);
}

static void
cli_recv(struct cli *c)
{
	char buf[65536];
	size_t room = sizeof(buf);
	ssize_t n;

	if (c->ch != NULL) {
		room = tls_chan_input_room(c->ch);
		ck_assert_msg(room > 0, "client channel input is stuck");
		if (room > sizeof(buf))
			room = sizeof(buf);
	}
	n = recv(c->fd, buf, room, MSG_DONTWAIT);
	if (n > 0 && c->keep_raw)
		buf_append(&c->raw, &c->rawlen, &c->rawcap, buf, (size_t)n);
	if (n > 0) {
		if (c->ch == NULL) {
			buf_append(&c->rx, &c->rxlen, &c->rxcap, buf,
			    (size_t)n);
			return;
		}
		ck_assert_int_eq(tls_chan_feed(c->ch, buf, (size_t)n), 0);
		cli_drive(c);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	ck_assert_msg(n == 0 || errno == ECONNRESET, "recv: %s",
	    strerror(errno));
	if (n < 0)
		c->reset = 1;
	c->eof = 1;
	if (c->ch != NULL) {
		tls_chan_feed_eof(c->ch);
		cli_drive(c);
	}
}

/*
 * One round of I/O: send queued ciphertext, and read if want_read.  Returns
 * 1 if poll said something happened, 0 on timeout or nothing to wait for.
 */
static int
cli_step(struct cli *c, int want_read, int64_t timeout_ms)
{
	struct pollfd p;
	ssize_t n;
	int r;

	p.fd = c->fd;
	p.events = 0;
	p.revents = 0;
	if (want_read && !c->eof)
		p.events |= POLLIN;
	if (c->outoff < c->outlen)
		p.events |= POLLOUT;
	if (p.events == 0)
		return (0);
	if (timeout_ms < 0)
		timeout_ms = 0;
	r = poll(&p, 1, (int)timeout_ms);
	if (r < 0 && errno == EINTR)
		return (1);
	ck_assert_int_ge(r, 0);
	if (r == 0)
		return (0);
	if ((p.revents & (POLLOUT | POLLERR | POLLHUP)) &&
	    c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			/* The peer is gone: what is queued never leaves. */
			ck_assert_msg(errno == EPIPE || errno == ECONNRESET,
			    "send: %s", strerror(errno));
			c->reset = 1;
			c->outoff = c->outlen;
		}
	}
	if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && want_read &&
	    !c->eof)
		cli_recv(c);
	return (1);
}

/* A TCP connection to the server; bufsz > 0 sets its socket buffers. */
static void
cli_tcp(struct cli *c, struct tsrv *t, int bufsz)
{
	struct sockaddr_in sin;
	int one = 1;

	memset(c, 0, sizeof(*c));
	ck_assert_int_ge(c->fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	if (bufsz > 0) {
		ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF,
		    &bufsz, sizeof(bufsz)), 0);
		ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF,
		    &bufsz, sizeof(bufsz)), 0);
	}
	ck_assert_int_eq(setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(t->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&sin,
	    sizeof(sin)) == 0, "connect: %s", strerror(errno));
}

/* A TLS connection whose handshake completed (the greeting not read). */
static void
cli_connect_buf(struct cli *c, struct tsrv *t, int bufsz)
{
	int64_t end;

	cli_tcp(c, t, bufsz);
	ck_assert_ptr_nonnull(c->ch = tls_chan_new(t->cctx, "127.0.0.1"));
	cli_drive(c);
	end = now_ms() + WAIT_MS;
	while (c->hs == TLS_WANT_READ && !c->eof && now_ms() < end)
		cli_step(c, 1, end - now_ms());
	ck_assert_msg(c->hs == TLS_OK, "client handshake: %d %s", c->hs,
	    tls_chan_error(c->ch));
}

static void
cli_connect(struct cli *c, struct tsrv *t)
{

	cli_connect_buf(c, t, 0);
}

static void
cli_free(struct cli *c)
{

	tls_chan_free(c->ch);
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c->rx);
	free(c->raw);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queue plaintext for the server. */
static void
cli_write(struct cli *c, const char *s, size_t len)
{

	ck_assert_int_eq(tls_chan_write(c->ch, s, len), 0);
	cli_take(c);
}

/* Write everything queued, reading meanwhile so neither side stalls. */
static void
cli_flush(struct cli *c)
{
	int64_t end = now_ms() + WAIT_MS;

	while (c->outoff < c->outlen && now_ms() < end)
		cli_step(c, 1, end - now_ms());
	ck_assert_msg(c->outoff == c->outlen, "could not send %zu bytes",
	    c->outlen - c->outoff);
}

static void
cli_send(struct cli *c, const char *s)
{

	cli_write(c, s, strlen(s));
	cli_flush(c);
}

/*
 * The next line from the server, without its LF (the caller frees it), or
 * NULL if the connection closed or nothing came within timeout_ms.
 */
static char *
cli_line(struct cli *c, int64_t timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	char *nl, *line;
	size_t n;

	for (;;) {
		if (c->rxlen > 0 &&
		    (nl = memchr(c->rx, '\n', c->rxlen)) != NULL) {
			n = (size_t)(nl - c->rx);
			/* rx holds no NUL: copy by length, not strndup. */
			ck_assert_ptr_nonnull(line = malloc(n + 1));
			memcpy(line, c->rx, n);
			line[n] = '\0';
			memmove(c->rx, nl + 1, c->rxlen - n - 1);
			c->rxlen -= n + 1;
			return (line);
		}
		if (c->eof || c->notify || c->tlserr || now_ms() >= end)
			return (NULL);
		cli_step(c, 1, end - now_ms());
	}
}

#define cli_expect(c, exp) cli_expect_at((c), (exp), 0, __LINE__)
#define cli_expect_prefix(c, exp) cli_expect_at((c), (exp), 1, __LINE__)

static void
cli_expect_at(struct cli *c, const char *exp, int prefix, int lineno)
{
	char *line;

	line = cli_line(c, WAIT_MS);
	ck_assert_msg(line != NULL, "line %d: expected %s, got %s", lineno,
	    exp, c->notify ? "close_notify" : c->eof ? "EOF" :
	    c->tlserr ? "a TLS error" : "nothing");
	if (prefix)
		ck_assert_msg(strncmp(line, exp, strlen(exp)) == 0,
		    "line %d: expected %s..., got %s", lineno, exp, line);
	else
		ck_assert_msg(strcmp(line, exp) == 0,
		    "line %d: expected %s, got %s", lineno, exp, line);
	free(line);
}

/* Wait for EOF; the milliseconds it took, or -1 on timeout. */
static int64_t
cli_wait_eof(struct cli *c, int64_t timeout_ms)
{
	int64_t start = now_ms(), end = start + timeout_ms;

	while (!c->eof && now_ms() < end)
		cli_step(c, 1, end - now_ms());
	return (c->eof ? now_ms() - start : -1);
}

/* Read for ms milliseconds; the connection must stay open and quiet. */
static void
cli_idle(struct cli *c, int64_t ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end && !c->eof && !c->notify)
		cli_step(c, 1, end - now_ms());
	ck_assert_msg(!c->eof && !c->notify,
	    "the server closed a connection it should have kept");
	ck_assert_uint_eq(c->rxlen, 0);
}

static void
cli_greeting(struct cli *c, unsigned max_message_bytes)
{
	char exp[512];

	snprintf(exp, sizeof(exp), HELLO_PREFIX "%u}", max_message_bytes);
	cli_expect(c, exp);
}

static void
cli_login(struct cli *c, const char *id)
{
	char req[128], rep[128];

	snprintf(req, sizeof(req), "{\"id\":%s,\"op\":\"login\","
	    "\"account\":\"AAA\",\"password\":\"pw\"}\n", id);
	snprintf(rep, sizeof(rep), "{\"id\":%s,\"ok\":true,"
	    "\"account\":\"AAA\"}", id);
	cli_send(c, req);
	cli_expect(c, rep);
}

/* ---- tests ---- */

START_TEST(test_conn_greets_with_ops_and_max_message_bytes)
{
	struct tsrv t;
	struct cli c;

	tsrv_init(&t, 1);
	t.conf->limits.max_message_bytes = 20000;
	tsrv_start(&t);
	cli_connect(&c, &t);
	/* Sent unasked, right after the handshake. */
	cli_expect(&c, HELLO_PREFIX "20000}");
	cli_send(&c, "{\"id\":1,\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":1,\"ok\":true}");
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_uint_eq(TSRV_STAT(&t, handshakes), 1);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_gate_passes_only_ping_login_logout_before_login)
{
	struct tsrv t;
	struct cli c;

	tsrv_init(&t, 1);
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 65536);

	cli_send(&c, "{\"id\":1,\"op\":\"balance\"}\n");
	cli_expect(&c, AUTH_REQUIRED("1"));
	cli_send(&c, "{\"id\":2,\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":2,\"ok\":true}");
	cli_send(&c, "{\"id\":3,\"op\":\"logout\"}\n");
	cli_expect(&c, "{\"id\":3,\"ok\":true}");
	/* Op names cannot be probed without an account. */
	cli_send(&c, "{\"id\":4,\"op\":\"nosuch\"}\n");
	cli_expect(&c, AUTH_REQUIRED("4"));
	cli_send(&c, "{\"id\":5,\"op\":\"slow\",\"ms\":1}\n");
	cli_expect(&c, AUTH_REQUIRED("5"));
	cli_send(&c, "{\"id\":6,\"op\":\"login\",\"account\":\"AAA\","
	    "\"password\":\"nope\"}\n");
	cli_expect(&c, "{\"id\":6,\"ok\":false,\"error\":{\"code\":"
	    "\"auth_failed\",\"message\":\"wrong account or password\"}}");
	cli_send(&c, "{\"id\":7,\"op\":\"balance\"}\n");
	cli_expect(&c, AUTH_REQUIRED("7"));

	cli_login(&c, "8");
	cli_send(&c, "{\"id\":9,\"op\":\"balance\"}\n");
	cli_expect(&c, BALANCE_AAA("9"));
	cli_send(&c, "{\"id\":\"s\",\"op\":\"slow\",\"ms\":1}\n");
	cli_expect(&c, "{\"id\":\"s\",\"ok\":true,\"slept\":1}");
	cli_send(&c, "{\"id\":10,\"op\":\"nosuch\"}\n");
	cli_expect(&c, "{\"id\":10,\"ok\":false,\"error\":{\"code\":"
	    "\"unknown_op\",\"message\":\"this server has no op 'nosuch'\"}}");

	cli_send(&c, "{\"id\":11,\"op\":\"logout\"}\n");
	cli_expect(&c, "{\"id\":11,\"ok\":true}");
	cli_send(&c, "{\"id\":12,\"op\":\"balance\"}\n");
	cli_expect(&c, AUTH_REQUIRED("12"));
	cli_send(&c, "{\"id\":13,\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":13,\"ok\":true}");
	ck_assert_uint_eq(c.rxlen, 0);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

/*
 * Line i of the pipelining test (i = 0 .. 101), and the reply it must get
 * (*prefix: only the start of the reply is fixed).  A login first, so
 * every later line depends on an answer the handler gives from its own
 * thread; a mix of slow, balance and ping; then, behind a slow call, a long
 * run of lines the server answers on the spot, longer than max_pipeline.
 */
static void
pipe_line(int i, char *req, size_t reqsz, char *rep, size_t repsz,
    int *prefix)
{

	*prefix = 0;
	if (i == 0) {
		snprintf(req, reqsz, "{\"id\":0,\"op\":\"login\","
		    "\"account\":\"AAA\",\"password\":\"pw\"}");
		snprintf(rep, repsz, "{\"id\":0,\"ok\":true,"
		    "\"account\":\"AAA\"}");
	} else if (i == 41 || (i < 41 && i % 10 == 7)) {
		snprintf(req, reqsz, "{\"id\":%d,\"op\":\"slow\",\"ms\":%d}",
		    i, i == 41 ? 30 : 1);
		snprintf(rep, repsz, "{\"id\":%d,\"ok\":true,\"slept\":%d}", i,
		    i == 41 ? 30 : 1);
	} else if (i == 100 || (i < 41 && i % 10 == 3)) {
		snprintf(req, reqsz, "{\"id\":%d,\"op\":\"balance\"}", i);
		snprintf(rep, repsz, "{\"id\":%d,\"ok\":true,"
		    "\"account\":\"AAA\",\"balance\":10000,"
		    "\"currency\":\"CNY\"}", i);
	} else if (i == 50) {
		snprintf(req, reqsz, "{\"id\":50,\"op\":\"ping\",\"bogus\":1}");
		snprintf(rep, repsz, "{\"id\":50,\"ok\":false,\"error\":"
		    "{\"code\":\"bad_request\",\"message\":\"");
		*prefix = 1;
	} else if (i == 51) {
		snprintf(req, reqsz, "this is not json");
		snprintf(rep, repsz, "{\"id\":null,\"ok\":false,\"error\":"
		    "{\"code\":\"bad_request\",\"message\":\"");
		*prefix = 1;
	} else if (i == 60) {
		snprintf(req, reqsz, "{\"id\":60,\"op\":\"nosuch\"}");
		snprintf(rep, repsz, "{\"id\":60,\"ok\":false,\"error\":"
		    "{\"code\":\"unknown_op\",\"message\":\"this server has "
		    "no op 'nosuch'\"}}");
	} else {
		snprintf(req, reqsz, "{\"id\":%d,\"op\":\"ping\"}", i);
		snprintf(rep, repsz, "{\"id\":%d,\"ok\":true}", i);
	}
}

START_TEST(test_conn_answers_pipelined_requests_in_order)
{
	struct tsrv t;
	struct cli c;
	char *all = NULL, req[256], rep[256];
	size_t len = 0, cap = 0;
	int i, prefix;

	tsrv_init(&t, 1);
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 65536);
	/* 101 requests (one per id 0..100), in one write. */
	for (i = 0; i <= 100; i++) {
		pipe_line(i, req, sizeof(req), rep, sizeof(rep), &prefix);
		buf_append(&all, &len, &cap, req, strlen(req));
		buf_append(&all, &len, &cap, "\n", 1);
	}
	cli_write(&c, all, len);
	free(all);
	cli_flush(&c);
	for (i = 0; i <= 100; i++) {
		pipe_line(i, req, sizeof(req), rep, sizeof(rep), &prefix);
		if (prefix)
			cli_expect_prefix(&c, rep);
		else
			cli_expect(&c, rep);
	}
	/* Still usable, and still logged in. */
	cli_send(&c, "{\"id\":101,\"op\":\"balance\"}\n");
	cli_expect(&c, BALANCE_AAA("101"));
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_uint_eq(TSRV_STAT(&t, requests), 102);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

/*
 * Pipelined requests that the handler answers inside submit() (balance,
 * here) are answered together: one TLS record, one write, however many
 * answers.  Counted on the ciphertext: TLS 1.3 application data records
 * (type 23) from the moment the requests go out.
 */
START_TEST(test_conn_answers_of_one_turn_leave_in_one_record)
{
	struct tsrv t;
	struct cli c;
	char *all = NULL, req[64], exp[128];
	size_t len = 0, cap = 0, off, nrec = 0, reclen;
	int i;

	tsrv_init(&t, 1);
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 65536);
	cli_login(&c, "1");
	for (i = 0; i < 16; i++) {
		snprintf(req, sizeof(req), "{\"id\":%d,\"op\":\"balance\"}\n",
		    100 + i);
		buf_append(&all, &len, &cap, req, strlen(req));
	}
	c.keep_raw = 1;
	cli_write(&c, all, len);	/* one record of 16 requests */
	free(all);
	cli_flush(&c);
	for (i = 0; i < 16; i++) {
		snprintf(exp, sizeof(exp), BALANCE_AAA("%d"), 100 + i);
		cli_expect(&c, exp);
	}
	for (off = 0; off + 5 <= c.rawlen; off += 5 + reclen) {
		reclen = (size_t)c.raw[off + 3] << 8 | c.raw[off + 4];
		ck_assert_uint_eq(c.raw[off], 23);
		nrec++;
	}
	ck_assert_uint_eq(off, c.rawlen);
	ck_assert_uint_eq(nrec, 1);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

/*
 * A client that sends its last requests and then closes its side (with a
 * close_notify, or with a bare FIN) still gets every answer, then EOF.
 * After the peer's close_notify the server says close_notify too; after a
 * bare FIN wolfSSL sends no alert any more (it marks the session closed on
 * the transport EOF), so only the answers and the EOF are required there.
 */
START_TEST(test_conn_answers_requests_sent_before_peer_closes)
{
	struct tsrv t;
	struct cli c[2];
	const char *req = "{\"id\":1,\"op\":\"slow\",\"ms\":100}\n"
	    "{\"id\":2,\"op\":\"ping\"}\n";
	int i;

	tsrv_init(&t, 1);
	tsrv_start(&t);
	for (i = 0; i < 2; i++) {
		cli_connect(&c[i], &t);
		cli_greeting(&c[i], 65536);
		cli_login(&c[i], "0");
		cli_write(&c[i], req, strlen(req));
		if (i == 0)
			ck_assert_int_eq(tls_chan_close_notify(c[i].ch), 0);
		cli_take(&c[i]);
		cli_flush(&c[i]);
		ck_assert_int_eq(shutdown(c[i].fd, SHUT_WR), 0);
	}
	for (i = 0; i < 2; i++) {
		cli_expect(&c[i], "{\"id\":1,\"ok\":true,\"slept\":100}");
		cli_expect(&c[i], "{\"id\":2,\"ok\":true}");
		ck_assert_int_ge(cli_wait_eof(&c[i], WAIT_MS), 0);
		if (i == 0)
			ck_assert_msg(c[i].notify, "EOF without close_notify");
		ck_assert_int_eq(c[i].reset, 0);
		ck_assert_uint_eq(c[i].rxlen, 0);
	}
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	cli_free(&c[0]);
	cli_free(&c[1]);
	tsrv_stop(&t);
}
END_TEST

/*
 * The peer closes its side behind a held call and more pipelined pings
 * than max_pipeline.  When the call is answered, the queue is full and
 * pulls nothing; its pings are answered on the spot, which frees the
 * queue for the lines still buffered, and no socket read will come to
 * pull them: the connection must go round by itself.  (fuzz_conn's corpus
 * found this stall once answers were written with uv_try_write.)
 */
START_TEST(test_conn_answers_buffered_lines_after_peer_eof_with_full_queue)
{
	struct tsrv t;
	struct cli c;
	char want[64];
	int i;

	tsrv_init(&t, 1);
	t.conf->limits.max_pipeline = 2;
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 65536);
	cli_login(&c, "0");
	cli_send(&c, "{\"id\":1,\"op\":\"slow\",\"ms\":100}\n"
	    "{\"id\":2,\"op\":\"ping\"}\n{\"id\":3,\"op\":\"ping\"}\n"
	    "{\"id\":4,\"op\":\"ping\"}\n{\"id\":5,\"op\":\"ping\"}\n"
	    "{\"id\":6,\"op\":\"ping\"}\n{\"id\":7,\"op\":\"ping\"}\n");
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	cli_expect(&c, "{\"id\":1,\"ok\":true,\"slept\":100}");
	for (i = 2; i <= 7; i++) {
		snprintf(want, sizeof(want), "{\"id\":%d,\"ok\":true}", i);
		cli_expect(&c, want);
	}
	ck_assert_int_ge(cli_wait_eof(&c, WAIT_MS), 0);
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_answers_too_large_then_closes)
{
	struct tsrv t;
	struct cli c;
	char *all = NULL, *pad;
	size_t len = 0, cap = 0;

	tsrv_init(&t, 1);
	t.conf->limits.max_message_bytes = 8192;
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 8192);
	/* A ping, a line of 9000 bytes, and a ping that must not be read. */
	ck_assert_ptr_nonnull(pad = malloc(9000));
	memset(pad, 'a', 9000);
	buf_append(&all, &len, &cap, "{\"id\":1,\"op\":\"ping\"}\n", 21);
	buf_append(&all, &len, &cap, "{\"id\":2,\"op\":\"ping\",\"x\":\"", 25);
	buf_append(&all, &len, &cap, pad, 9000);
	buf_append(&all, &len, &cap, "\"}\n{\"id\":3,\"op\":\"ping\"}\n", 24);
	free(pad);
	cli_write(&c, all, len);
	free(all);
	cli_flush(&c);
	cli_expect(&c, "{\"id\":1,\"ok\":true}");
	cli_expect(&c, "{\"id\":null,\"ok\":false,\"error\":{\"code\":"
	    "\"too_large\",\"message\":\"line exceeds max_message_bytes\"}}");
	ck_assert_int_ge(cli_wait_eof(&c, WAIT_MS), 0);
	/* Framing is lost: nothing after the oversize line was answered. */
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_handshake_timeout_closes_silent_and_partial_clients)
{
	struct tsrv t;
	struct cli silent, partial;
	struct tls_chan *ch;
	void *hello;
	size_t hello_len;
	int64_t start, a, b;

	tsrv_init(&t, 1);
	t.conf->limits.handshake_timeout_ms = 300;
	tsrv_start(&t);
	/* Half a real ClientHello. */
	ck_assert_ptr_nonnull(ch = tls_chan_new(t.cctx, "127.0.0.1"));
	ck_assert_int_eq(tls_chan_handshake(ch), TLS_WANT_READ);
	ck_assert_int_eq(tls_chan_take_output(ch, &hello, &hello_len), 0);
	ck_assert_uint_gt(hello_len, 10);

	start = now_ms();
	cli_tcp(&silent, &t, 0);
	cli_tcp(&partial, &t, 0);
	ck_assert_int_eq(send(partial.fd, hello, hello_len / 2, MSG_NOSIGNAL),
	    (ssize_t)(hello_len / 2));
	free(hello);
	tls_chan_free(ch);
	ck_assert_int_eq(tsrv_wait_conns(&t, 2, WAIT_MS), 0);

	ck_assert_int_ge(cli_wait_eof(&silent, 3000), 0);
	a = now_ms() - start;
	ck_assert_int_ge(cli_wait_eof(&partial, 3000), 0);
	b = now_ms() - start;
	ck_assert_msg(a >= 200 && a <= 3000, "silent client closed after "
	    "%lld ms, handshake_timeout is 300", (long long)a);
	ck_assert_msg(b >= 200 && b <= 3000, "partial client closed after "
	    "%lld ms, handshake_timeout is 300", (long long)b);
	/* Nothing was sent to either: no greeting without a handshake. */
	ck_assert_uint_eq(silent.rxlen, 0);
	ck_assert_uint_eq(partial.rxlen, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	ck_assert_uint_eq(TSRV_STAT(&t, handshake_failures), 2);
	ck_assert_uint_eq(TSRV_STAT(&t, handshakes), 0);
	cli_free(&silent);
	cli_free(&partial);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_login_timeout_closes_with_close_notify)
{
	struct tsrv t;
	struct cli c;
	int64_t start, took;

	tsrv_init(&t, 1);
	t.conf->limits.login_timeout_ms = 300;
	tsrv_start(&t);
	cli_connect(&c, &t);
	start = now_ms();
	cli_greeting(&c, 65536);
	/* Requests before login do not keep the session. */
	cli_send(&c, "{\"id\":1,\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":1,\"ok\":true}");
	ck_assert_int_ge(cli_wait_eof(&c, 3000), 0);
	took = now_ms() - start;
	ck_assert_msg(took >= 200 && took <= 3000, "closed after %lld ms, "
	    "login_timeout is 300", (long long)took);
	ck_assert_msg(c.notify, "EOF without close_notify");
	ck_assert_int_eq(c.reset, 0);
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_idle_timeout_closes_with_close_notify_but_not_busy)
{
	struct tsrv t;
	struct cli c;
	char req[64], rep[64];
	int64_t start, took;
	int i;

	tsrv_init(&t, 1);
	t.conf->limits.idle_timeout_ms = 400;
	tsrv_start(&t);
	cli_connect(&c, &t);
	cli_greeting(&c, 65536);
	cli_login(&c, "0");
	/* Each request restarts the idle count: 5 x 150 ms > 400 ms. */
	for (i = 1; i <= 5; i++) {
		cli_idle(&c, 150);
		snprintf(req, sizeof(req), "{\"id\":%d,\"op\":\"ping\"}\n", i);
		snprintf(rep, sizeof(rep), "{\"id\":%d,\"ok\":true}", i);
		cli_send(&c, req);
		cli_expect(&c, rep);
	}
	/*
	 * Busy is not idle: a call longer than the timeout keeps the session
	 * open (the timer that fires meanwhile is re-armed, to 800 ms), and
	 * the connection still reads the next request.
	 */
	start = now_ms();
	cli_send(&c, "{\"id\":6,\"op\":\"slow\",\"ms\":600}\n");
	cli_expect(&c, "{\"id\":6,\"ok\":true,\"slept\":600}");
	ck_assert_int_ge(now_ms() - start, 550);
	cli_send(&c, "{\"id\":7,\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":7,\"ok\":true}");
	/* Then, with nothing to do, the session ends politely. */
	ck_assert_int_ge(cli_wait_eof(&c, 3000), 0);
	took = now_ms() - start;
	ck_assert_msg(took <= 3000, "closed after %lld ms", (long long)took);
	ck_assert_msg(c.notify, "EOF without close_notify");
	ck_assert_int_eq(c.reset, 0);
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_refuses_connection_over_max_per_ip)
{
	struct tsrv t;
	struct cli c1, c2, c3, c4;

	tsrv_init(&t, 2);
	t.conf->limits.max_connections_per_ip = 2;
	tsrv_start(&t);
	cli_connect(&c1, &t);
	cli_greeting(&c1, 65536);
	cli_connect(&c2, &t);
	cli_greeting(&c2, 65536);
	ck_assert_uint_eq(server_connections(&t.srv), 2);

	/* The third is closed at once, well before handshake_timeout (10 s),
	   and never gets a byte. */
	cli_tcp(&c3, &t, 0);
	ck_assert_int_ge(cli_wait_eof(&c3, 2000), 0);
	ck_assert_uint_eq(c3.rxlen, 0);
	ck_assert_uint_eq(TSRV_STAT(&t, refused_per_ip), 1);
	ck_assert_uint_eq(server_connections(&t.srv), 2);

	/* The first two are untouched. */
	cli_send(&c1, "{\"id\":1,\"op\":\"ping\"}\n");
	cli_expect(&c1, "{\"id\":1,\"ok\":true}");
	cli_send(&c2, "{\"id\":2,\"op\":\"ping\"}\n");
	cli_expect(&c2, "{\"id\":2,\"ok\":true}");

	/* A closed connection gives its slot back. */
	cli_free(&c1);
	ck_assert_int_eq(tsrv_wait_conns(&t, 1, WAIT_MS), 0);
	cli_connect(&c4, &t);
	cli_greeting(&c4, 65536);
	cli_send(&c4, "{\"id\":3,\"op\":\"ping\"}\n");
	cli_expect(&c4, "{\"id\":3,\"ok\":true}");
	ck_assert_uint_eq(TSRV_STAT(&t, refused_per_ip), 1);
	cli_free(&c2);
	cli_free(&c3);
	cli_free(&c4);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_backpressure_stops_reading_and_drops_nothing)
{
	enum { N = 20000 };
	struct tsrv t;
	struct cli c;
	char *all = NULL, line[64], exp[64];
	size_t len = 0, cap = 0, total;
	int i, n;

	tsrv_init(&t, 1);
	t.conf->limits.write_buffer_bytes = 4096;
	t.conf->limits.max_pipeline = 4;
	t.sockbuf = 8192;
	tsrv_start(&t);
	cli_connect_buf(&c, &t, 8192);
	cli_greeting(&c, 65536);

	for (i = 1; i <= N; i++) {
		n = snprintf(line, sizeof(line),
		    "{\"id\":%d,\"op\":\"ping\"}\n", i);
		buf_append(&all, &len, &cap, line, (size_t)n);
	}
	cli_write(&c, all, len);
	free(all);
	total = c.outlen - c.outoff;

	/*
	 * Send without reading a single reply.  A server that kept reading
	 * would take it all (and hold the answers in memory); one that stops
	 * reading lets the socket buffers fill, and then sending blocks.
	 */
	while (c.outoff < c.outlen && cli_step(&c, 0, 500))
		;
	ck_assert_msg(c.outoff < c.outlen, "the server read all %zu bytes "
	    "while no reply was read: its buffering has no bound", total);

	/* Now read: every ping is answered, once, in order. */
	for (i = 1; i <= N; i++) {
		snprintf(exp, sizeof(exp), "{\"id\":%d,\"ok\":true}", i);
		cli_expect(&c, exp);
	}
	ck_assert_uint_eq(c.outoff, c.outlen);
	cli_send(&c, "{\"id\":\"last\",\"op\":\"ping\"}\n");
	cli_expect(&c, "{\"id\":\"last\",\"ok\":true}");
	ck_assert_uint_eq(c.rxlen, 0);
	ck_assert_uint_eq(TSRV_STAT(&t, requests), N + 1);
	cli_free(&c);
	tsrv_stop(&t);
}
END_TEST

START_TEST(test_conn_drain_answers_everything_then_closes)
{
	struct tsrv t;
	struct cli c[2], raw;
	struct sockaddr_in sin;
	char rep[128];
	int i, fd;

	tsrv_init(&t, 2);
	tsrv_start(&t);
	for (i = 0; i < 2; i++) {
		cli_connect(&c[i], &t);
		cli_greeting(&c[i], 65536);
		cli_login(&c[i], "0");
	}
	/* A connection still in its handshake is closed at once. */
	cli_tcp(&raw, &t, 0);
	ck_assert_int_eq(tsrv_wait_conns(&t, 3, WAIT_MS), 0);

	/* One call in flight and three queued behind it, on each. */
	for (i = 0; i < 2; i++)
		cli_send(&c[i], "{\"id\":1,\"op\":\"slow\",\"ms\":300}\n"
		    "{\"id\":2,\"op\":\"slow\",\"ms\":50}\n"
		    "{\"id\":3,\"op\":\"ping\"}\n"
		    "{\"id\":4,\"op\":\"balance\"}\n");
	{
		int64_t end = now_ms() + WAIT_MS;

		while (atomic_load(&th_live->slow_submitted) < 2 &&
		    now_ms() < end)
			sleep_ms(2);
		ck_assert_int_ge(atomic_load(&th_live->slow_submitted), 2);
	}
	server_drain(&t.srv);

	ck_assert_int_ge(cli_wait_eof(&raw, 2000), 0);
	ck_assert_uint_eq(raw.rxlen, 0);
	for (i = 0; i < 2; i++) {
		cli_expect(&c[i], "{\"id\":1,\"ok\":true,\"slept\":300}");
		cli_expect(&c[i], "{\"id\":2,\"ok\":true,\"slept\":50}");
		cli_expect(&c[i], "{\"id\":3,\"ok\":true}");
		snprintf(rep, sizeof(rep), "%s", BALANCE_AAA("4"));
		cli_expect(&c[i], rep);
		ck_assert_int_ge(cli_wait_eof(&c[i], WAIT_MS), 0);
		ck_assert_msg(c[i].notify, "client %d: EOF without "
		    "close_notify", i);
		ck_assert_int_eq(c[i].reset, 0);
		ck_assert_uint_eq(c[i].rxlen, 0);
	}
	ck_assert_int_eq(tsrv_wait_conns(&t, 0, WAIT_MS), 0);

	/* The listeners are closed: no new connection is accepted. */
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(t.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(fd);

	cli_free(&c[0]);
	cli_free(&c[1]);
	cli_free(&raw);
	tsrv_stop(&t);
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("conn");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_conn_greets_with_ops_and_max_message_bytes);
	tcase_add_test(tc,
	    test_conn_gate_passes_only_ping_login_logout_before_login);
	tcase_add_test(tc, test_conn_answers_pipelined_requests_in_order);
	tcase_add_test(tc, test_conn_answers_of_one_turn_leave_in_one_record);
	tcase_add_test(tc,
	    test_conn_answers_requests_sent_before_peer_closes);
	tcase_add_test(tc,
	    test_conn_answers_buffered_lines_after_peer_eof_with_full_queue);
	tcase_add_test(tc, test_conn_answers_too_large_then_closes);
	tcase_add_test(tc,
	    test_conn_handshake_timeout_closes_silent_and_partial_clients);
	tcase_add_test(tc, test_conn_login_timeout_closes_with_close_notify);
	tcase_add_test(tc,
	    test_conn_idle_timeout_closes_with_close_notify_but_not_busy);
	tcase_add_test(tc, test_conn_refuses_connection_over_max_per_ip);
	tcase_add_test(tc,
	    test_conn_backpressure_stops_reading_and_drops_nothing);
	tcase_add_test(tc, test_conn_drain_answers_everything_then_closes);
	suite_add_tcase(s, tc);
	return (s);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{

	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(p));
}

int
main(void)
{
	SRunner *sr;
	const char *tmp;
	char err[256];
	int failed;

	/* As secd: a peer that goes away must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_L_INFO, 0);
	tmp = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_conn.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	if (certgen_make_dev(tmpdir, CERTGEN_ED25519, 30, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "certgen: %s\n", err);
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return (1);
	}

	sr = srunner_create(conn_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tls_global_cleanup();
	return (failed == 0 ? 0 : 1);
}
