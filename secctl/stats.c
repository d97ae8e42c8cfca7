/*
 * stats.c: secctl stats, secd's metrics for a person.
 *
 * Fetches /metrics from secd's metrics.listen over plain HTTP/1.0 (the
 * endpoint is meant for loopback; it carries counters, no secrets), with
 * the global --timeout over the whole exchange and a bound on the size of
 * the answer, parses the Prometheus text format strictly (a line that is
 * not a comment or "name{labels} value" is an error, not skipped), and
 * prints a summary: connections, handshakes, TLS parameters, requests by
 * op and code, latency percentiles estimated from the histograms as
 * Prometheus' histogram_quantile() does, the ledger's group commits and
 * reloads.  With --json, every sample as parsed.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "secctl.h"

#define STATS_DEFAULT "127.0.0.1:9443"
#define STATS_MAX_BYTES (4u * 1024 * 1024)	/* whole HTTP answer */
#define STATS_MAX_SAMPLES 20000
#define STATS_MAX_LABELS 8
#define STATS_NAME_MAX 128
#define STATS_LKEY_MAX 32
#define STATS_LVAL_MAX 96

struct stats_sample {
	char name[STATS_NAME_MAX];
	size_t nlabels;
	char key[STATS_MAX_LABELS][STATS_LKEY_MAX];
	char val[STATS_MAX_LABELS][STATS_LVAL_MAX];
	double value;
};

struct stats {
	struct stats_sample *s;
	size_t n, cap;
};

/* ---- fetching ---- */

static int64_t
stats_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split "host:port" or "[v6]:port"; -1 if malformed. */
static int
stats_split(const char *addr, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *colon, *end;

	if (addr[0] == '[') {
		if ((end = strchr(addr, ']')) == NULL || end[1] != ':')
			return -1;
		colon = end + 1;
		if ((size_t)(end - addr - 1) >= hlen)
			return -1;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    (size_t)(colon - addr) >= hlen || colon == addr)
			return -1;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

/* Wait for fd to be ready for events until deadline; -1 on timeout. */
static int
stats_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { fd, events, 0 };
	int64_t left;
	int rc;

	for (;;) {
		if ((left = deadline - stats_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int
stats_connect(const char *host, const char *port, int64_t deadline,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	socklen_t sl;
	int fd = -1, rc, soerr = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s", gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS)
			goto next;
		if (stats_wait(fd, POLLOUT, deadline) != 0)
			goto next;
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			goto next;
		if (soerr != 0) {
			errno = soerr;
			goto next;
		}
		freeaddrinfo(res);
		return fd;
next:
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return -1;
}

/*
 * GET /metrics from addr; the body into a malloc'd NUL-terminated *body.
 * 0, or -1 with a reason in err.
 */
static int
stats_fetch(const char *addr, int timeout_ms, char **body, char *err,
    size_t errlen)
{
	char host[256], port[16], req[512], *buf = NULL, *p, *hend;
	size_t len = 0, cap = 0, off;
	int64_t deadline = stats_now_ms() + timeout_ms;
	ssize_t n;
	int fd, status;

	if (stats_split(addr, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", addr);
		return -1;
	}
	if ((fd = stats_connect(host, port, deadline, err, errlen)) < 0)
		return -1;
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n"
	    "Accept: text/plain\r\nUser-Agent: secctl\r\n\r\n", addr);
	for (off = 0; off < strlen(req); off += (size_t)n) {
		if (stats_wait(fd, POLLOUT, deadline) != 0 ||
		    (n = send(fd, req + off, strlen(req) - off,
		    MSG_NOSIGNAL)) < 0) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			goto fail;
		}
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = p;
		}
		if (stats_wait(fd, POLLIN, deadline) != 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto fail;
		}
		if ((n = recv(fd, buf + len, cap - len - 1, 0)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > STATS_MAX_BYTES) {
			snprintf(err, errlen, "answer larger than %u bytes",
			    STATS_MAX_BYTES);
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	if (buf == NULL) {
		snprintf(err, errlen, "empty answer");
		goto fail;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "answer holds a NUL byte");
		goto fail;
	}
	if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 ||
	    (hend = strstr(buf, "\r\n\r\n")) == NULL) {
		snprintf(err, errlen, "not an HTTP answer");
		goto fail;
	}
	if (status != 200) {
		p = strchr(buf, '\r');
		snprintf(err, errlen, "answered %.*s", (int)(p - buf), buf);
		goto fail;
	}
	off = (size_t)(hend + 4 - buf);
	memmove(buf, buf + off, len - off + 1);
	*body = buf;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return -1;
}

/* ---- parsing ---- */

static int
stats_name_char(int ch, int first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    ch == '_' || ch == ':' || (!first && ch >= '0' && ch <= '9');
}

/* A metric or label name at *p into out; advances *p.  -1 if none. */
static int
stats_parse_name(const char **p, char *out, size_t outlen, int label)
{
	size_t n = 0;

	if (!stats_name_char((unsigned char)**p, 1) || (label && **p == ':'))
		return -1;
	while (stats_name_char((unsigned char)**p, 0) &&
	    !(label && **p == ':')) {
		if (n + 1 >= outlen)
			return -1;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return 0;
}

static int
stats_parse_value(const char *s, double *v)
{
	char *end;

	if (strcmp(s, "+Inf") == 0)
		*v = INFINITY;
	else if (strcmp(s, "-Inf") == 0)
		*v = -INFINITY;
	else if (strcmp(s, "NaN") == 0)
		*v = NAN;
	else {
		if (*s == '\0' || strchr("+-.0123456789", *s) == NULL)
			return -1;
		errno = 0;
		*v = strtod(s, &end);
		if (*end != '\0' || errno == ERANGE || isnan(*v) ||
		    isinf(*v))
			return -1;
	}
	return 0;
}

/* One sample line into *out; -1 with why. */
static int
stats_parse_sample(const char *line, struct stats_sample *out,
    const char **why)
{
	const char *p = line;
	char tok[64];
	size_t n, i;

	memset(out, 0, sizeof(*out));
	*why = "bad metric name";
	if (stats_parse_name(&p, out->name, sizeof(out->name), 0) != 0)
		return -1;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			*why = "bad label";
			if (out->nlabels == STATS_MAX_LABELS)
				return -1;
			i = out->nlabels;
			if (stats_parse_name(&p, out->key[i],
			    sizeof(out->key[i]), 1) != 0 || *p++ != '=' ||
			    *p++ != '"')
				return -1;
			for (n = 0; *p != '"'; p++) {
				if (*p == '\0' || n + 1 >= STATS_LVAL_MAX)
					return -1;
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						out->val[i][n++] = '\n';
					else if (*p == '\\' || *p == '"')
						out->val[i][n++] = *p;
					else
						return -1;
				} else
					out->val[i][n++] = *p;
			}
			out->val[i][n] = '\0';
			p++;
			out->nlabels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	*why = "expected a space and a value";
	if (*p++ != ' ')
		return -1;
	for (n = 0; *p != '\0' && *p != ' '; p++) {
		if (n + 1 >= sizeof(tok))
			return -1;
		tok[n++] = *p;
	}
	tok[n] = '\0';
	*why = "bad value";
	if (stats_parse_value(tok, &out->value) != 0)
		return -1;
	if (*p == ' ') {	/* a timestamp, in ms */
		p++;
		*why = "bad timestamp";
		if (*p == '-')
			p++;
		if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
			return -1;
	}
	return 0;
}

/* Parse body (modified in place).  0, or -1 with a message in err. */
static int
stats_parse(char *body, struct stats *st, char *err, size_t errlen)
{
	char *line = body, *nl, name[STATS_NAME_MAX];
	const char *why, *p;
	struct stats_sample *ns;
	unsigned lineno = 0;

	for (; *line != '\0'; line = nl + 1) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL) {
			snprintf(err, errlen, "line %u: no line end", lineno);
			return -1;
		}
		*nl = '\0';
		if (line[0] == '\0')
			continue;
		if (line[0] == '#') {
			/* HELP and TYPE name a metric; other comments are
			   free text. */
			if (strncmp(line, "# HELP ", 7) == 0 ||
			    strncmp(line, "# TYPE ", 7) == 0) {
				p = line + 7;
				if (stats_parse_name(&p, name, sizeof(name),
				    0) != 0 || (*p != ' ' && *p != '\0')) {
					snprintf(err, errlen, "line %u: bad "
					    "HELP or TYPE line", lineno);
					return -1;
				}
			}
			continue;
		}
		if (st->n == st->cap) {
			if (st->n == STATS_MAX_SAMPLES) {
				snprintf(err, errlen, "more than %u samples",
				    STATS_MAX_SAMPLES);
				return -1;
			}
			st->cap = st->cap == 0 ? 256 : st->cap * 2;
			if ((ns = realloc(st->s, st->cap * sizeof(*ns))) ==
			    NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			st->s = ns;
		}
		if (stats_parse_sample(line, &st->s[st->n], &why) != 0) {
			snprintf(err, errlen, "line %u: %s: %.80s", lineno, why,
			    line);
			return -1;
		}
		st->n++;
	}
	return 0;
}

/* ---- the summary ---- */

static const char *
stats_label(const struct stats_sample *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->key[i], key) == 0)
			return s->val[i];
	return NULL;
}

static const char *
stats_label_or(const struct stats_sample *s, const char *key)
{
	const char *v = stats_label(s, key);

	return v != NULL ? v : "?";
}

/* Sum of name's samples whose label key (if not NULL) is val. */
static double
stats_get(const struct stats *st, const char *name, const char *key,
    const char *val)
{
	const char *v;
	double sum = 0;
	size_t i;

	for (i = 0; i < st->n; i++) {
		if (strcmp(st->s[i].name, name) != 0)
			continue;
		if (key != NULL && ((v = stats_label(&st->s[i], key)) == NULL ||
		    strcmp(v, val) != 0))
			continue;
		sum += st->s[i].value;
	}
	return sum;
}

static int
stats_has(const struct stats *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i].name, name) == 0)
			return 1;
	return 0;
}

/* "reason1 n1, reason2 n2" of name's nonzero samples, by label key. */
static void
stats_print_by(const struct stats *st, const char *name, const char *key)
{
	const char *v;
	size_t i;
	int first = 1;

	for (i = 0; i < st->n; i++) {
		if (strcmp(st->s[i].name, name) != 0 || st->s[i].value == 0 ||
		    (v = stats_label(&st->s[i], key)) == NULL)
			continue;
		printf("%s%s %.0f", first ? "" : ", ", v, st->s[i].value);
		first = 0;
	}
}

static void
stats_print_duration(double s)
{
	if (s < 1)
		printf("%.3gms", s * 1000);
	else
		printf("%.3gs", s);
}

/*
 * The q-quantile of histogram name (its _bucket samples, cumulative, in
 * order), interpolated linearly inside the bucket, as histogram_quantile()
 * does.  Returns 0 and *out, or 1 with *out the highest finite bound if
 * the quantile is above it, or -1 with no observations.
 */
static int
stats_quantile(const struct stats *st, const char *name, double q,
    double *out)
{
	char bname[STATS_NAME_MAX + 8];
	double prev_le = 0, prev_c = 0, le, c, total = 0, rank;
	const char *v;
	size_t i;

	snprintf(bname, sizeof(bname), "%s_bucket", name);
	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i].name, bname) == 0 &&
		    (v = stats_label(&st->s[i], "le")) != NULL &&
		    strcmp(v, "+Inf") == 0)
			total = st->s[i].value;
	if (total <= 0)
		return -1;
	rank = q * total;
	for (i = 0; i < st->n; i++) {
		if (strcmp(st->s[i].name, bname) != 0 ||
		    (v = stats_label(&st->s[i], "le")) == NULL)
			continue;
		c = st->s[i].value;
		if (strcmp(v, "+Inf") == 0) {
			*out = prev_le;
			return 1;
		}
		le = strtod(v, NULL);
		if (c >= rank) {
			*out = c == prev_c ? le : prev_le + (le - prev_le) *
			    (rank - prev_c) / (c - prev_c);
			return 0;
		}
		prev_le = le;
		prev_c = c;
	}
	*out = prev_le;
	return 1;
}

static void
stats_print_quantiles(const struct stats *st, const char *name,
    const double *qs, const char *const *qn, size_t n)
{
	double v;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		printf("%s%s ", i > 0 ? ", " : "", qn[i]);
		if ((rc = stats_quantile(st, name, qs[i], &v)) < 0) {
			printf("-");
			continue;
		}
		if (rc > 0)
			printf(">");
		stats_print_duration(v);
	}
}

static void
stats_print_human(const struct stats *st, const char *addr)
{
	static const double q3[] = { 0.5, 0.9, 0.99 }, q2[] = { 0.5, 0.99 };
	static const char *const n3[] = { "p50", "p90", "p99" };
	static const char *const n2[] = { "p50", "p99" };
	const char *ver = "?", *op, *code, *seen[64];
	double start, count, sum, v;
	size_t i, j, nseen = 0;
	int first;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i].name, "secd_build_info") == 0 &&
		    stats_label(&st->s[i], "version") != NULL)
			ver = stats_label(&st->s[i], "version");
	printf("secd %s at %s", ver, addr);
	if ((start = stats_get(st, "secd_start_time_seconds", NULL, NULL)) > 0) {
		v = difftime(time(NULL), (time_t)start);
		v = v < 0 ? 0 : v;
		printf(", up ");
		if (v >= 86400)
			printf("%.0fd", floor(v / 86400));
		if (v >= 3600)
			printf("%.0fh", floor(fmod(v, 86400) / 3600));
		if (v >= 60)
			printf("%.0fm", floor(fmod(v, 3600) / 60));
		printf("%.0fs", fmod(v, 60));
	}
	printf("\n");

	printf("connections: %.0f open, %.0f accepted, %.0f refused\n",
	    stats_get(st, "secd_connections_open", NULL, NULL),
	    stats_get(st, "secd_connections_accepted_total", NULL, NULL),
	    v = stats_get(st, "secd_connections_refused_total", NULL, NULL));
	if (v > 0) {
		printf("  refused: ");
		stats_print_by(st, "secd_connections_refused_total", "reason");
		printf("\n");
	}
	printf("handshakes: %.0f completed (%.0f resumed), %.0f failed\n",
	    stats_get(st, "secd_handshakes_total", "result", "completed"),
	    stats_get(st, "secd_handshakes_resumed_total", NULL, NULL),
	    v = stats_get(st, "secd_handshakes_total", "result", "failed"));
	if (v > 0) {
		printf("  failed: ");
		stats_print_by(st, "secd_handshake_failures_total", "reason");
		printf("\n");
	}
	for (i = 0; i < st->n; i++)
		if (strcmp(st->s[i].name, "secd_tls_sessions_total") == 0 &&
		    st->s[i].value > 0)
			printf("tls: %s %s %s: %.0f\n",
			    stats_label_or(&st->s[i], "version"),
			    stats_label_or(&st->s[i], "suite"),
			    stats_label_or(&st->s[i], "group"),
			    st->s[i].value);

	printf("requests: %.0f answered\n",
	    stats_get(st, "secd_requests_total", NULL, NULL));
	/* By op, in the order the ops first appear. */
	for (i = 0; i < st->n; i++) {
		if (strcmp(st->s[i].name, "secd_requests_total") != 0 ||
		    (op = stats_label(&st->s[i], "op")) == NULL ||
		    stats_get(st, "secd_requests_total", "op", op) == 0)
			continue;
		for (j = 0; j < nseen && strcmp(seen[j], op) != 0; j++)
			;
		if (j < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nseen++] = op;
		printf("  %s:", op);
		first = 1;
		for (j = i; j < st->n; j++) {
			if (strcmp(st->s[j].name, "secd_requests_total") != 0 ||
			    st->s[j].value == 0 ||
			    stats_label(&st->s[j], "op") == NULL ||
			    strcmp(stats_label(&st->s[j], "op"), op) != 0 ||
			    (code = stats_label(&st->s[j], "code")) == NULL)
				continue;
			printf("%s %s %.0f", first ? "" : ",", code,
			    st->s[j].value);
			first = 0;
		}
		printf("\n");
	}
	count = stats_get(st, "secd_request_duration_seconds_count", NULL, NULL);
	sum = stats_get(st, "secd_request_duration_seconds_sum", NULL, NULL);
	printf("request latency: ");
	stats_print_quantiles(st, "secd_request_duration_seconds", q3, n3, 3);
	if (count > 0) {
		printf(" (mean ");
		stats_print_duration(sum / count);
		printf(")");
	}
	printf("\n");

	if (stats_has(st, "secd_ledger_batches_total")) {
		count = stats_get(st, "secd_ledger_commit_batch_size_count",
		    NULL, NULL);
		sum = stats_get(st, "secd_ledger_commit_batch_size_sum", NULL,
		    NULL);
		printf("ledger: %.0f batches committed, %.0f failed; batch "
		    "size mean %.1f; commit ",
		    stats_get(st, "secd_ledger_batches_total", "result",
		    "committed"), stats_get(st, "secd_ledger_batches_total",
		    "result", "failed"), count > 0 ? sum / count : 0.0);
		stats_print_quantiles(st, "secd_ledger_commit_duration_seconds",
		    q2, n2, 2);
		printf("\n");
		printf("ledger transfers: %.0f applied, %.0f replayed, %.0f "
		    "refused, %.0f unavailable\n",
		    stats_get(st, "secd_ledger_transfers_total", "result",
		    "applied"), stats_get(st, "secd_ledger_transfers_total",
		    "result", "replayed"), stats_get(st,
		    "secd_ledger_transfers_total", "result", "refused"),
		    stats_get(st, "secd_ledger_transfers_total", "result",
		    "unavailable"));
	}
	printf("reloads: %.0f ok, %.0f failed\n",
	    stats_get(st, "secd_reloads_total", "result", "ok"),
	    stats_get(st, "secd_reloads_total", "result", "failed"));
}

static int
stats_print_json(const struct stats *st, const char *addr)
{
	json_t *root, *arr, *o, *labels, *val;
	const struct stats_sample *s;
	char *text;
	size_t i, j;
	int rc = -1;

	if ((root = json_object()) == NULL || (arr = json_array()) == NULL ||
	    json_object_set_new(root, "metrics", json_string(addr)) != 0 ||
	    json_object_set_new(root, "samples", arr) != 0)
		goto out;
	for (i = 0; i < st->n; i++) {
		s = &st->s[i];
		if ((o = json_object()) == NULL ||
		    json_array_append_new(arr, o) != 0 ||
		    (labels = json_object()) == NULL ||
		    json_object_set_new(o, "name", json_string(s->name)) != 0 ||
		    json_object_set_new(o, "labels", labels) != 0)
			goto out;
		for (j = 0; j < s->nlabels; j++)
			if (json_object_set_new(labels, s->key[j],
			    json_string(s->val[j])) != 0)
				goto out;
		/* Counts as integers; JSON has no Inf or NaN: null. */
		if (!isfinite(s->value))
			val = json_null();
		else if (s->value == floor(s->value) &&
		    fabs(s->value) <= 9007199254740991.0)
			val = json_integer((json_int_t)s->value);
		else
			val = json_real(s->value);
		if (json_object_set_new(o, "value", val) != 0)
			goto out;
	}
	if ((text = json_dumps(root, JSON_COMPACT)) == NULL)
		goto out;
	printf("%s\n", text);
	free(text);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
stats_main(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "metrics", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct stats st = { NULL, 0, 0 };
	const char *addr = getenv("SECCTL_METRICS") != NULL ?
	    getenv("SECCTL_METRICS") : STATS_DEFAULT;
	char err[512], *body = NULL;
	int ch, rc = EX_CONNECT;

	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'm')
			return EX_USAGE;
		addr = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: secctl stats [--metrics HOST:PORT]\n");
		return EX_USAGE;
	}
	if (stats_fetch(addr, o->c.timeout_ms, &body, err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl: stats: %s: %s (is metrics.listen set "
		    "to this address in secd.yaml?)\n", addr, err);
		goto out;
	}
	if (stats_parse(body, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl: stats: %s: not Prometheus text: %s\n",
		    addr, err);
		goto out;
	}
	if (!stats_has(&st, "secd_build_info")) {
		fprintf(stderr, "secctl: stats: %s: these are not secd's "
		    "metrics (no secd_build_info)\n", addr);
		goto out;
	}
	if (o->json) {
		if (stats_print_json(&st, addr) != 0) {
			fprintf(stderr, "secctl: stats: out of memory\n");
			rc = EX_LOCAL;
			goto out;
		}
	} else
		stats_print_human(&st, addr);
	rc = EX_OK;
out:
	free(st.s);
	free(body);
	return rc;
}
