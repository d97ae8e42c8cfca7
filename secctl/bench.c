/*
 * bench.c: secctl bench, a load generator that speaks secd's protocol.
 *
 * One thread per connection, each a blocking client (the same TLS channel
 * and codec as every other command), keeping --inflight requests
 * outstanding.  Latencies go into a log-linear histogram per thread (16
 * buckets per power of two, so about 6% resolution at any scale), merged
 * at the end for the percentiles; nothing grows with the number of
 * requests.  It stops at --duration or --count, whichever comes first.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "secctl.h"

#define BENCH_MAX_CONNS 4096
#define BENCH_MAX_INFLIGHT 256
#define BENCH_SUB 16			/* buckets per power of two */
#define BENCH_BUCKETS (BENCH_SUB + 44 * BENCH_SUB)
#define BENCH_ERR_TRANSPORT MSG_ERR_COUNT	/* slot for non-protocol errors */

enum bench_mode {
	BENCH_HANDSHAKE,
	BENCH_PING,
	BENCH_BALANCE,
	BENCH_TRANSFER
};

static const char *const bench_mode_names[] = {
	"handshake", "ping", "balance", "transfer"
};

struct bench_hist {
	uint64_t b[BENCH_BUCKETS];
	uint64_t n;
	uint64_t max_us;
};

struct bench {
	const struct opts *o;
	enum bench_mode mode;
	unsigned conns;
	unsigned inflight;
	double seconds;
	uint64_t count;			/* 0: no limit */
	const char *prefix;		/* accounts PREFIX000..; NULL: -a */
	unsigned naccounts;
	char password[MSG_PASSWORD_MAX + 2];
	_Atomic int64_t deadline_ns;	/* CLOCK_MONOTONIC; set once every
					   connection is ready */
	pthread_barrier_t ready;	/* connections set up, then measure */
	atomic_uint_fast64_t issued;	/* requests started, for --count */
	atomic_int stop;
	struct bench_hist hist;
	uint64_t ok;
	uint64_t errors[MSG_ERR_COUNT + 1];
	char first_error[256];
};

struct bench_thread {
	struct bench *b;
	unsigned index;
	pthread_t tid;
	struct bench_hist hist;
	uint64_t ok;
	uint64_t errors[MSG_ERR_COUNT + 1];
	char first_error[256];
};

static uint64_t
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned
bench_bucket(uint64_t v)
{
	unsigned e;

	if (v < BENCH_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* >= 4 */
	if (e > 47)
		return BENCH_BUCKETS - 1;
	return BENCH_SUB + (e - 4) * BENCH_SUB +
	    (unsigned)((v >> (e - 4)) & (BENCH_SUB - 1));
}

/* The smallest value in bucket i. */
static uint64_t
bench_bucket_value(unsigned i)
{
	unsigned e, m;

	if (i < BENCH_SUB)
		return i;
	e = (i - BENCH_SUB) / BENCH_SUB + 4;
	m = (i - BENCH_SUB) % BENCH_SUB;
	return (uint64_t)(BENCH_SUB + m) << (e - 4);
}

static void
bench_hist_add(struct bench_hist *h, uint64_t us)
{
	h->b[bench_bucket(us)]++;
	h->n++;
	if (us > h->max_us)
		h->max_us = us;
}

static double
bench_percentile_ms(const struct bench_hist *h, double p)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (i = 0; i < BENCH_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return (double)bench_bucket_value(i) / 1000.0;
	}
	return (double)h->max_us / 1000.0;
}

static int
bench_should_stop(struct bench *b)
{
	if (atomic_load(&b->stop))
		return 1;
	if ((int64_t)bench_now_us() * 1000 >= atomic_load(&b->deadline_ns)) {
		atomic_store(&b->stop, 1);
		return 1;
	}
	return 0;
}

/* Claim the right to start one more request under --count. */
static int
bench_claim(struct bench *b)
{
	if (b->count == 0)
		return 1;
	return atomic_fetch_add(&b->issued, 1) < b->count;
}

static void
bench_fail(struct bench_thread *t, unsigned slot, const char *why)
{
	t->errors[slot]++;
	if (t->first_error[0] == '\0')
		snprintf(t->first_error, sizeof(t->first_error), "%.255s", why);
}

/* The account of connection i; the prefix is at most 32 bytes, so the
   name always fits MSG_ACCOUNT_MAX. */
static void
bench_account(const struct bench *b, unsigned i, char *out, size_t size)
{
	char name[48];
	const char *src = b->o->account;
	size_t n;

	if (b->prefix != NULL) {
		snprintf(name, sizeof(name), "%.32s%03u", b->prefix,
		    i % b->naccounts);
		src = name;
	}
	n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(out, src, n);
	out[n] = '\0';
}

static int
bench_login(struct bench_thread *t, struct client *cl)
{
	struct bench *b = t->b;
	struct msg_request req;
	struct msg_reply rep;
	char err[256];
	int rc;

	msg_request_init(&req);
	msg_request_set_op(&req, "login");
	bench_account(b, t->index, req.u.login.account,
	    sizeof(req.u.login.account));
	/* read_password() checked it is at most MSG_PASSWORD_MAX bytes. */
	req.u.login.password_len = strnlen(b->password, MSG_PASSWORD_MAX);
	memcpy(req.u.login.password, b->password, req.u.login.password_len);
	req.u.login.password[req.u.login.password_len] = '\0';
	rc = client_request(cl, &req, &rep, err, sizeof(err));
	msg_request_clear(&req);
	if (rc != 0) {
		bench_fail(t, BENCH_ERR_TRANSPORT, err);
		return -1;
	}
	if (rep.error.code != MSG_ERR_NONE) {
		bench_fail(t, rep.error.code, rep.error.message);
		msg_reply_clear(&rep);
		return -1;
	}
	msg_reply_clear(&rep);
	return 0;
}

/* Encode request number seq of thread t into buf. */
static int
bench_encode(struct bench_thread *t, uint64_t seq, struct codec_buf *buf)
{
	struct bench *b = t->b;
	struct msg_request req;
	int rc;

	msg_request_init(&req);
	msg_id_set_int(&req.id, (int64_t)(seq % 1000000000000ull));
	if (b->mode == BENCH_TRANSFER) {
		msg_request_set_op(&req, "transfer");
		bench_account(b, t->index + 1, req.u.transfer.to,
		    sizeof(req.u.transfer.to));
		req.u.transfer.amount = 1;
		snprintf(req.u.transfer.idempotency_key,
		    sizeof(req.u.transfer.idempotency_key), "bench-%ld-%u-%llu",
		    (long)getpid(), t->index, (unsigned long long)seq);
	} else {
		msg_request_set_op(&req, b->mode == BENCH_PING ? "ping" :
		    "balance");
	}
	rc = codec_encode_request(buf, &req);
	msg_request_clear(&req);
	return rc;
}

static enum msg_op
bench_op(const struct bench *b)
{
	return b->mode == BENCH_TRANSFER ? MSG_OP_TRANSFER :
	    b->mode == BENCH_PING ? MSG_OP_PING : MSG_OP_BALANCE;
}

/* One connection's request loop; returns when told to stop or on error. */
static void
bench_requests(struct bench_thread *t, struct client *cl)
{
	struct bench *b = t->b;
	uint64_t sent_at[BENCH_MAX_INFLIGHT], seq = 0, head = 0;
	unsigned outstanding = 0;
	struct codec_buf buf;
	struct codec_error cerr;
	struct msg_reply rep;
	const char *line;
	size_t len;
	char err[256];

	codec_buf_init(&buf);
	for (;;) {
		/* Fill the window, unless the run is over. */
		while (outstanding < b->inflight && !bench_should_stop(b) &&
		    bench_claim(b)) {
			codec_buf_reset(&buf);
			if (bench_encode(t, seq, &buf) != 0 ||
			    client_send_line(cl, buf.data, buf.len, err,
			    sizeof(err)) != 0) {
				bench_fail(t, BENCH_ERR_TRANSPORT, err);
				goto out;
			}
			sent_at[seq % BENCH_MAX_INFLIGHT] = bench_now_us();
			seq++;
			outstanding++;
		}
		if (outstanding == 0)
			break;
		/* Replies come in request order. */
		if (client_recv_line(cl, &line, &len, err, sizeof(err)) != 0) {
			bench_fail(t, BENCH_ERR_TRANSPORT, err);
			goto out;
		}
		bench_hist_add(&t->hist, bench_now_us() -
		    sent_at[head % BENCH_MAX_INFLIGHT]);
		head++;
		outstanding--;
		if (codec_decode_reply(line, len, bench_op(b), &rep,
		    &cerr) != 0) {
			bench_fail(t, BENCH_ERR_TRANSPORT, cerr.message);
			goto out;
		}
		if (rep.error.code == MSG_ERR_NONE)
			t->ok++;
		else
			bench_fail(t, rep.error.code, rep.error.message);
		msg_reply_clear(&rep);
	}
out:
	codec_buf_free(&buf);
}

static void *
bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;
	struct client *cl;
	uint64_t start;
	char err[512];

	if (b->mode == BENCH_HANDSHAKE) {
		pthread_barrier_wait(&b->ready);
		while (!bench_should_stop(b) && bench_claim(b)) {
			start = bench_now_us();
			if ((cl = client_open(&b->o->c, err, sizeof(err))) ==
			    NULL) {
				bench_fail(t, BENCH_ERR_TRANSPORT, err);
				continue;
			}
			bench_hist_add(&t->hist, bench_now_us() - start);
			t->ok++;
			client_close(cl);
		}
		return NULL;
	}
	/*
	 * Connecting and logging in (a password hash each) are set-up, not
	 * what is measured: every thread gets there before the clock starts.
	 */
	cl = client_open(&b->o->c, err, sizeof(err));
	if (cl == NULL)
		bench_fail(t, BENCH_ERR_TRANSPORT, err);
	else if (b->mode != BENCH_PING && bench_login(t, cl) != 0) {
		client_close(cl);
		cl = NULL;
	}
	pthread_barrier_wait(&b->ready);
	if (cl != NULL) {
		bench_requests(t, cl);
		client_close(cl);
	}
	return NULL;
}

static int
bench_parse_uint(const char *name, const char *s, unsigned long max,
    unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out < 1 || *out > max) {
		fprintf(stderr, "secctl bench: --%s takes 1 to %lu\n", name, max);
		return -1;
	}
	return 0;
}

static void
bench_report(const struct bench *b, double elapsed)
{
	const struct bench_hist *h = &b->hist;
	double rate = elapsed > 0 ? (double)b->ok / elapsed : 0;
	unsigned i;
	int any = 0;

	if (b->o->json) {
		printf("{\"mode\":\"%s\",\"connections\":%u,\"inflight\":%u,"
		    "\"seconds\":%.3f,\"ok\":%llu,\"per_second\":%.1f,"
		    "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
		    "\"p99.9\":%.3f,\"max\":%.3f},\"errors\":{",
		    bench_mode_names[b->mode], b->conns, b->inflight, elapsed,
		    (unsigned long long)b->ok, rate,
		    bench_percentile_ms(h, 50), bench_percentile_ms(h, 90),
		    bench_percentile_ms(h, 99), bench_percentile_ms(h, 99.9),
		    (double)h->max_us / 1000.0);
		for (i = 1; i <= MSG_ERR_COUNT; i++)
			if (b->errors[i] > 0)
				printf("%s\"%s\":%llu", any++ ? "," : "",
				    i == BENCH_ERR_TRANSPORT ? "transport" :
				    msg_err_name((enum msg_err)i),
				    (unsigned long long)b->errors[i]);
		printf("}}\n");
		return;
	}
	printf("%s: %u connections, %u in flight each, %.2f s\n",
	    bench_mode_names[b->mode], b->conns, b->inflight, elapsed);
	printf("  ok          %llu (%.1f/s)\n", (unsigned long long)b->ok,
	    rate);
	printf("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  "
	    "max %.3f\n", bench_percentile_ms(h, 50),
	    bench_percentile_ms(h, 90), bench_percentile_ms(h, 99),
	    bench_percentile_ms(h, 99.9), (double)h->max_us / 1000.0);
	printf("  errors     ");
	for (i = 1; i <= MSG_ERR_COUNT; i++)
		if (b->errors[i] > 0)
			printf(" %s %llu", i == BENCH_ERR_TRANSPORT ?
			    "transport" : msg_err_name((enum msg_err)i),
			    (unsigned long long)b->errors[i]), any = 1;
	printf("%s\n", any ? "" : " none");
	if (b->first_error[0] != '\0')
		printf("  first error %s\n", b->first_error);
}

int
bench_main(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "connections", required_argument, NULL, 'c' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "accounts", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct bench *b;
	struct bench_thread *th;
	struct timespec t0, t1;
	unsigned long v;
	char *colon;
	unsigned i, j, started = 0;
	int ch, rc = EX_OK;
	double elapsed;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return EX_LOCAL;
	b->o = o;
	b->mode = BENCH_BALANCE;
	b->conns = 50;
	b->inflight = 1;
	b->seconds = 10;
	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < 4; i++)
				if (strcmp(optarg, bench_mode_names[i]) == 0)
					break;
			if (i == 4) {
				fprintf(stderr, "secctl bench: --mode is "
				    "handshake, ping, balance or transfer\n");
				rc = EX_USAGE;
				goto out;
			}
			b->mode = (enum bench_mode)i;
			break;
		case 'c':
			if (bench_parse_uint("connections", optarg,
			    BENCH_MAX_CONNS, &v) != 0)
				goto usage;
			b->conns = (unsigned)v;
			break;
		case 'i':
			if (bench_parse_uint("inflight", optarg,
			    BENCH_MAX_INFLIGHT, &v) != 0)
				goto usage;
			b->inflight = (unsigned)v;
			break;
		case 'd':
			if (bench_parse_uint("duration", optarg, 3600, &v) != 0)
				goto usage;
			b->seconds = (double)v;
			break;
		case 'n':
			if (bench_parse_uint("count", optarg, 1000000000ul,
			    &v) != 0)
				goto usage;
			b->count = v;
			break;
		case 'A':
			/* PREFIX:N, accounts PREFIX000 .. PREFIX(N-1). */
			if ((colon = strrchr(optarg, ':')) == NULL ||
			    colon == optarg || colon - optarg > 32 ||
			    bench_parse_uint("accounts", colon + 1, 1000,
			    &v) != 0)
				goto usage;
			*colon = '\0';
			b->prefix = optarg;
			b->naccounts = (unsigned)v;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if ((b->mode == BENCH_BALANCE || b->mode == BENCH_TRANSFER) &&
	    o->account == NULL && b->prefix == NULL) {
		fprintf(stderr, "secctl bench: --mode %s needs -a ACCOUNT or "
		    "--accounts PREFIX:N\n", bench_mode_names[b->mode]);
		goto usage;
	}
	if (b->mode == BENCH_TRANSFER && b->prefix == NULL) {
		fprintf(stderr, "secctl bench: --mode transfer needs "
		    "--accounts PREFIX:N (at least 2)\n");
		goto usage;
	}
	if (b->mode == BENCH_TRANSFER && b->naccounts < 2) {
		fprintf(stderr, "secctl bench: transfers need 2 accounts or "
		    "more\n");
		goto usage;
	}
	/* With --cert and no password given, certificate logins. */
	if ((b->mode == BENCH_BALANCE || b->mode == BENCH_TRANSFER) &&
	    password_wanted(o) &&
	    read_password(o, b->password, sizeof(b->password)) != 0) {
		rc = EX_LOCAL;
		goto out;
	}
	if ((th = calloc(b->conns, sizeof(*th))) == NULL) {
		rc = EX_LOCAL;
		goto out;
	}
	/* Until the barrier opens, no deadline can pass. */
	atomic_store(&b->deadline_ns, INT64_MAX);
	pthread_barrier_init(&b->ready, NULL, b->conns + 1);
	for (i = 0; i < b->conns; i++) {
		th[i].b = b;
		th[i].index = i;
		if (pthread_create(&th[i].tid, NULL, bench_thread_main,
		    &th[i]) != 0) {
			/* The barrier counts on every thread: give up. */
			fprintf(stderr, "secctl bench: cannot start thread %u\n",
			    i);
			exit(EX_LOCAL);
		}
		started++;
	}
	pthread_barrier_wait(&b->ready);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	atomic_store(&b->deadline_ns, (int64_t)t0.tv_sec * 1000000000 +
	    t0.tv_nsec + (int64_t)(b->seconds * 1e9));
	for (i = 0; i < started; i++) {
		pthread_join(th[i].tid, NULL);
		for (j = 0; j < BENCH_BUCKETS; j++)
			b->hist.b[j] += th[i].hist.b[j];
		b->hist.n += th[i].hist.n;
		if (th[i].hist.max_us > b->hist.max_us)
			b->hist.max_us = th[i].hist.max_us;
		b->ok += th[i].ok;
		for (j = 0; j <= MSG_ERR_COUNT; j++)
			b->errors[j] += th[i].errors[j];
		if (b->first_error[0] == '\0' && th[i].first_error[0] != '\0')
			memcpy(b->first_error, th[i].first_error,
			    sizeof(b->first_error));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	bench_report(b, elapsed);
	for (j = 1; j <= MSG_ERR_COUNT; j++)
		if (b->errors[j] > 0)
			rc = EX_REFUSED;
	free(th);
	pthread_barrier_destroy(&b->ready);
	goto out;
usage:
	fprintf(stderr, "usage: secctl [-s HOST:PORT] --ca FILE [-a ACCOUNT] "
	    "bench [--mode handshake|ping|balance|transfer]\n"
	    "       [--connections N] [--inflight N] [--duration SECONDS] "
	    "[--count N]\n       [--accounts PREFIX:N]\n");
	rc = EX_USAGE;
out:
	wipe(b->password, sizeof(b->password));
	free(b);
	return rc;
}
