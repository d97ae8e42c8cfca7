/*
 * bench.c: secctl bench, a load generator that speaks secd's protocol.
 *
 * This file is the command: options, the checks that are cheaper before
 * a run than during it (accounts, password, file descriptors, source
 * addresses), the threads, the clock, and the report.  The connections
 * themselves live in bench_loop.c: --threads event loops, each owning a
 * share of them.
 *
 * A run has three phases (enum bench_phase).  SETUP: every connection
 * connects, handshakes, reads the greeting and logs in; none of that is
 * measured (a login costs a password hash).  RUN starts the clock once
 * every thread is set up, and lasts until --duration, --count, or SIGINT /
 * SIGTERM.  STOP: nothing new is sent, the replies in flight are awaited
 * (and counted), and the loops close.  Handshake mode has no set-up: every
 * connect-handshake-greeting is what is measured.  Hold mode spends RUN
 * pinging each session every --ping-interval, and STOP pings each once
 * more, to report how many still answer.
 *
 * The clock covers the first request sent to the last reply received;
 * throughput is ok replies over that time.  Latencies go into a histogram
 * per thread (bench_hist.c), merged at the end.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "codec.h"
#include "tls.h"

const char *const bench_mode_names[BENCH_NMODES] = {
	"handshake", "ping", "balance", "transfer", "hold"
};

static volatile sig_atomic_t bench_interrupted;

static void
bench_sig_handler(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

static int
bench_parse_uint(const char *name, const char *s, unsigned long max,
    unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '-' || *out < 1 ||
	    *out > max) {
		fprintf(stderr, "secctl bench: --%s takes 1 to %lu\n", name, max);
		return -1;
	}
	return 0;
}

static int
bench_parse_seconds(const char *name, const char *s, double min, double max,
    double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(*out >= min) ||
	    *out > max) {
		fprintf(stderr, "secctl bench: --%s takes %g to %g seconds\n",
		    name, min, max);
		return -1;
	}
	return 0;
}

/* Split "host:port" / "[v6]:port". */
static int
bench_split(const char *server, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *end;

	if (server[0] == '[') {
		if ((end = strchr(server, ']')) == NULL || end[1] != ':' ||
		    (size_t)(end - server - 1) >= hostlen)
			return -1;
		memcpy(host, server + 1, (size_t)(end - server - 1));
		host[end - server - 1] = '\0';
		colon = end + 1;
	} else {
		if ((colon = strrchr(server, ':')) == NULL || colon == server ||
		    (size_t)(colon - server) >= hostlen)
			return -1;
		memcpy(host, server, (size_t)(colon - server));
		host[colon - server] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= portlen)
		return -1;
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

/* The server's address, once for every connection; IPv4 with sources. */
static int
bench_resolve(struct bench *b, int want_v4)
{
	const char *server = b->o->c.server;
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	int rc;

	if (bench_split(server, host, sizeof(host), port, sizeof(port)) != 0) {
		fprintf(stderr, "secctl bench: '%s' is not HOST:PORT or "
		    "[IPV6]:PORT\n", server);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = want_v4 ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "secctl bench: %s: %s%s\n", server,
		    gai_strerror(rc), want_v4 ? " (source addresses need an "
		    "IPv4 server)" : "");
		return -1;
	}
	memcpy(&b->server, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	snprintf(b->server_name, sizeof(b->server_name), "%s",
	    b->o->c.servername != NULL ? b->o->c.servername : host);
	return 0;
}

static int
bench_server_is_loopback4(const struct bench *b)
{
	const struct sockaddr_in *sin = (const void *)&b->server;

	return b->server.ss_family == AF_INET &&
	    (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

/* How many ephemeral ports one source address has for one server. */
static unsigned
bench_port_range(void)
{
	FILE *f;
	unsigned lo, hi;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) ==
	    NULL)
		return 28232;
	if (fscanf(f, "%u %u", &lo, &hi) != 2 || hi < lo) {
		fclose(f);
		return 28232;
	}
	fclose(f);
	return hi - lo + 1;
}

/* first .. first+n-1 as source addresses. */
static int
bench_set_sources(struct bench *b, uint32_t first, unsigned n)
{
	unsigned i;

	if ((b->sources = calloc(n, sizeof(*b->sources))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		b->sources[i].sin_family = AF_INET;
		b->sources[i].sin_addr.s_addr = htonl(first + i);
	}
	b->nsources = n;
	return 0;
}

/* "A-B": an inclusive range of IPv4 addresses. */
static int
bench_parse_range(const char *s, uint32_t *first, unsigned *n)
{
	char a[INET_ADDRSTRLEN], *dash;
	struct in_addr lo, hi;

	if ((dash = strchr(s, '-')) == NULL ||
	    (size_t)(dash - s) >= sizeof(a))
		goto bad;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	if (inet_pton(AF_INET, a, &lo) != 1 ||
	    inet_pton(AF_INET, dash + 1, &hi) != 1 ||
	    ntohl(hi.s_addr) < ntohl(lo.s_addr) ||
	    ntohl(hi.s_addr) - ntohl(lo.s_addr) >= BENCH_MAX_SOURCES)
		goto bad;
	*first = ntohl(lo.s_addr);
	*n = ntohl(hi.s_addr) - ntohl(lo.s_addr) + 1;
	return 0;
bad:
	fprintf(stderr, "secctl bench: --source-range takes FIRST-LAST, IPv4 "
	    "addresses, at most %d of them (127.0.0.2-127.0.0.50)\n",
	    BENCH_MAX_SOURCES);
	return -1;
}

/*
 * Every connection is a descriptor: raise the soft limit to the hard one,
 * and say plainly when even that is too low.
 */
static int
bench_raise_nofile(const struct bench *b)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)b->conns + 32 + 8 * (rlim_t)b->nthreads;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "secctl bench: getrlimit: %s\n",
		    strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		fprintf(stderr, "secctl bench: %u connections need about %llu "
		    "file descriptors, but the limit (RLIMIT_NOFILE, hard "
		    "%llu) allows %llu: raise the hard limit (as root: "
		    "ulimit -Hn, LimitNOFILE= in a unit, or "
		    "/etc/security/limits.conf) or use fewer connections\n",
		    b->conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max,
		    (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static double
bench_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Three decimals, so that JSON numbers print as a person would write them. */
static json_t *
bench_json_ms(uint64_t ns)
{
	return json_real(round((double)ns / 1e3) / 1e3);
}

static void
bench_report_json(const struct bench *b, const struct bench_stats *s,
    double elapsed, double rate)
{
	const struct bench_hist *h = &s->hist;
	json_t *o, *lat, *err, *terr;
	char *text;
	unsigned i;

	lat = json_pack("{s:o,s:o,s:o,s:o,s:o}",
	    "p50", bench_json_ms(bench_hist_percentile(h, 50)),
	    "p90", bench_json_ms(bench_hist_percentile(h, 90)),
	    "p99", bench_json_ms(bench_hist_percentile(h, 99)),
	    "p99.9", bench_json_ms(bench_hist_percentile(h, 99.9)),
	    "max", bench_json_ms(h->max));
	err = json_object();
	for (i = 1; i <= MSG_ERR_COUNT; i++)
		if (s->errors[i] > 0)
			json_object_set_new(err, i == BENCH_ERR_TRANSPORT ?
			    "transport" : msg_err_name((enum msg_err)i),
			    json_integer((json_int_t)s->errors[i]));
	terr = json_object();
	for (i = 0; i < BENCH_T_COUNT; i++)
		if (s->terrors[i] > 0)
			json_object_set_new(terr, bench_terr_names[i],
			    json_integer((json_int_t)s->terrors[i]));
	o = json_pack("{s:s,s:I,s:I,s:I,s:f,s:I,s:f,s:o,s:o,s:o,s:I,s:I,"
	    "s:I,s:I,s:I,s:I}",
	    "mode", bench_mode_names[b->mode],
	    "connections", (json_int_t)b->conns,
	    "inflight", (json_int_t)(b->mode == BENCH_HANDSHAKE ||
	    b->mode == BENCH_HOLD ? 1 : b->inflight),
	    "threads", (json_int_t)b->nthreads,
	    "seconds", round(elapsed * 1e3) / 1e3,
	    "ok", (json_int_t)s->ok,
	    "per_second", round(rate * 10) / 10,
	    "latency_ms", lat,
	    "errors", err,
	    "transport_errors", terr,
	    "sent", (json_int_t)s->sent,
	    "received", (json_int_t)s->received,
	    "connected", (json_int_t)s->connected,
	    "logged_in", (json_int_t)s->logged_in,
	    "failed", (json_int_t)s->failed,
	    "sources", (json_int_t)b->nsources);
	if (o == NULL) {
		fprintf(stderr, "secctl bench: out of memory\n");
		return;
	}
	if (b->mode == BENCH_HANDSHAKE)
		json_object_set_new(o, "resumed",
		    json_integer((json_int_t)s->resumed));
	if (b->mode == BENCH_HOLD) {
		json_object_set_new(o, "held",
		    json_integer((json_int_t)s->held));
		json_object_set_new(o, "answering",
		    json_integer((json_int_t)s->answering));
	}
	if (s->first_error[0] != '\0')
		json_object_set_new(o, "first_error",
		    json_string(s->first_error));
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

static void
bench_report(const struct bench *b, const struct bench_stats *s,
    double elapsed)
{
	const struct bench_hist *h = &s->hist;
	double rate = elapsed > 0 ? (double)s->ok / elapsed : 0;
	char a[INET_ADDRSTRLEN], z[INET_ADDRSTRLEN];
	unsigned i;
	int any = 0;

	if (b->json) {
		bench_report_json(b, s, elapsed, rate);
		return;
	}
	printf("%s: %u connections", bench_mode_names[b->mode], b->conns);
	if (b->mode != BENCH_HANDSHAKE && b->mode != BENCH_HOLD)
		printf(", %u in flight each", b->inflight);
	printf(", %u thread%s, %.2f s\n", b->nthreads,
	    b->nthreads == 1 ? "" : "s", elapsed);
	if (b->mode == BENCH_HOLD) {
		printf("  held        %llu sessions at the end, %llu answered "
		    "the last ping\n", (unsigned long long)s->held,
		    (unsigned long long)s->answering);
		printf("  pings       %llu ok (%.1f/s)\n",
		    (unsigned long long)s->ok, rate);
	} else if (b->mode == BENCH_HANDSHAKE) {
		printf("  ok          %llu handshakes (%.1f/s)",
		    (unsigned long long)s->ok, rate);
		if (b->resume)
			printf(", %llu resumed", (unsigned long long)s->resumed);
		printf("\n");
	} else
		printf("  ok          %llu (%.1f/s)\n",
		    (unsigned long long)s->ok, rate);
	printf("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  "
	    "max %.3f\n", bench_ms(bench_hist_percentile(h, 50)),
	    bench_ms(bench_hist_percentile(h, 90)),
	    bench_ms(bench_hist_percentile(h, 99)),
	    bench_ms(bench_hist_percentile(h, 99.9)), bench_ms(h->max));
	printf("  errors     ");
	for (i = 1; i < MSG_ERR_COUNT; i++)
		if (s->errors[i] > 0)
			printf(" %s %llu", msg_err_name((enum msg_err)i),
			    (unsigned long long)s->errors[i]), any = 1;
	for (i = 0; i < BENCH_T_COUNT; i++)
		if (s->terrors[i] > 0)
			printf(" transport/%s %llu", bench_terr_names[i],
			    (unsigned long long)s->terrors[i]), any = 1;
	printf("%s\n", any ? "" : " none");
	if (b->mode == BENCH_HANDSHAKE)
		printf("  attempts    %llu, %llu completed\n",
		    (unsigned long long)s->sent,
		    (unsigned long long)s->received);
	else {
		printf("  connections %llu connected", (unsigned long long)
		    s->connected);
		if (b->login)
			printf(", %llu logged in", (unsigned long long)
			    s->logged_in);
		printf(", %llu failed\n", (unsigned long long)s->failed);
		printf("  requests    %llu sent, %llu answered\n",
		    (unsigned long long)s->sent,
		    (unsigned long long)s->received);
	}
	if (b->nsources > 0) {
		inet_ntop(AF_INET, &b->sources[0].sin_addr, a, sizeof(a));
		inet_ntop(AF_INET, &b->sources[b->nsources - 1].sin_addr, z,
		    sizeof(z));
		printf("  sources     %s-%s (%u)\n", a, z, b->nsources);
	}
	if (s->first_error[0] != '\0')
		printf("  first error %s\n", s->first_error);
}

static void
bench_usage(void)
{
	fprintf(stderr,
"usage: secctl [-s HOST:PORT] --ca FILE [-a ACCOUNT] [--json] bench\n"
"       [--mode handshake|ping|balance|transfer|hold] [--connections N]\n"
"       [--inflight N] [--duration SECONDS] [--count N]\n"
"       [--accounts PREFIX:N] [--threads N] [--sources N]\n"
"       [--source-range FIRST-LAST] [--resume] [--hold N]\n"
"       [--ping-interval SECONDS] [--json]\n");
}

static void
bench_wake_all(struct bench *b, unsigned n, enum bench_phase p)
{
	unsigned i;

	atomic_store(&b->phase, (int)p);
	for (i = 0; i < n; i++)
		bench_thread_wake(&b->th[i]);
}

static void
bench_progress(const struct bench *b, unsigned n, double t)
{
	uint64_t ready = 0, ok = 0, errs = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		ready += atomic_load_explicit(&b->th[i].prog_ready,
		    memory_order_relaxed);
		ok += atomic_load_explicit(&b->th[i].prog_ok,
		    memory_order_relaxed);
		errs += atomic_load_explicit(&b->th[i].prog_errors,
		    memory_order_relaxed);
	}
	fprintf(stderr, "secctl bench: %6.1f s  %llu of %u sessions open, "
	    "%llu pings answered, %llu errors\n", t,
	    (unsigned long long)ready, b->conns, (unsigned long long)ok,
	    (unsigned long long)errs);
}

/*
 * Wait on b->cond until *counter reaches n, the deadline (uv_hrtime, 0:
 * none) passes, or a signal arrives; in hold mode print progress every
 * interval.  Called with b->lock held.
 */
static void
bench_wait(struct bench *b, const unsigned *counter, unsigned n,
    uint64_t deadline, uint64_t t0)
{
	uint64_t now, next = uv_hrtime() + (uint64_t)b->ping_ms * 1000000u,
	    step;

	while (*counter < n && !bench_interrupted) {
		now = uv_hrtime();
		if (deadline != 0 && now >= deadline)
			break;
		if (b->mode == BENCH_HOLD && now >= next) {
			bench_progress(b, n, (double)(now - t0) / 1e9);
			next = now + (uint64_t)b->ping_ms * 1000000u;
		}
		step = 100000000u;	/* a tenth of a second: signals */
		if (deadline != 0 && deadline - now < step)
			step = deadline - now;
		(void)uv_cond_timedwait(&b->cond, &b->lock, step);
	}
}

/* Run the threads; the merged results in *s, the measured time in *el. */
static int
bench_run(struct bench *b, struct bench_stats *s, double *elapsed)
{
	struct sigaction sa, old_int, old_term;
	sigset_t block, prev;
	uint64_t t0, start = 0, end = 0, deadline;
	unsigned i, j, started = 0;
	int rc = 0;

	if ((b->th = calloc(b->nthreads, sizeof(*b->th))) == NULL)
		return -1;
	for (i = 0; i < b->nthreads; i++) {
		b->th[i].b = b;
		b->th[i].index = i;
		b->th[i].first = (unsigned)((uint64_t)i * b->conns /
		    b->nthreads);
		b->th[i].nconns = (unsigned)((uint64_t)(i + 1) * b->conns /
		    b->nthreads) - b->th[i].first;
		if (bench_thread_init(&b->th[i]) != 0) {
			rc = -1;
			goto out;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_sig_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* Signals are for this thread, which watches the clock. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &prev);
	atomic_store(&b->phase, BENCH_P_SETUP);
	t0 = uv_hrtime();
	for (i = 0; i < b->nthreads; i++) {
		if (uv_thread_create(&b->th[i].tid, bench_thread_main,
		    &b->th[i]) != 0) {
			fprintf(stderr, "secctl bench: cannot start thread "
			    "%u\n", i);
			rc = -1;
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &prev, NULL);

	uv_mutex_lock(&b->lock);
	if (rc == 0)
		bench_wait(b, &b->ready, started, 0, t0);
	if (rc == 0 && !bench_interrupted) {
		uv_mutex_unlock(&b->lock);
		start = uv_hrtime();
		bench_wake_all(b, started, BENCH_P_RUN);
		deadline = start + (uint64_t)(b->seconds * 1e9);
		uv_mutex_lock(&b->lock);
		bench_wait(b, &b->done, started, deadline, start);
	}
	uv_mutex_unlock(&b->lock);
	bench_wake_all(b, started, BENCH_P_STOP);
	for (i = 0; i < started; i++)
		uv_thread_join(&b->th[i].tid);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	for (i = 0; i < started; i++) {
		struct bench_stats *ts = &b->th[i].st;

		bench_hist_merge(&s->hist, &ts->hist);
		s->sent += ts->sent;
		s->received += ts->received;
		s->ok += ts->ok;
		for (j = 0; j <= MSG_ERR_COUNT; j++)
			s->errors[j] += ts->errors[j];
		for (j = 0; j < BENCH_T_COUNT; j++)
			s->terrors[j] += ts->terrors[j];
		s->connected += ts->connected;
		s->logged_in += ts->logged_in;
		s->failed += ts->failed;
		s->resumed += ts->resumed;
		s->held += ts->held;
		s->answering += ts->answering;
		if (s->first_error[0] == '\0')
			memcpy(s->first_error, ts->first_error,
			    sizeof(s->first_error));
		if (b->th[i].end_ns > end)
			end = b->th[i].end_ns;
	}
	*elapsed = start != 0 && end > start ? (double)(end - start) / 1e9 : 0;
out:
	for (i = 0; i < b->nthreads; i++)
		bench_thread_free(&b->th[i]);
	free(b->th);
	b->th = NULL;
	return rc;
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
		{ "threads", required_argument, NULL, 't' },
		{ "sources", required_argument, NULL, 'S' },
		{ "source-range", required_argument, NULL, 'R' },
		{ "resume", no_argument, NULL, 'r' },
		{ "hold", required_argument, NULL, 'H' },
		{ "ping-interval", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 }
	};
	struct tls_client_config cfg;
	struct bench_stats *s = NULL;
	struct bench *b;
	const char *pins[CLIENT_MAX_PINS + 1];
	char name[MSG_ACCOUNT_MAX + 16], err[512], *colon;
	unsigned long v;
	unsigned i, want_sources = 0, per;
	uint32_t range_first = 0;
	int ch, rc = EX_OK, conns_given = 0;
	double elapsed = 0, ping_s = 5;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return EX_LOCAL;
	b->o = o;
	b->json = o->json;
	b->mode = BENCH_BALANCE;
	b->conns = 50;
	b->inflight = 1;
	/*
	 * One loop per CPU by default: measured on 2 cores, balance over 50
	 * connections with 1 in flight gives 31k/s with one loop and 49k/s
	 * with two (the client's own TLS work is the limit), and the same
	 * with 16 in flight.
	 */
	v = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN);
	b->nthreads = v >= 1 && v <= BENCH_MAX_THREADS ? (unsigned)v : 1;
	b->seconds = 10;
	b->timeout_ms = o->c.timeout_ms > 0 ? (unsigned)o->c.timeout_ms :
	    10000;
	uv_mutex_init(&b->lock);
	uv_cond_init(&b->cond);
	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < BENCH_NMODES; i++)
				if (strcmp(optarg, bench_mode_names[i]) == 0)
					break;
			if (i == BENCH_NMODES) {
				fprintf(stderr, "secctl bench: --mode is "
				    "handshake, ping, balance, transfer or "
				    "hold\n");
				goto usage;
			}
			b->mode = (enum bench_mode)i;
			break;
		case 'c':
		case 'H':
			if (bench_parse_uint(ch == 'c' ? "connections" : "hold",
			    optarg, BENCH_MAX_CONNS, &v) != 0)
				goto usage;
			b->conns = (unsigned)v;
			conns_given = 1;
			if (ch == 'H')
				b->mode = BENCH_HOLD;
			break;
		case 'i':
			if (bench_parse_uint("inflight", optarg,
			    BENCH_MAX_INFLIGHT, &v) != 0)
				goto usage;
			b->inflight = (unsigned)v;
			break;
		case 'd':
			if (bench_parse_seconds("duration", optarg, 0.1, 86400,
			    &b->seconds) != 0)
				goto usage;
			break;
		case 'n':
			if (bench_parse_uint("count", optarg, 1000000000000ul,
			    &v) != 0)
				goto usage;
			b->count = v;
			break;
		case 'A':
			/* PREFIX:N, accounts PREFIX000 .. PREFIX(N-1). */
			if ((colon = strrchr(optarg, ':')) == NULL ||
			    colon == optarg || colon - optarg > 32 ||
			    bench_parse_uint("accounts", colon + 1, 1000000,
			    &v) != 0) {
				fprintf(stderr, "secctl bench: --accounts takes "
				    "PREFIX:N, a prefix of 1 to 32 characters\n");
				goto usage;
			}
			*colon = '\0';
			b->prefix = optarg;
			b->naccounts = (unsigned)v;
			break;
		case 't':
			if (bench_parse_uint("threads", optarg,
			    BENCH_MAX_THREADS, &v) != 0)
				goto usage;
			b->nthreads = (unsigned)v;
			break;
		case 'S':
			if (bench_parse_uint("sources", optarg,
			    BENCH_MAX_SOURCES, &v) != 0)
				goto usage;
			want_sources = (unsigned)v;
			range_first = 0x7f000001;	/* 127.0.0.1 */
			break;
		case 'R':
			if (bench_parse_range(optarg, &range_first,
			    &want_sources) != 0)
				goto usage;
			break;
		case 'r':
			b->resume = 1;
			break;
		case 'p':
			if (bench_parse_seconds("ping-interval", optarg, 0.1,
			    3600, &ping_s) != 0)
				goto usage;
			break;
		case 'J':
			b->json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	b->ping_ms = (unsigned)(ping_s * 1000);
	if (b->mode == BENCH_HOLD && !conns_given) {
		fprintf(stderr, "secctl bench: hold mode needs --hold N (or "
		    "--connections N)\n");
		goto usage;
	}
	if (b->count > 0 && b->mode == BENCH_HOLD) {
		fprintf(stderr, "secctl bench: hold mode runs for --duration, "
		    "not --count\n");
		goto usage;
	}
	if (b->resume && b->mode != BENCH_HANDSHAKE) {
		fprintf(stderr, "secctl bench: --resume is for --mode "
		    "handshake\n");
		goto usage;
	}
	b->login = b->mode == BENCH_BALANCE || b->mode == BENCH_TRANSFER ||
	    b->mode == BENCH_HOLD;
	if (b->login && o->account == NULL && b->prefix == NULL) {
		fprintf(stderr, "secctl bench: --mode %s needs -a ACCOUNT or "
		    "--accounts PREFIX:N\n", bench_mode_names[b->mode]);
		goto usage;
	}
	if (b->mode == BENCH_TRANSFER && (b->prefix == NULL ||
	    b->naccounts < 2)) {
		fprintf(stderr, "secctl bench: --mode transfer needs "
		    "--accounts PREFIX:N with N at least 2\n");
		goto usage;
	}
	/* The names are written into requests unescaped: check them. */
	if (b->prefix != NULL) {
		snprintf(name, sizeof(name), "%s%03u", b->prefix,
		    b->naccounts - 1);
		if (!msg_account_valid(name, strlen(name))) {
			fprintf(stderr, "secctl bench: '%s' is not an account "
			    "name\n", name);
			goto usage;
		}
	} else if (o->account != NULL &&
	    !msg_account_valid(o->account, strlen(o->account))) {
		fprintf(stderr, "secctl bench: '%s' is not an account name\n",
		    o->account);
		goto usage;
	}
	if (o->c.ca_file == NULL) {
		fprintf(stderr, "secctl: --ca FILE is required: secctl always "
		    "verifies secd's certificate\n");
		goto usage;
	}
	if ((o->c.cert_file == NULL) != (o->c.key_file == NULL)) {
		fprintf(stderr, "secctl: --cert and --key go together\n");
		goto usage;
	}
	if (b->nthreads > b->conns)
		b->nthreads = b->conns;

	if (bench_resolve(b, want_sources > 0) != 0) {
		rc = EX_CONNECT;
		goto out;
	}
	per = bench_port_range();
	per = per > 2000 ? per - 1000 : per;	/* leave some to others */
	if (per > BENCH_PORTS_PER_SOURCE)
		per = BENCH_PORTS_PER_SOURCE;
	if (want_sources == 0 && bench_server_is_loopback4(b) &&
	    b->conns > per) {
		want_sources = (b->conns + per - 1) / per;
		range_first = 0x7f000001;
	}
	if (want_sources > 0) {
		if (b->server.ss_family != AF_INET) {
			fprintf(stderr, "secctl bench: source addresses need "
			    "an IPv4 server\n");
			goto usage;
		}
		if (bench_set_sources(b, range_first, want_sources) != 0) {
			rc = EX_LOCAL;
			goto out;
		}
		if ((b->conns + want_sources - 1) / want_sources > per)
			fprintf(stderr, "secctl bench: warning: %u connections "
			    "over %u source addresses: more than the %u "
			    "ephemeral ports each has\n", b->conns,
			    want_sources, per);
	}
	if (bench_raise_nofile(b) != 0) {
		rc = EX_LOCAL;
		goto out;
	}
	/* With --cert and no password given, certificate logins. */
	if (b->login && password_wanted(o)) {
		if (read_password(o, b->password, sizeof(b->password)) != 0) {
			rc = EX_LOCAL;
			goto out;
		}
		b->password_len = strnlen(b->password, MSG_PASSWORD_MAX);
	}
	snprintf(b->key_tag, sizeof(b->key_tag), "b%lx%lx",
	    (unsigned long)time(NULL), (unsigned long)getpid());

	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = o->c.ca_file;
	cfg.cert_file = o->c.cert_file;
	cfg.key_file = o->c.key_file;
	for (i = 0; i < o->c.npins; i++)
		pins[i] = o->c.pins[i];
	pins[o->c.npins] = NULL;
	cfg.pins = o->c.npins > 0 ? pins : NULL;
	if ((b->ctx = tls_ctx_new_client(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "secctl bench: %s\n", err);
		rc = EX_CONNECT;
		goto out;
	}
	/* What a peer closing on us must not do to the whole process. */
	signal(SIGPIPE, SIG_IGN);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    bench_run(b, s, &elapsed) != 0) {
		rc = EX_LOCAL;
		goto out;
	}
	bench_report(b, s, elapsed);
	for (i = 1; i <= MSG_ERR_COUNT; i++)
		if (s->errors[i] > 0)
			rc = EX_REFUSED;
	if (b->mode == BENCH_HOLD && s->answering < b->conns)
		rc = EX_REFUSED;
	if (s->ok == 0 && s->errors[BENCH_ERR_TRANSPORT] > 0)
		rc = EX_CONNECT;
	goto out;
usage:
	bench_usage();
	rc = EX_USAGE;
out:
	tls_ctx_free(b->ctx);
	free(s);
	free(b->sources);
	wipe(b->password, sizeof(b->password));
	uv_cond_destroy(&b->cond);
	uv_mutex_destroy(&b->lock);
	free(b);
	return rc;
}
