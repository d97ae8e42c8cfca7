/*
 * fuzz_conn.c: libFuzzer target for the connection state machine.
 *
 * Each input opens one connection to secd's real connection code
 * (daemon/conn.c, dispatch.c, the TLS channel, framer and codec) in this
 * process and feeds it the input.  The server is made with server_open()
 * from a struct conf, as secd makes it, but its one worker loop is run by
 * this thread, not by a worker thread: fuzz_settle() turns the loop until
 * nothing changes any more, so every input runs the same way each time and
 * "the server is done with these bytes" is a state we can reach and check.
 * The client reaches the worker through a Unix stream socket accepted by
 * conn_accept() into its uv_tcp_t (SECD_FUZZ_CONN_TCP=1 uses loopback TCP
 * and the listening socket server_open bound instead; slower).
 *
 * The first byte picks the mode:
 *   raw        the rest is ciphertext from a client that never speaks
 *              TLS: chunks of [len][bytes]; len 0 is an EOF.
 *   hello      a real ClientHello (resuming a session, psk_ke, no key
 *              share), with one byte the input may change, then as raw.
 *   script     a full resumed handshake (each flight cut in two where
 *              the input says), then a script of client actions: request
 *              lines, arbitrary plaintext, oversize lines, partial sends,
 *              reads, answers of the held "slow" call, raw records, bit
 *              flips in sealed records, close_notify, EOF.
 * A full handshake (X25519 and a signature) per input would cost most of
 * the time, so one is done at startup and every later handshake resumes
 * its session ticket with psk_ke only: no public-key operation at all.
 *
 * The server runs the test handler of check_conn.c: login accepts the
 * password "pw" for any account, balance answers at once, slow is held
 * until the script (or the end of the input) answers it, from outside the
 * loop, through the worker's done list and its uv_async_t.
 *
 * Properties, each an abort():
 *   - the loop settles within FUZZ_MAX_TURNS turns after every action;
 *   - output the server holds (written to libuv, not yet to the socket, or
 *     sealed, not yet written) stays under write_buffer plus one reply per
 *     pipelined request: the server stops reading before it grows further;
 *   - every line the client decrypts is the greeting (first) or a reply: a
 *     JSON object with ok, an error code that exists, an id of the right
 *     type, no longer than max_message_bytes;
 *   - no more replies than request lines; and when the client sent only
 *     well-framed lines and then closed politely while reading, exactly
 *     one reply per line (nothing dropped);
 *   - once the client is gone the connection is freed within a bounded
 *     number of turns, its iplimit slot released, no handle left behind.
 * ASan, UBSan and LeakSanitizer report the rest.
 *
 * SECD_FUZZ_CONN_SEEDS=DIR writes the seed corpus into DIR and exits (the
 * ClientHello seeds need a live client, so they are made, not typed).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "certgen.h"
#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "hhost.h"
#include "log.h"
#include "secd/handler.h"
#include "server.h"
#include "tls.h"
#include "tlsconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

/*
 * The harness's own hot loops are left out of coverage: they cost time
 * on every byte, and their branches would only be noise to the fuzzer.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NOCOV
#endif

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property violated: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* Limits of the server under test (conf.limits; some vary per input). */
#define FUZZ_MAX_MESSAGE	8192	/* MSG_MAX_MESSAGE_MIN: cheap oversize */
#define FUZZ_HOUR_MS		(3600u * 1000u)
/* Loop turns one action may take before the server is called stuck. */
#define FUZZ_MAX_TURNS		2000
/* A reply line of the test handler, sealed, at most (with room). */
#define FUZZ_REPLY_MAX		2048
/* Greeting, session ticket, alerts. */
#define FUZZ_OUT_SLACK		4096
/* Client buffers: more than the server may ever have in flight. */
#define FUZZ_CLI_BUF		(1u << 20)
/*
 * Work per input is capped, so that a long input cannot make every run
 * slow: script steps, and requests in one burst.
 */
#define FUZZ_MAX_STEPS		64
#define FUZZ_MAX_BURST		8
/* Same as server.c's WORKER_PLAINBUF. */
#define FUZZ_PLAINBUF		(16 * 1024 + 256)

enum fuzz_mode { FUZZ_M_RAW = 0, FUZZ_M_HELLO, FUZZ_M_SCRIPT, FUZZ_M_COUNT };

/* ---- the test handler (as check_conn.c's, with slow held for us) ---- */

static const char *const fh_ops[] = { "login", "balance", "slow", NULL };
static const struct secd_host *fh_host;
static struct secd_call *fh_held;	/* the slow call not yet answered */

static int
fh_open(const struct secd_host *host, const struct secd_option *options,
    size_t noptions, void **state, char *err, size_t errlen)
{
	(void)options;
	(void)noptions;
	(void)err;
	(void)errlen;
	fh_host = host;
	*state = NULL;
	return (0);
}

static void
fh_close(void *state)
{
	(void)state;
	FUZZ_CHECK(fh_held == NULL);
}

static void
fh_submit(void *state, struct secd_call *call)
{
	const char *account, *pw;

	(void)state;
	if (strcmp(call->op, "login") == 0) {
		account = secd_arg_str(call, "account");
		pw = secd_arg_str(call, "password");
		if (account != NULL && pw != NULL && strcmp(pw, "pw") == 0)
			fh_host->reply_login(call, account);
		else
			fh_host->reply_error(call, "auth_failed",
			    "wrong account or password", -1);
	} else if (strcmp(call->op, "balance") == 0) {
		struct secd_value f[3] = {
			SECD_STR("account", call->account),
			SECD_INT("balance", 10000),
			SECD_STR("currency", "CNY"),
		};

		fh_host->reply(call, f, 3);
	} else if (strcmp(call->op, "slow") == 0) {
		/* One call per connection is at the handler at a time. */
		FUZZ_CHECK(fh_held == NULL);
		fh_held = call;
	} else {
		fh_host->reply_error(call, "unknown_op", "not served", -1);
	}
}

static const struct secd_handler fh_handler = {
	.abi = SECD_HANDLER_ABI,
	.name = "fuzz",
	.ops = fh_ops,
	.open = fh_open,
	.close = fh_close,
	.submit = fh_submit,
};

/* Answer the held call, from outside the loop, as a handler thread would. */
static int
fh_release(void)
{
	struct secd_call *call = fh_held;
	struct secd_value f[1] = { SECD_INT("slept", 0) };

	if (call == NULL)
		return (0);
	fh_held = NULL;
	fh_host->reply(call, f, 1);
	return (1);
}

/* ---- the server, with its one worker run by this thread ---- */

static struct {
	char dir[256];
	struct conf *conf;
	struct tls_ctx *tls;
	struct hhost hh;
	struct server srv;
	struct worker *w;
	int tcp;			/* transport: loopback TCP, not Unix */
	union {
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} lst;
	struct sockaddr_storage addr;	/* where clients connect */
	socklen_t addrlen;
	int handles;			/* the loop's handles when idle */
	WOLFSSL_CTX *cctx;
	WOLFSSL_SESSION *sess;		/* resumed by every handshake */
	uint64_t accepted;
} F;

/* What worker_wake_cb does with answered calls (server.c keeps it static). */
static void
fuzz_wake_cb(uv_async_t *h)
{
	struct worker *w = h->data;
	struct dcall *list, *call;

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
}

static void
fuzz_accept_cb(uv_stream_t *server, int status)
{
	FUZZ_CHECK(status == 0);
	F.accepted++;
	conn_accept(F.w, server);
}

static struct conn *
fuzz_conn(void)
{
	return (F.w->conns);
}

/*
 * Everything that can change when the loop turns.  (Bytes waiting in the
 * sockets are not asked for: that costs two system calls a turn, and
 * whatever the server reads or writes moves something below.)
 */
struct fuzz_snap {
	size_t nconns;
	enum conn_state state;
	unsigned flags;
	unsigned q_len;
	const void *inflight;
	size_t write_pending;
	size_t tls_out;
	size_t tls_room;
	size_t framed;
	const void *done;
	uint64_t accepted;
	uint64_t requests;
	uint64_t handshakes;
	uint64_t handshake_failures;
};

FUZZ_NOCOV static void
fuzz_snap(struct fuzz_snap *s)
{
	struct conn *c = fuzz_conn();

	memset(s, 0, sizeof(*s));
	s->nconns = F.w->nconns;
	s->accepted = F.accepted;
	s->requests = atomic_load(&F.w->stats.requests);
	s->handshakes = atomic_load(&F.w->stats.handshakes);
	s->handshake_failures = atomic_load(&F.w->stats.handshake_failures);
	pthread_mutex_lock(&F.w->done_mtx);
	s->done = F.w->done_head;
	pthread_mutex_unlock(&F.w->done_mtx);
	if (c == NULL)
		return;
	s->state = c->state;
	s->flags = c->flags;
	s->q_len = c->q_len;
	s->inflight = c->inflight;
	s->write_pending = c->write_pending;
	if (c->state == CONN_S_CLOSED || c->tls == NULL)
		return;
	s->tls_out = tls_chan_output_len(c->tls);
	s->tls_room = tls_chan_input_room(c->tls);
	s->framed = frame_buffered(&c->frame);
}

/*
 * The output a live connection holds must stay bounded: reading stops at
 * write_buffer, and what was read by then adds at most one reply for each
 * pipelined request and the one at the handler.
 */
FUZZ_NOCOV static void
fuzz_check_bounded(void)
{
	const struct conf_limits *lim = &F.conf->limits;
	struct conn *c = fuzz_conn();
	size_t held;

	if (c == NULL || c->state == CONN_S_CLOSED)
		return;
	held = c->write_pending + tls_chan_output_len(c->tls);
	FUZZ_CHECK(held <= lim->write_buffer_bytes +
	    (lim->max_pipeline + 1) * (size_t)FUZZ_REPLY_MAX + FUZZ_OUT_SLACK);
	FUZZ_CHECK(c->q_len <= lim->max_pipeline);
	FUZZ_CHECK(frame_buffered(&c->frame) <= c->frame.max + FRAME_SLACK);
}

/*
 * Turn the loop (never blocking) until a turn changes nothing.  (What a
 * turn starts shows in the snapshot: a write's callback waits for the
 * next turn, but the write itself moved write_pending.)
 * Timers are hours away, so "nothing changes" means the server waits for
 * its peer or its handler.
 */
FUZZ_NOCOV static void
fuzz_settle(int cfd)
{
	struct fuzz_snap a, b;
	int turn, still = 0;

	(void)cfd;
	for (turn = 0; turn < FUZZ_MAX_TURNS; turn++) {
		fuzz_snap(&a);
		uv_run(&F.w->loop, UV_RUN_NOWAIT);
		fuzz_snap(&b);
		if (memcmp(&a, &b, sizeof(a)) == 0) {
			if (++still == 1) {
				fuzz_check_bounded();
				return;
			}
		} else {
			still = 0;
		}
	}
	fprintf(stderr, "fuzz_conn: the loop did not settle in %d turns\n",
	    FUZZ_MAX_TURNS);
	abort();
}

static void
fuzz_count_handle_cb(uv_handle_t *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}

static int
fuzz_count_handles(void)
{
	int n = 0;

	uv_walk(&F.w->loop, fuzz_count_handle_cb, &n);
	return (n);
}

/* A client socket, connected; the server has not accepted it yet. */
static int
fuzz_connect(void)
{
	struct linger lg = { 1, 0 };
	int fd;

	fd = socket(F.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0);
	/* TCP: reset at close, so no TIME_WAIT piles up over millions. */
	if (F.tcp)
		FUZZ_CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
		    sizeof(lg)) == 0);
	if (connect(fd, (struct sockaddr *)&F.addr, F.addrlen) != 0)
		FUZZ_CHECK(errno == EINPROGRESS);
	return (fd);
}

/* Accept the client; optionally shrink the server's send buffer. */
static void
fuzz_accept(int cfd, int small_sndbuf)
{
	struct conn *c;
	int fd, sz = 4096;

	fuzz_settle(cfd);
	FUZZ_CHECK(F.w->nconns == 1);
	c = fuzz_conn();
	if (small_sndbuf && c->state != CONN_S_CLOSED &&
	    uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * The client is gone: the connection must be freed, the held call
 * answered into a closed connection if need be, and the loop left as it
 * was.
 */
static void
fuzz_finish(int cfd)
{
	uint32_t i;

	close(cfd);
	fuzz_settle(-1);
	/*
	 * Until it learns that the peer is gone, the server may go on with
	 * requests it has queued: at most max_pipeline of them.
	 */
	for (i = 0; i <= F.conf->limits.max_pipeline && fh_release(); i++)
		fuzz_settle(-1);
	FUZZ_CHECK(fh_held == NULL);
	FUZZ_CHECK(F.w->nconns == 0);
	FUZZ_CHECK(F.w->conns == NULL);
	FUZZ_CHECK(server_connections(&F.srv) == 0);
	FUZZ_CHECK(fuzz_count_handles() == F.handles);
}

/* ---- the client ---- */

struct cli {
	int fd;
	WOLFSSL *ssl;
	unsigned char *out;		/* ciphertext not yet sent */
	size_t outoff, outlen;
	unsigned char *in;		/* ciphertext received, not consumed */
	size_t inoff, inlen;
	int eof;			/* the socket said EOF or reset */
	int shut;			/* we sent EOF: nothing more goes out */
	int notified;			/* we sent close_notify */
	int dead;			/* the TLS session failed */
	int got_notify;			/* the server's close_notify */
	char *rx;			/* plaintext, a partial line */
	size_t rxlen;
	unsigned replies;		/* lines received, greeting included */
	/* The client's lines, as the server's framer will cut them. */
	size_t curlen;
	int lastcr;
	unsigned lines;
	int oversize;
	int tainted;			/* raw bytes or flipped bits were sent */
	int64_t id;
};

FUZZ_NOCOV static int
cli_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct cli *c = ctx;
	size_t n = c->inlen - c->inoff;

	(void)ssl;
	if (n == 0)
		return (c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE :
		    WOLFSSL_CBIO_ERR_WANT_READ);
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, c->in + c->inoff, n);
	c->inoff += n;
	if (c->inoff == c->inlen)
		c->inoff = c->inlen = 0;
	return ((int)n);
}

/* Make room at the end of the send queue; 1 if need bytes fit. */
FUZZ_NOCOV static int
cli_out_room(struct cli *c, size_t need)
{
	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	return (FUZZ_CLI_BUF - c->outlen >= need);
}

FUZZ_NOCOV static int
cli_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct cli *c = ctx;

	(void)ssl;
	/* cli_write made room for the whole write beforehand. */
	FUZZ_CHECK(cli_out_room(c, (size_t)sz));
	memcpy(c->out + c->outlen, buf, (size_t)sz);
	c->outlen += (size_t)sz;
	return (sz);
}

static void
cli_open(struct cli *c, int resume)
{
	/* One client at a time: its buffers are made once. */
	static unsigned char *out, *in;
	static char *rx;

	if (out == NULL) {
		FUZZ_CHECK((out = malloc(FUZZ_CLI_BUF)) != NULL);
		FUZZ_CHECK((in = malloc(FUZZ_CLI_BUF)) != NULL);
		FUZZ_CHECK((rx = malloc(FUZZ_MAX_MESSAGE + 1)) != NULL);
	}
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->in = in;
	c->rx = rx;
	FUZZ_CHECK((c->ssl = wolfSSL_new(F.cctx)) != NULL);
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	if (resume) {
		FUZZ_CHECK(wolfSSL_set_session(c->ssl, F.sess) ==
		    WOLFSSL_SUCCESS);
		/* psk_ke: no key share, no public-key operation. */
		(void)wolfSSL_no_dhe_psk(c->ssl);
		(void)wolfSSL_NoKeyShares(c->ssl);
	}
	c->fd = fuzz_connect();
}

static void
cli_free(struct cli *c)
{
	wolfSSL_free(c->ssl);
}

/* Send up to max bytes of queued ciphertext (what the socket takes). */
static void
cli_send(struct cli *c, size_t max)
{
	size_t n = c->outlen - c->outoff;
	ssize_t r;

	if (c->shut || c->eof) {
		c->outoff = c->outlen = 0;
		return;
	}
	if (n > max)
		n = max;
	if (n == 0)
		return;
	r = send(c->fd, c->out + c->outoff, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r > 0) {
		c->outoff += (size_t)r;
	} else if (r < 0 && errno != EAGAIN && errno != EINTR) {
		FUZZ_CHECK(errno == EPIPE || errno == ECONNRESET);
		c->outoff = c->outlen = 0;
		c->eof = 1;
	}
}

/* Bytes as sent, unsealed (raw mode, and raw records after a handshake). */
static void
cli_send_raw(struct cli *c, const uint8_t *p, size_t n)
{
	if (!cli_out_room(c, n))
		return;
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	cli_send(c, n + (c->outlen - c->outoff));
}

static const char *const fuzz_error_codes[] = {
	"bad_request", "too_large", "unknown_op", "auth_required",
	"auth_failed", "locked", "rate_limited", "no_such_account",
	"insufficient_funds", "conflict", "unavailable", "internal", NULL
};

/* One line from the server: the greeting, then replies. */
static void
cli_check_line(struct cli *c, const char *line, size_t len)
{
	json_t *j, *ok, *id, *e, *code;
	json_error_t jerr;
	size_t i;

	FUZZ_CHECK(len <= FUZZ_MAX_MESSAGE);
	if (c->replies++ == 0) {
		FUZZ_CHECK(len + 1 == F.srv.hello_len &&
		    memcmp(line, F.srv.hello, len) == 0);
		return;
	}
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	FUZZ_CHECK(j != NULL && json_is_object(j));
	ok = json_object_get(j, "ok");
	FUZZ_CHECK(json_is_boolean(ok));
	id = json_object_get(j, "id");
	FUZZ_CHECK(id == NULL || json_is_integer(id) || json_is_string(id) ||
	    json_is_null(id));
	if (json_is_false(ok)) {
		e = json_object_get(j, "error");
		FUZZ_CHECK(json_is_object(e));
		code = json_object_get(e, "code");
		FUZZ_CHECK(json_is_string(code));
		for (i = 0; fuzz_error_codes[i] != NULL; i++)
			if (strcmp(json_string_value(code),
			    fuzz_error_codes[i]) == 0)
				break;
		FUZZ_CHECK(fuzz_error_codes[i] != NULL);
		FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
	}
	json_decref(j);
	/* Never more answers than lines asked (plus a too_large). */
	FUZZ_CHECK(c->replies - 1 <= c->lines + 1 || c->tainted);
}

FUZZ_NOCOV static void
cli_plaintext(struct cli *c, const char *p, size_t n)
{
	const char *nl;
	size_t take;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		take = nl != NULL ? (size_t)(nl - p) : n;
		FUZZ_CHECK(c->rxlen + take <= FUZZ_MAX_MESSAGE);
		memcpy(c->rx + c->rxlen, p, take);
		c->rxlen += take;
		if (nl == NULL)
			return;
		cli_check_line(c, c->rx, c->rxlen);
		c->rxlen = 0;
		p += take + 1;
		n -= take + 1;
	}
}

/* Decrypt whatever there is; record how the session ended, if it did. */
static void
cli_decrypt(struct cli *c)
{
	char buf[16384];
	int n, err;

	if (c->dead || !wolfSSL_is_init_finished(c->ssl))
		return;
	for (;;) {
		n = wolfSSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			cli_plaintext(c, buf, (size_t)n);
			continue;
		}
		err = wolfSSL_get_error(c->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ)
			break;
		if (err == WOLFSSL_ERROR_ZERO_RETURN)
			c->got_notify = 1;
		c->dead = 1;
		break;
	}
}

/* Take what the socket has (up to the buffer); 1 if anything came. */
static int
cli_recv(struct cli *c)
{
	ssize_t r;
	size_t room;
	int got = 0;

	if (c->inoff > 0) {
		memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
		c->inlen -= c->inoff;
		c->inoff = 0;
	}
	while (!c->eof && (room = FUZZ_CLI_BUF - c->inlen) > 0) {
		r = recv(c->fd, c->in + c->inlen, room, MSG_DONTWAIT);
		if (r > 0) {
			c->inlen += (size_t)r;
			got = 1;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		FUZZ_CHECK(r == 0 || errno == ECONNRESET);
		c->eof = 1;
		got = 1;
	}
	return (got);
}

/* Read and decrypt until the socket has nothing more for now. */
static void
cli_read(struct cli *c)
{
	int i;

	for (i = 0; i < 1024 && cli_recv(c); i++) {
		if (wolfSSL_is_init_finished(c->ssl))
			cli_decrypt(c);
		else
			c->inoff = c->inlen = 0;	/* raw mode: discard */
		if (c->eof)
			break;
	}
}

/* Plaintext to the server; the framer model counts its lines. */
FUZZ_NOCOV static void
cli_write(struct cli *c, const char *p, size_t n)
{
	size_t i;

	if (c->dead || c->notified || c->shut || c->eof || n == 0)
		return;
	/* Sealed, it grows by a record header and tag per 16 KiB. */
	if (!cli_out_room(c, n + (n / 16384 + 1) * 64)) {
		cli_send(c, SIZE_MAX);
		if (!cli_out_room(c, n + (n / 16384 + 1) * 64))
			return;		/* not sent, not counted */
	}
	if (wolfSSL_write(c->ssl, p, (int)n) != (int)n) {
		c->dead = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (c->curlen - (size_t)c->lastcr > 0)
				c->lines++;
			c->curlen = 0;
			c->lastcr = 0;
			continue;
		}
		c->lastcr = p[i] == '\r';
		/* Near the limit, the framer's exact verdict does not
		   matter here: only clean conversations are counted. */
		if (++c->curlen + 2 >= FUZZ_MAX_MESSAGE)
			c->oversize = 1;
	}
}

/* How far the conversation got: changes whenever anything moves. */
FUZZ_NOCOV static uint64_t
cli_progress(const struct cli *c)
{
	return ((uint64_t)c->outlen - c->outoff + c->inlen + c->rxlen +
	    ((uint64_t)c->replies << 24) + ((uint64_t)c->eof << 40) +
	    ((uint64_t)c->outoff << 20));
}

/*
 * Send everything, reading and answering the held call meanwhile.  A
 * client that reads everything must always get its bytes through: a
 * server that stops moving is a finding.
 */
static void
cli_flush(struct cli *c)
{
	uint64_t before;
	int idle = 0;

	while (c->outoff < c->outlen && !c->eof && !c->shut) {
		before = cli_progress(c);
		cli_send(c, SIZE_MAX);
		fuzz_settle(c->fd);
		cli_read(c);
		if (fh_release())
			fuzz_settle(c->fd);
		if (cli_progress(c) != before || c->outoff == c->outlen) {
			idle = 0;
			continue;
		}
		if (++idle == 4 && !c->dead) {
			fprintf(stderr, "fuzz_conn: server stopped reading "
			    "a client that reads\n");
			abort();
		}
		if (idle == 4)
			break;
	}
}

/*
 * One loop turn, not until quiet: enough for the server to take bytes
 * just sent in a read of their own, so chunks stay chunks.
 */
FUZZ_NOCOV static void
fuzz_turn(void)
{
	uv_run(&F.w->loop, UV_RUN_NOWAIT);
}

/*
 * The client's handshake.  With cut != 0 each flight goes out in two
 * pieces, the first cut/256 of it long, so the server meets records split
 * anywhere.  Returns 0 when the client finished and its last flight was
 * sent.
 */
static int
cli_handshake(struct cli *c, uint8_t cut)
{
	size_t first;
	int i, r;

	for (i = 0; i < 16; i++) {
		r = wolfSSL_connect(c->ssl);
		first = (c->outlen - c->outoff) * cut / 256;
		if (first > 0) {
			cli_send(c, first);
			fuzz_turn();
		}
		cli_send(c, SIZE_MAX);
		fuzz_settle(c->fd);
		if (r == WOLFSSL_SUCCESS)
			return (0);
		if (wolfSSL_get_error(c->ssl, r) != WOLFSSL_ERROR_WANT_READ)
			return (-1);
		if (!cli_recv(c) || c->eof)
			return (-1);
	}
	return (-1);
}

/* ---- setup ---- */

static int
fuzz_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(p));
}

static void
fuzz_rm_dir(void)
{
	if (F.dir[0] != '\0')
		nftw(F.dir, fuzz_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void
fuzz_conf_listen(struct conf *conf)
{
	struct conf_addr *l = &conf->listen[0];
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&l->sa;

	memset(l, 0, sizeof(*l));
	l->family = AF_INET;
	snprintf(l->host, sizeof(l->host), "127.0.0.1");
	snprintf(l->text, sizeof(l->text), "127.0.0.1:0");
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->salen = sizeof(*sin);
	conf->nlisten = 1;
}

/* Limits that never fire by themselves during one input. */
static void
fuzz_conf_limits(struct conf *conf)
{
	struct conf_limits *lim = &conf->limits;

	conf->workers = 1;
	lim->max_connections = 16;
	lim->max_connections_per_ip = 16;
	lim->handshake_timeout_ms = FUZZ_HOUR_MS;
	lim->login_timeout_ms = FUZZ_HOUR_MS;
	lim->idle_timeout_ms = FUZZ_HOUR_MS;
	lim->max_message_bytes = FUZZ_MAX_MESSAGE;
	lim->max_pipeline = 4;
	lim->write_buffer_bytes = 4096;
	/* Millions of connections from one address, and failed logins
	   that must not lock anything for the next input. */
	lim->handshake_rate_per_ip = 1u << 30;
	lim->handshake_burst_per_ip = 1u << 30;
	conf->auth.max_failures = 1u << 30;
	conf->auth.max_failures_per_ip = 1u << 30;
	conf->auth.failure_window_ms = 1;
	conf->auth.lockout_ms = 1;
	conf->tls.tickets = true;
	conf->tls.ticket_lifetime_ms = 7u * 24 * FUZZ_HOUR_MS;
}

static void
fuzz_listen(void)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)(void *)&F.addr;
	socklen_t len = sizeof(F.addr);
	int fd;

	if (F.tcp) {
		fd = F.srv.listen_fds[0];
		F.srv.listen_fds[0] = -1;
		FUZZ_CHECK(getsockname(fd, (struct sockaddr *)&F.addr,
		    &len) == 0);
		F.addrlen = len;
		FUZZ_CHECK(uv_tcp_init(&F.w->loop, &F.lst.tcp) == 0);
		FUZZ_CHECK(uv_tcp_open(&F.lst.tcp, fd) == 0);
	} else {
		/* An abstract name: nothing on disk to clean up. */
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		len = (socklen_t)snprintf(sun->sun_path + 1,
		    sizeof(sun->sun_path) - 1, "secd-fuzz-conn-%ld",
		    (long)getpid());
		F.addrlen = (socklen_t)offsetof(struct sockaddr_un,
		    sun_path) + 1 + len;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		FUZZ_CHECK(fd >= 0);
		FUZZ_CHECK(bind(fd, (struct sockaddr *)&F.addr,
		    F.addrlen) == 0);
		FUZZ_CHECK(uv_pipe_init(&F.w->loop, &F.lst.pipe, 0) == 0);
		FUZZ_CHECK(uv_pipe_open(&F.lst.pipe, fd) == 0);
	}
	F.lst.tcp.data = F.w;
	FUZZ_CHECK(uv_listen((uv_stream_t *)&F.lst, 64,
	    fuzz_accept_cb) == 0);
}

/* The worker as worker_init() makes it, minus the thread and listeners. */
static void
fuzz_worker(void)
{
	struct worker *w = &F.srv.workers[0];

	w->srv = &F.srv;
	w->index = 0;
	w->done_tail = &w->done_head;
	FUZZ_CHECK(uv_loop_init(&w->loop) == 0);
	pthread_mutex_init(&w->done_mtx, NULL);
	w->loop_inited = 1;
	w->plainbuf_size = FUZZ_PLAINBUF;
	FUZZ_CHECK((w->plainbuf = malloc(w->plainbuf_size)) != NULL);
	FUZZ_CHECK((w->stage = malloc(WORKER_STAGE)) != NULL);
	FUZZ_CHECK(uv_async_init(&w->loop, &w->wake, fuzz_wake_cb) == 0);
	w->wake.data = w;
	F.w = w;
}

/* One full handshake, for the session every input resumes. */
static void
fuzz_bootstrap(void)
{
	struct cli c;
	int i;

	cli_open(&c, 0);
	fuzz_accept(c.fd, 0);
	FUZZ_CHECK(cli_handshake(&c, 0) == 0);
	for (i = 0; i < 8 && !wolfSSL_SESSION_has_ticket(
	    wolfSSL_get_session(c.ssl)); i++) {
		fuzz_settle(c.fd);
		cli_read(&c);
	}
	FUZZ_CHECK(c.replies == 1);
	FUZZ_CHECK((F.sess = wolfSSL_get1_session(c.ssl)) != NULL);
	FUZZ_CHECK(wolfSSL_SESSION_has_ticket(F.sess));
	fuzz_finish(c.fd);
	cli_free(&c);
}

static void
fuzz_init(void)
{
	const char *tmp;
	char err[512] = "";

	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_L_ERR, 0);
	F.tcp = getenv("SECD_FUZZ_CONN_TCP") != NULL;
	tmp = getenv("TMPDIR");
	snprintf(F.dir, sizeof(F.dir), "%s/fuzz_conn.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(F.dir) != NULL);
	if (certgen_make_dev(F.dir, CERTGEN_ED25519, 30, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "certgen: %s\n", err);
		abort();
	}
	FUZZ_CHECK((F.conf = conf_new_defaults()) != NULL);
	fuzz_conf_limits(F.conf);
	fuzz_conf_listen(F.conf);
	free(F.conf->tls.certificate);
	free(F.conf->tls.key);
	FUZZ_CHECK(asprintf(&F.conf->tls.certificate, "%s/server.pem",
	    F.dir) > 0);
	FUZZ_CHECK(asprintf(&F.conf->tls.key, "%s/server.key", F.dir) > 0);
	if ((F.tls = tlsconf_server_ctx(F.conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "server context: %s\n", err);
		abort();
	}
	/* The certificates are loaded: nothing on disk is needed now. */
	fuzz_rm_dir();

	/* What hhost_open does, with the test handler. */
	hhost_set_handler(&F.hh, &fh_handler);
	dispatch_host_init(&F.hh.host, &F.hh.auth);
	FUZZ_CHECK(F.hh.h->open(&F.hh.host, NULL, 0, &F.hh.state, err,
	    sizeof(err)) == 0);
	F.hh.opened = 1;
	if (server_open(&F.srv, F.conf, F.tls, &F.hh, err, sizeof(err)) != 0) {
		fprintf(stderr, "server_open: %s\n", err);
		abort();
	}
	FUZZ_CHECK(F.srv.nworkers == 1);
	fuzz_worker();
	fuzz_listen();
	F.handles = fuzz_count_handles();

	FUZZ_CHECK((F.cctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method())) !=
	    NULL);
	/* A test client: the server is what is under test. */
	wolfSSL_CTX_set_verify(F.cctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(F.cctx, cli_recv_cb);
	wolfSSL_CTX_SetIOSend(F.cctx, cli_send_cb);
	(void)wolfSSL_CTX_set_session_cache_mode(F.cctx,
	    WOLFSSL_SESS_CACHE_OFF);
	fuzz_bootstrap();
}

/* ---- the modes ---- */

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static int
in_byte(struct fuzz_in *in, uint8_t *b)
{
	if (in->n == 0)
		return (-1);
	*b = *in->p++;
	in->n--;
	return (0);
}

static uint8_t
in_byte0(struct fuzz_in *in)
{
	uint8_t b = 0;

	(void)in_byte(in, &b);
	return (b);
}

static size_t
in_take(struct fuzz_in *in, size_t want, const uint8_t **p)
{
	if (want > in->n)
		want = in->n;
	*p = in->p;
	in->p += want;
	in->n -= want;
	return (want);
}

/* Raw chunks: [len][len bytes]...; len 0 sends EOF.  One turn each. */
static void
fuzz_raw_chunks(struct cli *c, struct fuzz_in *in)
{
	const uint8_t *p;
	uint8_t len;
	size_t n;

	while (in_byte(in, &len) == 0) {
		if (len == 0) {
			if (!c->shut)
				(void)shutdown(c->fd, SHUT_WR);
			c->shut = 1;
		} else {
			n = in_take(in, len, &p);
			cli_send_raw(c, p, n);
		}
		fuzz_turn();
	}
	fuzz_settle(c->fd);
	cli_read(c);
}

static void
fuzz_mode_raw(struct fuzz_in *in, int hello)
{
	struct cli c;
	size_t pos;
	uint8_t x;

	cli_open(&c, 1);
	fuzz_accept(c.fd, 0);
	if (hello) {
		/* A real ClientHello, maybe with one byte changed. */
		FUZZ_CHECK(wolfSSL_connect(c.ssl) != WOLFSSL_SUCCESS);
		FUZZ_CHECK(c.outlen > 0);
		pos = (size_t)in_byte0(in) << 8;
		pos |= in_byte0(in);
		x = in_byte0(in);
		c.out[pos % c.outlen] ^= x;
		cli_send(&c, SIZE_MAX);
		fuzz_settle(c.fd);
		cli_recv(&c);
		c.inoff = c.inlen = 0;
	}
	fuzz_raw_chunks(&c, in);
	fuzz_finish(c.fd);
	cli_free(&c);
}

/* Requests the script can send whole (after {"id":N,). */
static const char *const fuzz_templates[] = {
	"\"op\":\"login\",\"account\":\"AAA\",\"password\":\"pw\"}\n",
	"\"op\":\"login\",\"account\":\"AAA\",\"password\":\"no\"}\n",
	"\"op\":\"balance\"}\n",
	"\"op\":\"slow\",\"ms\":0}\n",
	"\"op\":\"ping\"}\r\n",
	"\"op\":\"logout\"}\n",
	"\"op\":\"nosuchop\"}\n",
	("\"op\":\"transfer\",\"to\":\"BBB\",\"amount\":1,"
	    "\"idempotency_key\":\"k\"}\n"),
};
#define FUZZ_NTEMPLATES (sizeof(fuzz_templates) / sizeof(fuzz_templates[0]))

enum fuzz_op {
	FUZZ_OP_REQUEST = 0,	/* [template] */
	FUZZ_OP_PLAIN,		/* [len][bytes]: plaintext as is */
	FUZZ_OP_BIG,		/* [delta][shape]: a line near the limit */
	FUZZ_OP_PUMP,		/* send all, let the server run */
	FUZZ_OP_PART,		/* [n]: send a few bytes, let it run */
	FUZZ_OP_READ,		/* read and check what came */
	FUZZ_OP_RELEASE,	/* answer the held slow call */
	FUZZ_OP_RAW,		/* [len][bytes]: unsealed bytes on the wire */
	FUZZ_OP_FLIP,		/* [pos][xor]: change a sealed byte unsent */
	FUZZ_OP_NOTIFY,		/* close_notify */
	FUZZ_OP_SHUT,		/* send all, then EOF */
	FUZZ_OP_BURST,		/* [k]: 1..8 pipelined requests, one write */
	FUZZ_OP_COUNT
};

FUZZ_NOCOV static void
fuzz_big_line(struct cli *c, uint8_t delta, uint8_t shape)
{
	size_t len = FUZZ_MAX_MESSAGE + (size_t)delta - 128, i;
	char *line;
	int n;

	FUZZ_CHECK((line = malloc(len + 2)) != NULL);
	n = snprintf(line, len + 2, "{\"id\":%lld,\"op\":\"ping\",\"pad\":\"",
	    (long long)++c->id);
	for (i = (size_t)n; i < len; i++)
		line[i] = 'x';
	if (shape & 1) {
		line[len - 2] = '"';
		line[len - 1] = '}';
	}
	line[len] = '\n';
	/* shape bit 1: no LF yet (a partial line that keeps growing). */
	cli_write(c, line, (shape & 2) ? len : len + 1);
	free(line);
}

static void
fuzz_burst(struct cli *c, uint8_t k)
{
	char buf[4096];
	size_t off = 0;
	unsigned i;

	for (i = 0; i < (unsigned)(k % FUZZ_MAX_BURST) + 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "{\"id\":%lld,%s", (long long)++c->id,
		    fuzz_templates[(k + i) % 3 + 2]);
	cli_write(c, buf, off);
}

static void
fuzz_script(struct cli *c, struct fuzz_in *in)
{
	char line[256];
	const uint8_t *p;
	uint8_t op, a, b;
	size_t n;
	int len, steps = 0;

	while (steps++ < FUZZ_MAX_STEPS && in_byte(in, &op) == 0) {
		switch (op % FUZZ_OP_COUNT) {
		case FUZZ_OP_REQUEST:
			a = in_byte0(in);
			len = snprintf(line, sizeof(line), "{\"id\":%lld,%s",
			    (long long)++c->id,
			    fuzz_templates[a % FUZZ_NTEMPLATES]);
			cli_write(c, line, (size_t)len);
			break;
		case FUZZ_OP_PLAIN:
			n = in_take(in, in_byte0(in), &p);
			cli_write(c, (const char *)p, n);
			break;
		case FUZZ_OP_BIG:
			a = in_byte0(in);
			b = in_byte0(in);
			fuzz_big_line(c, a, b);
			break;
		case FUZZ_OP_PUMP:
			cli_send(c, SIZE_MAX);
			fuzz_settle(c->fd);
			break;
		case FUZZ_OP_PART:
			cli_send(c, (size_t)in_byte0(in) * 8 + 1);
			fuzz_turn();
			break;
		case FUZZ_OP_READ:
			cli_read(c);
			break;
		case FUZZ_OP_RELEASE:
			if (fh_release())
				fuzz_settle(c->fd);
			break;
		case FUZZ_OP_RAW:
			n = in_take(in, in_byte0(in), &p);
			if (n == 0 || c->shut || c->eof)
				break;
			c->tainted = 1;
			cli_send(c, SIZE_MAX);
			cli_send_raw(c, p, n);
			fuzz_settle(c->fd);
			break;
		case FUZZ_OP_FLIP:
			a = in_byte0(in);
			b = in_byte0(in);
			if (c->outoff == c->outlen || b == 0)
				break;
			c->tainted = 1;
			c->out[c->outoff + ((size_t)a << 4) %
			    (c->outlen - c->outoff)] ^= b;
			break;
		case FUZZ_OP_NOTIFY:
			if (c->dead || c->notified)
				break;
			(void)wolfSSL_shutdown(c->ssl);
			c->notified = 1;
			break;
		case FUZZ_OP_SHUT:
			cli_flush(c);
			if (!c->shut && !c->eof)
				(void)shutdown(c->fd, SHUT_WR);
			c->shut = 1;
			fuzz_settle(c->fd);
			break;
		case FUZZ_OP_BURST:
			fuzz_burst(c, in_byte0(in));
			break;
		}
	}
}

/*
 * The end of a script.  style 0: just go; 1: close_notify, then read
 * until the server closes; 2: EOF, then read until it closes; 3: read
 * what there is, then go.  After 1 and 2, a clean conversation must have
 * every line answered.
 */
static void
fuzz_script_end(struct cli *c, unsigned style)
{
	uint64_t before;
	int idle;

	if (style == 0)
		return;
	if (style == 3) {
		cli_flush(c);
		cli_read(c);
		return;
	}
	if (style == 1 && !c->dead && !c->notified) {
		(void)wolfSSL_shutdown(c->ssl);
		c->notified = 1;
	}
	cli_flush(c);
	if (style == 2 && !c->shut && !c->eof) {
		(void)shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	/* Read until the server closes; it must, once it has answered. */
	for (idle = 0; !c->eof && idle < 4;) {
		before = cli_progress(c);
		fuzz_settle(c->fd);
		cli_read(c);
		if (fh_release())
			fuzz_settle(c->fd);
		idle = cli_progress(c) != before ? 0 : idle + 1;
	}
	/* Raw bytes may have opened a record that never ends: the server
	   then rightly waits for the rest (until its idle timer). */
	FUZZ_CHECK(c->eof || c->tainted);
	cli_read(c);
	if (!c->tainted && !c->oversize && !c->dead) {
		FUZZ_CHECK(c->rxlen == 0);
		FUZZ_CHECK(c->replies == c->lines + 1);
	}
}

static const uint32_t fuzz_wbuf[4] = { 1, 512, 4096, 65536 };
static const uint32_t fuzz_pipe[4] = { 1, 2, 4, 64 };

static void
fuzz_mode_script(struct fuzz_in *in)
{
	struct conf_limits *lim = &F.conf->limits;
	struct cli c;
	uint8_t opts, cut;

	opts = in_byte0(in);
	cut = in_byte0(in);
	lim->write_buffer_bytes = fuzz_wbuf[opts & 3];
	lim->max_pipeline = fuzz_pipe[(opts >> 2) & 3];
	cli_open(&c, 1);
	fuzz_accept(c.fd, opts & 0x10);
	if (cli_handshake(&c, cut) != 0) {
		fprintf(stderr, "fuzz_conn: resumed handshake failed\n");
		abort();
	}
	FUZZ_CHECK(wolfSSL_session_reused(c.ssl));
	if (opts & 0x20) {
		fuzz_settle(c.fd);
		cli_read(&c);
		FUZZ_CHECK(c.replies == 1);
	}
	fuzz_script(&c, in);
	fuzz_script_end(&c, (opts >> 6) & 3);
	fuzz_finish(c.fd);
	cli_free(&c);
}

/* ---- seeds ---- */

static void
seed_write(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FUZZ_CHECK((f = fopen(path, "wb")) != NULL);
	FUZZ_CHECK(fwrite(p, 1, n, f) == n);
	FUZZ_CHECK(fclose(f) == 0);
}

/* A raw-mode seed: the bytes in chunks of at most 200. */
static void
seed_raw(const char *dir, const char *name, const uint8_t *p, size_t n,
    int eof)
{
	uint8_t *s;
	size_t off = 0, k, m = 1;

	FUZZ_CHECK((s = malloc(n + n / 200 + 8)) != NULL);
	s[0] = FUZZ_M_RAW;
	while (off < n) {
		k = n - off > 200 ? 200 : n - off;
		s[m++] = (uint8_t)k;
		memcpy(s + m, p + off, k);
		m += k;
		off += k;
	}
	if (eof)
		s[m++] = 0;
	seed_write(dir, name, s, m);
	free(s);
}

static void
seed_client_hello(const char *dir, const char *name, int resume)
{
	struct cli c;

	cli_open(&c, resume);
	fuzz_accept(c.fd, 0);
	FUZZ_CHECK(wolfSSL_connect(c.ssl) != WOLFSSL_SUCCESS);
	seed_raw(dir, name, c.out, c.outlen, 1);
	c.outoff = c.outlen = 0;
	fuzz_finish(c.fd);
	cli_free(&c);
}

#define S(...) { const uint8_t s_[] = { __VA_ARGS__ };			\
	seed_write(dir, name, s_, sizeof(s_)); }
#define PLAIN(str) FUZZ_OP_PLAIN, (uint8_t)(sizeof(str) - 1)

static void
seed_all(const char *dir)
{
	const char *name;

	name = "01-login-balance";
	S(FUZZ_M_SCRIPT, 0x62, 0, FUZZ_OP_REQUEST, 2, FUZZ_OP_REQUEST, 0,
	    FUZZ_OP_REQUEST, 2, FUZZ_OP_PUMP, FUZZ_OP_READ,
	    FUZZ_OP_REQUEST, 5, FUZZ_OP_PUMP, FUZZ_OP_READ)
	name = "02-pipelined";
	S(FUZZ_M_SCRIPT, 0x45, 0, FUZZ_OP_REQUEST, 0, FUZZ_OP_BURST, 31,
	    FUZZ_OP_REQUEST, 3, FUZZ_OP_BURST, 7, FUZZ_OP_PUMP,
	    FUZZ_OP_RELEASE, FUZZ_OP_PUMP, FUZZ_OP_READ, FUZZ_OP_SHUT,
	    FUZZ_OP_READ)
	name = "03-oversize";
	S(FUZZ_M_SCRIPT, 0x02, 0, FUZZ_OP_REQUEST, 4, FUZZ_OP_BIG, 129, 1,
	    FUZZ_OP_REQUEST, 4, FUZZ_OP_PUMP, FUZZ_OP_READ)
	name = "04-garbage";
	{
		static const char g[] = "not json\n{\"id\":\n\r\n{}\n[1]\n";
		uint8_t s[64];
		size_t m = 0;

		s[m++] = FUZZ_M_SCRIPT;
		s[m++] = 0x42;
		s[m++] = 7;
		s[m++] = FUZZ_OP_PLAIN;
		s[m++] = sizeof(g) - 1;
		memcpy(s + m, g, sizeof(g) - 1);
		m += sizeof(g) - 1;
		s[m++] = FUZZ_OP_PART;
		s[m++] = 2;
		s[m++] = FUZZ_OP_PUMP;
		s[m++] = FUZZ_OP_READ;
		s[m++] = FUZZ_OP_RAW;
		s[m++] = 5;
		memcpy(s + m, "\x17\x03\x03\x00\x10", 5);
		m += 5;
		s[m++] = FUZZ_OP_PUMP;
		s[m++] = FUZZ_OP_READ;
		seed_write(dir, name, s, m);
	}
	name = "05-partial-then-eof";
	S(FUZZ_M_SCRIPT, 0x81, 1, PLAIN("{\"id\":1,\"op\":\"pi"), 'x', 'y',
	    'z', 'w', 'v', 'u', 't', 's', 'r', 'q', 'p', 'o', 'n', 'm', 'l',
	    'k', FUZZ_OP_PUMP, FUZZ_OP_REQUEST, 3, FUZZ_OP_FLIP, 1, 0x40,
	    FUZZ_OP_SHUT)
	name = "06-notify-midway";
	S(FUZZ_M_SCRIPT, 0x33, 3, FUZZ_OP_REQUEST, 0, FUZZ_OP_REQUEST, 3,
	    FUZZ_OP_PUMP, FUZZ_OP_NOTIFY, FUZZ_OP_PUMP, FUZZ_OP_READ,
	    FUZZ_OP_RELEASE, FUZZ_OP_READ)
	name = "07-raw-garbage";
	S(FUZZ_M_RAW, 5, 0x16, 0x03, 0x01, 0x00, 0x10, 3, 1, 2, 3, 0)
	name = "08-hello-flip";
	S(FUZZ_M_HELLO, 0, 40, 0x01, 5, 0x14, 0x03, 0x03, 0x00, 0x01, 0)
	seed_client_hello(dir, "09-clienthello-full", 0);
	seed_client_hello(dir, "10-clienthello-resume", 1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds;

	(void)argc;
	(void)argv;
	fuzz_init();
	if ((seeds = getenv("SECD_FUZZ_CONN_SEEDS")) != NULL) {
		seed_all(seeds);
		exit(0);
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode;

	if (F.w == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	if (in_byte(&in, &mode) != 0)
		return (0);
	switch (mode % FUZZ_M_COUNT) {
	case FUZZ_M_RAW:
		fuzz_mode_raw(&in, 0);
		break;
	case FUZZ_M_HELLO:
		fuzz_mode_raw(&in, 1);
		break;
	default:
		fuzz_mode_script(&in);
		break;
	}
	return (0);
}
