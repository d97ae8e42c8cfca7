/*
 * conf.c: the secd.yaml schema, and the walk that checks a parsed tree
 * against it and fills a struct conf.
 *
 * The schema is data: one table of fields per section, each naming its key,
 * its type, where its value lives in struct conf and its range.  The same
 * tables drive the walk, the "did you mean" suggestions, conf_check_files
 * and conf_schema_key (which the tests use to prove that every key is
 * documented), so a key added here is added everywhere at once.
 *
 * The walk reports every error it can find rather than the first, but it
 * does not go on past CONF_DIAG_MAX of them, and it looks at each node of
 * the tree a bounded number of times, so its cost is linear in the file.
 * Rules that tie two keys together run only once every key is valid on its
 * own, so that one mistake never produces a cascade of confusing messages.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_tree.h"
#include "conf_value.h"

/* Where a key set from the file was; see conf_key_pos. */
struct conf_mark {
	char		*key;
	unsigned int	 line;
	unsigned int	 column;
};

enum conf_type {
	CONF_T_SECTION,		/* mapping of more fields; null = defaults */
	CONF_T_DURATION,	/* uint64_t milliseconds */
	CONF_T_SIZE,		/* uint64_t bytes */
	CONF_T_UINT,		/* uint32_t */
	CONF_T_POW2,		/* uint32_t, a power of two */
	CONF_T_WORKERS,		/* uint32_t, "auto" = 0 */
	CONF_T_BOOL,		/* bool */
	CONF_T_ENUM,		/* an enum, the index in names */
	CONF_T_PATH,		/* char *, resolved */
	CONF_T_ACCOUNT,		/* char *, a user or group name */
	CONF_T_ADDR,		/* struct conf_addr; aux: bool set */
	CONF_T_ADDR_LIST,	/* struct conf_addr[]; aux: size_t count */
	CONF_T_ENUM_LIST,	/* enum[]; aux: size_t count */
	CONF_T_OPTIONS		/* handler.options */
};

struct conf_field {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;	/* of the value in struct conf */
	size_t			 aux;	/* see enum conf_type */
	uint64_t		 min;	/* lists: fewest entries */
	uint64_t		 max;	/* lists: most entries */
	const char *const	*names;	/* ENUM, ENUM_LIST: allowed values */
	const char		*what;	/* lists: what the entries are */
	const struct conf_field	*sub;	/* SECTION */
};

#define CONF_OFF(m)	offsetof(struct conf, m)

#define F_SECTION(n, s)							\
	{ .name = (n), .type = CONF_T_SECTION, .sub = (s) }
#define F_RANGE(n, t, m, lo, hi)					\
	{ .name = (n), .type = (t), .off = CONF_OFF(m),			\
	  .min = (lo), .max = (hi) }
#define F_DURATION(n, m, lo, hi)	F_RANGE(n, CONF_T_DURATION, m, lo, hi)
#define F_SIZE(n, m, lo, hi)		F_RANGE(n, CONF_T_SIZE, m, lo, hi)
#define F_UINT(n, m, lo, hi)		F_RANGE(n, CONF_T_UINT, m, lo, hi)
#define F_POW2(n, m, lo, hi)		F_RANGE(n, CONF_T_POW2, m, lo, hi)
#define F_WORKERS(n, m, lo, hi)		F_RANGE(n, CONF_T_WORKERS, m, lo, hi)
#define F_BOOL(n, m)							\
	{ .name = (n), .type = CONF_T_BOOL, .off = CONF_OFF(m) }
#define F_PATH(n, m)							\
	{ .name = (n), .type = CONF_T_PATH, .off = CONF_OFF(m) }
#define F_ACCOUNT(n, m)							\
	{ .name = (n), .type = CONF_T_ACCOUNT, .off = CONF_OFF(m) }
#define F_ENUM(n, m, v)							\
	{ .name = (n), .type = CONF_T_ENUM, .off = CONF_OFF(m), .names = (v) }
#define F_ADDR(n, m, set)						\
	{ .name = (n), .type = CONF_T_ADDR, .off = CONF_OFF(m),		\
	  .aux = CONF_OFF(set) }
#define F_ADDR_LIST(n, m, count, lo, hi)				\
	{ .name = (n), .type = CONF_T_ADDR_LIST, .off = CONF_OFF(m),	\
	  .aux = CONF_OFF(count), .min = (lo), .max = (hi),		\
	  .what = "addresses" }
#define F_ENUM_LIST(n, m, count, v, w)					\
	{ .name = (n), .type = CONF_T_ENUM_LIST, .off = CONF_OFF(m),	\
	  .aux = CONF_OFF(count), .min = 1, .max = sizeof(v) / sizeof(v[0]) - 1, \
	  .names = (v), .what = (w) }
#define F_OPTIONS(n)	{ .name = (n), .type = CONF_T_OPTIONS }
#define F_END		{ .name = NULL }

/*
 * Enum values are stored through memcpy of an int (see conf_put_int), and
 * a list of names maps index i to enum value i.
 */
_Static_assert(sizeof(enum conf_client_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_tls_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_cipher) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_group) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_auth_methods) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_handler_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_log_format) == sizeof(int), "enum size");

static const char *const conf_client_auth_names[] = {
	"none", "optional", "required", NULL
};
static const char *const conf_tls_version_names[] = { "1.2", "1.3", NULL };
static const char *const conf_cipher_names[] = {
	"TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	NULL
};
static const char *const conf_group_names[] = {
	"x25519", "p256", "p384", "p521", NULL
};
static const char *const conf_auth_methods_names[] = {
	"password", "certificate", "both", NULL
};
static const char *const conf_builtin_names[] = { "ledger", NULL };
static const char *const conf_log_level_names[] = {
	"debug", "info", "notice", "warning", "error", NULL
};
static const char *const conf_log_format_names[] = { "text", "json", NULL };

_Static_assert(sizeof(conf_cipher_names) / sizeof(conf_cipher_names[0]) ==
    CONF_CIPHER_COUNT + 1, "cipher names");
_Static_assert(sizeof(conf_group_names) / sizeof(conf_group_names[0]) ==
    CONF_GROUP_COUNT + 1, "group names");

static const struct conf_field conf_tls_fields[] = {
	F_PATH("certificate", tls.certificate),
	F_PATH("key", tls.key),
	F_PATH("client_ca", tls.client_ca),
	F_ENUM("client_auth", tls.client_auth, conf_client_auth_names),
	F_ENUM("min_version", tls.min_version, conf_tls_version_names),
	F_ENUM_LIST("ciphers", tls.ciphers, tls.nciphers, conf_cipher_names,
	    "cipher suites"),
	F_ENUM_LIST("groups", tls.groups, tls.ngroups, conf_group_names,
	    "groups"),
	F_BOOL("tickets", tls.tickets),
	F_PATH("ticket_key_file", tls.ticket_key_file),
	F_DURATION("ticket_lifetime", tls.ticket_lifetime_ms, CONF_MS_M,
	    7 * CONF_MS_D),
	F_END
};

static const struct conf_field conf_limits_fields[] = {
	F_UINT("max_connections", limits.max_connections, 1, 1000000),
	F_UINT("max_connections_per_ip", limits.max_connections_per_ip, 1,
	    1000000),
	F_DURATION("handshake_timeout", limits.handshake_timeout_ms, 100,
	    5 * CONF_MS_M),
	F_DURATION("login_timeout", limits.login_timeout_ms, CONF_MS_S,
	    CONF_MS_H),
	F_DURATION("idle_timeout", limits.idle_timeout_ms, CONF_MS_S,
	    CONF_MS_D),
	/* The protocol layer's bounds (MSG_MAX_MESSAGE_MIN/MAX in msg.h). */
	F_SIZE("max_message_bytes", limits.max_message_bytes, 8 * CONF_KIB,
	    CONF_MIB),
	F_UINT("max_pipeline", limits.max_pipeline, 1, 1024),
	F_SIZE("write_buffer", limits.write_buffer_bytes, 4 * CONF_KIB,
	    64 * CONF_MIB),
	F_UINT("handshake_rate_per_ip", limits.handshake_rate_per_ip, 1,
	    1000000),
	F_UINT("handshake_burst_per_ip", limits.handshake_burst_per_ip, 1,
	    1000000),
	F_END
};

static const struct conf_field conf_auth_fields[] = {
	F_POW2("scrypt_n", auth.scrypt_n, 1024, 1048576),
	F_UINT("scrypt_r", auth.scrypt_r, 1, 32),
	F_UINT("scrypt_p", auth.scrypt_p, 1, 16),
	F_UINT("max_failures", auth.max_failures, 1, 1000),
	F_UINT("max_failures_per_ip", auth.max_failures_per_ip, 1, 100000),
	F_DURATION("failure_window", auth.failure_window_ms, CONF_MS_S,
	    CONF_MS_D),
	F_DURATION("lockout", auth.lockout_ms, CONF_MS_S, CONF_MS_D),
	F_ENUM("methods", auth.methods, conf_auth_methods_names),
	F_END
};

static const struct conf_field conf_handler_fields[] = {
	F_ENUM("builtin", handler.kind, conf_builtin_names),
	F_PATH("module", handler.module),
	F_OPTIONS("options"),
	F_END
};

static const struct conf_field conf_log_fields[] = {
	F_ENUM("level", log.level, conf_log_level_names),
	F_ENUM("format", log.format, conf_log_format_names),
	F_END
};

static const struct conf_field conf_metrics_fields[] = {
	F_ADDR("listen", metrics.listen, metrics.enabled),
	F_END
};

static const struct conf_field conf_audit_fields[] = {
	F_PATH("file", audit.file),
	F_END
};

static const struct conf_field conf_top_fields[] = {
	F_ADDR_LIST("listen", listen, nlisten, 1, CONF_MAX_LISTEN),
	F_WORKERS("workers", workers, 1, 256),
	F_DURATION("shutdown_timeout", shutdown_timeout_ms, 0, 10 * CONF_MS_M),
	F_SECTION("tls", conf_tls_fields),
	F_SECTION("limits", conf_limits_fields),
	F_SECTION("auth", conf_auth_fields),
	F_SECTION("handler", conf_handler_fields),
	F_SECTION("log", conf_log_fields),
	F_SECTION("metrics", conf_metrics_fields),
	F_SECTION("audit", conf_audit_fields),
	F_ACCOUNT("user", user),
	F_ACCOUNT("group", group),
	F_END
};

/* State of one load. */
struct conf_ctx {
	const char		*name;		/* for messages */
	const char		*basedir;	/* or NULL: keep paths relative */
	struct conf_diag	*diag;		/* or NULL */
	struct conf		*c;
	unsigned int		 nerr;
	bool			 stop;		/* too many errors to go on */
	char			 path[512];	/* dotted path of the node */
	size_t			 pathlen;
};

/* [::1]:7443 unquoted is a list holding "::1", or a mapping. */
#define CONF_HINT_IPV6	"quote IPv6 addresses, as in \"[::1]:7443\""

/* Room for a quoted piece of user text (see conf_tree_quote). */
#define CONF_QBUF	256

/* Stash and fetch values of a field inside struct conf. */
static void *
conf_at(struct conf *c, size_t off)
{

	return ((char *)c + off);
}

static void
conf_put_int(struct conf *c, size_t off, int v)
{

	memcpy(conf_at(c, off), &v, sizeof(v));
}

static void
conf_put_u32(struct conf *c, size_t off, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;

	memcpy(conf_at(c, off), &v32, sizeof(v32));
}

static void
conf_put_u64(struct conf *c, size_t off, uint64_t v)
{

	memcpy(conf_at(c, off), &v, sizeof(v));
}

static void
conf_put_str(struct conf *c, size_t off, char *s)
{
	char **p = conf_at(c, off);

	free(*p);
	*p = s;
}

/* Append a segment to the current path; return the length to go back to. */
static size_t
conf_path_push(struct conf_ctx *x, const char *seg, size_t len)
{
	char q[CONF_QBUF];
	size_t old = x->pathlen;
	int n;

	n = snprintf(x->path + old, sizeof(x->path) - old, "%s%s",
	    old > 0 ? "." : "", conf_tree_quote(q, sizeof(q), seg, len));
	if (n < 0 || (size_t)n >= sizeof(x->path) - old)
		x->pathlen = strlen(x->path);
	else
		x->pathlen = old + (size_t)n;
	return (old);
}

static size_t
conf_path_index(struct conf_ctx *x, size_t i)
{
	size_t old = x->pathlen;
	int n;

	n = snprintf(x->path + old, sizeof(x->path) - old, "[%zu]", i);
	if (n < 0 || (size_t)n >= sizeof(x->path) - old)
		x->pathlen = strlen(x->path);
	else
		x->pathlen = old + (size_t)n;
	return (old);
}

static void
conf_path_pop(struct conf_ctx *x, size_t old)
{

	x->path[old] = '\0';
	x->pathlen = old;
}

/* Count an error; stop the walk once the diag has given up. */
static void
conf_count_err(struct conf_ctx *x)
{

	if (++x->nerr > CONF_DIAG_MAX)
		x->stop = true;
}

/* Report an error at ${line}:${col} about the current path. */
static void __attribute__((__format__(__printf__, 4, 5)))
conf_err(struct conf_ctx *x, unsigned int line, unsigned int col,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_diag_add(x->diag, "%s:%u:%u: %s%s%s", x->name, line, col,
	    x->path, x->pathlen > 0 ? ": " : "", msg);
	conf_count_err(x);
}

/* Report "expected ${what}, found <n>" with an optional hint. */
static void
conf_expected(struct conf_ctx *x, const struct conf_node *n,
    const char *what, const char *hint)
{
	char found[CONF_QBUF];

	conf_tree_describe(n, found, sizeof(found));
	if (hint != NULL && hint[0] != '\0')
		conf_err(x, n->line, n->column, "expected %s, found %s (%s)",
		    what, found, hint);
	else
		conf_err(x, n->line, n->column, "expected %s, found %s", what,
		    found);
}

static void
conf_nomem(struct conf_ctx *x)
{

	conf_diag_add(x->diag, "%s: out of memory", x->name);
	conf_count_err(x);
	x->stop = true;
}

/* Remember where the value of the current path is. */
static void
conf_mark(struct conf_ctx *x, const struct conf_node *n)
{
	struct conf *c = x->c;
	struct conf_mark *m;
	size_t cap;

	if (c->nmarks == c->marks_cap) {
		cap = c->marks_cap == 0 ? 32 : c->marks_cap * 2;
		if ((m = reallocarray(c->marks, cap, sizeof(*m))) == NULL) {
			conf_nomem(x);
			return;
		}
		c->marks = m;
		c->marks_cap = cap;
	}
	m = &c->marks[c->nmarks];
	if ((m->key = strdup(x->path)) == NULL) {
		conf_nomem(x);
		return;
	}
	m->line = n->line;
	m->column = n->column;
	c->nmarks++;
}

static const struct conf_mark *
conf_mark_find(const struct conf *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->nmarks; i++)
		if (strcmp(c->marks[i].key, key) == 0)
			return (&c->marks[i]);
	return (NULL);
}

/*
 * Report an error about ${key} once the walk is over (a rule between
 * keys), at the key's position if it was set in the file.
 */
static void __attribute__((__format__(__printf__, 3, 4)))
conf_err_key(struct conf_ctx *x, const char *key, const char *fmt, ...)
{
	const struct conf_mark *m;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((m = conf_mark_find(x->c, key)) != NULL)
		conf_diag_add(x->diag, "%s:%u:%u: %s: %s", x->name, m->line,
		    m->column, key, msg);
	else
		conf_diag_add(x->diag, "%s: %s: %s", x->name, key, msg);
	conf_count_err(x);
}

/* Write "a, b, c" from a NULL-terminated list of names. */
static char *
conf_join(char *buf, size_t size, const char *const *names)
{
	size_t i, o;
	int n;

	buf[0] = '\0';
	for (i = o = 0; names[i] != NULL && o < size; i++) {
		n = snprintf(buf + o, size - o, "%s%s", i > 0 ? ", " : "",
		    names[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return (buf);
}

/*
 * Optimal string alignment distance between ${a} and ${b} (an edit is an
 * insertion, a deletion, a substitution or a swap of two neighbours), or
 * a large number if either is longer than 64 bytes.
 */
static size_t
conf_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t d[3][65], *prev2 = d[0], *prev = d[1], *cur = d[2], *t;
	size_t i, j, cost, v;

	if (alen > 64 || blen > 64)
		return (SIZE_MAX);
	for (j = 0; j <= blen; j++)
		prev[j] = j;
	for (i = 1; i <= alen; i++) {
		cur[0] = i;
		for (j = 1; j <= blen; j++) {
			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return (prev[blen]);
}

/* Find the field of ${fields} closest to the unknown ${key}, or NULL. */
static const struct conf_field *
conf_suggest(const struct conf_field *fields, const char *key, size_t len)
{
	const struct conf_field *f, *best = NULL;
	size_t d, bestd = SIZE_MAX, n;

	for (f = fields; f->name != NULL; f++) {
		n = strlen(f->name);
		d = conf_distance(key, len, f->name, n);
		/* A long enough prefix ("cert") counts as one edit. */
		if (len >= 3 && len < n && strncmp(key, f->name, len) == 0 &&
		    d > 1)
			d = 1;
		if (d < bestd) {
			bestd = d;
			best = f;
		}
	}
	/* Allow one edit per three characters, at most two. */
	if (best == NULL || bestd > 2 || bestd * 3 > len)
		return (NULL);
	return (best);
}

/*
 * Look for a key named ${key} anywhere in the schema below ${fields} (with
 * the dotted path ${prefix}) and write its full path to ${buf}.  Return 0
 * if one is found.
 */
static int
conf_schema_find(const struct conf_field *fields, const char *prefix,
    const char *key, char *buf, size_t size)
{
	const struct conf_field *f;
	char sub[128];

	for (f = fields; f->name != NULL; f++) {
		snprintf(sub, sizeof(sub), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", f->name);
		if (strcmp(f->name, key) == 0) {
			snprintf(buf, size, "%s", sub);
			return (0);
		}
		if (f->type == CONF_T_SECTION &&
		    conf_schema_find(f->sub, sub, key, buf, size) == 0)
			return (0);
	}
	return (-1);
}

/* Report the unknown key ${k} of a section with ${fields}. */
static void
conf_unknown(struct conf_ctx *x, const struct conf_node *k,
    const struct conf_field *fields, const char *section)
{
	const struct conf_field *f;
	char names[512], where[128];

	if ((f = conf_suggest(fields, k->str, k->len)) != NULL) {
		conf_err(x, k->line, k->column,
		    "unknown key, did you mean '%s'?", f->name);
		return;
	}
	if (conf_schema_find(conf_top_fields, "", k->str, where,
	    sizeof(where)) == 0) {
		conf_err(x, k->line, k->column, "unknown key%s%s, did you "
		    "mean '%s'?", section[0] != '\0' ? " in " : " at the top "
		    "level", section, where);
		return;
	}
	names[0] = '\0';
	for (f = fields; f->name != NULL; f++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s", f == fields ? "" : ", ", f->name);
	conf_err(x, k->line, k->column, "unknown key; expected one of %s",
	    names);
}

/*
 * Check key ${i} of mapping ${map}: a scalar, not empty, and not seen
 * before in ${map}.  Return 0 if the pair can be used.
 */
static int
conf_key_ok(struct conf_ctx *x, const struct conf_node *map, size_t i)
{
	const struct conf_node *k = map->kid[2 * i], *o;
	size_t j, old;

	if (k->kind != CONF_NODE_SCALAR || k->null || k->len == 0) {
		conf_expected(x, k, "a key name", "");
		return (-1);
	}
	for (j = 0; j < i; j++) {
		o = map->kid[2 * j];
		if (o->kind == CONF_NODE_SCALAR && o->len == k->len &&
		    memcmp(o->str, k->str, k->len) == 0) {
			old = conf_path_push(x, k->str, k->len);
			conf_err(x, k->line, k->column, "duplicate key, "
			    "first given at line %u, column %u", o->line,
			    o->column);
			conf_path_pop(x, old);
			return (-1);
		}
	}
	return (0);
}

/*
 * The phrase for what ${f} takes, for "expected ..." clauses: the short
 * form when the node is not even a scalar, the full form with the range
 * when its text is wrong.
 */
static char *
conf_expect_text(const struct conf_field *f, bool full, char *buf,
    size_t size)
{
	char lo[32], hi[32], names[256];

	switch (f->type) {
	case CONF_T_DURATION:
		if (!full)
			snprintf(buf, size, "a duration");
		else
			snprintf(buf, size, "a duration between %s and %s",
			    conf_value_fmt_duration(f->min, lo, sizeof(lo)),
			    conf_value_fmt_duration(f->max, hi, sizeof(hi)));
		break;
	case CONF_T_SIZE:
		if (!full)
			snprintf(buf, size, "a size");
		else
			snprintf(buf, size, "a size between %s and %s",
			    conf_value_fmt_size(f->min, lo, sizeof(lo)),
			    conf_value_fmt_size(f->max, hi, sizeof(hi)));
		break;
	case CONF_T_UINT:
		snprintf(buf, size, full ? "an integer between %llu and %llu" :
		    "an integer", (unsigned long long)f->min,
		    (unsigned long long)f->max);
		break;
	case CONF_T_POW2:
		snprintf(buf, size, full ? "a power of two between %llu and "
		    "%llu" : "a power of two", (unsigned long long)f->min,
		    (unsigned long long)f->max);
		break;
	case CONF_T_WORKERS:
		snprintf(buf, size, full ? "auto or an integer between %llu "
		    "and %llu" : "auto or an integer",
		    (unsigned long long)f->min, (unsigned long long)f->max);
		break;
	case CONF_T_BOOL:
		snprintf(buf, size, "true or false");
		break;
	case CONF_T_ENUM:
	case CONF_T_ENUM_LIST:
		snprintf(buf, size, "one of %s",
		    conf_join(names, sizeof(names), f->names));
		break;
	case CONF_T_PATH:
		snprintf(buf, size, "a file path");
		break;
	case CONF_T_ACCOUNT:
		snprintf(buf, size, full ? "an account name of 1 to 32 "
		    "lower-case letters, digits, '_' or '-', not starting "
		    "with a digit or '-'" : "an account name");
		break;
	case CONF_T_ADDR:
	case CONF_T_ADDR_LIST:
		snprintf(buf, size, full ? "an IP address and port such as "
		    "127.0.0.1:7443 or [::1]:7443" : "an IP address and port");
		break;
	case CONF_T_SECTION:
	case CONF_T_OPTIONS:
	default:
		snprintf(buf, size, "a mapping");
		break;
	}
	return (buf);
}

static bool
conf_is_account(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > 32)
		return (false);
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return (false);
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return (false);
	return (true);
}

/*
 * Resolve the relative path ${s} against the configuration's directory.
 * Return a new string, or NULL with ${hint} set (or out of memory, with
 * ${hint} NULL).
 */
static char *
conf_resolve(const struct conf_ctx *x, const char *s, const char **hint)
{
	char *r;
	size_t dlen;

	*hint = NULL;
	if (s[0] != '/' && x->basedir != NULL) {
		while (s[0] == '.' && s[1] == '/')
			for (s += 2; s[0] == '/'; s++)
				;
		dlen = strlen(x->basedir);
		if (asprintf(&r, "%s%s%s", x->basedir,
		    dlen > 0 && x->basedir[dlen - 1] == '/' ? "" : "/",
		    s) == -1)
			return (NULL);
	} else if ((r = strdup(s)) == NULL)
		return (NULL);
	if (strlen(r) >= PATH_MAX) {
		free(r);
		*hint = "path too long";
		return (NULL);
	}
	return (r);
}

/* Parse and store the scalar ${n} for a field of a scalar type. */
static void
conf_walk_scalar(struct conf_ctx *x, const struct conf_field *f,
    const struct conf_node *n)
{
	char what[512];
	const char *hint = "";
	uint64_t v;
	char *s;
	size_t i;

	if (n->kind != CONF_NODE_SCALAR || n->null) {
		conf_expected(x, n, conf_expect_text(f, false, what,
		    sizeof(what)), f->type == CONF_T_ADDR && !n->null ?
		    CONF_HINT_IPV6 : "");
		return;
	}
	switch (f->type) {
	case CONF_T_DURATION:
		if (conf_value_duration(n->str, &v, &hint) != 0 ||
		    v < f->min || v > f->max)
			goto bad;
		conf_put_u64(x->c, f->off, v);
		break;
	case CONF_T_SIZE:
		if (conf_value_size(n->str, &v, &hint) != 0 ||
		    v < f->min || v > f->max)
			goto bad;
		conf_put_u64(x->c, f->off, v);
		break;
	case CONF_T_UINT:
		if (conf_value_uint(n->str, &v) != 0 || v < f->min ||
		    v > f->max)
			goto bad;
		conf_put_u32(x->c, f->off, v);
		break;
	case CONF_T_POW2:
		if (conf_value_uint(n->str, &v) != 0 || v < f->min ||
		    v > f->max || (v & (v - 1)) != 0)
			goto bad;
		conf_put_u32(x->c, f->off, v);
		break;
	case CONF_T_WORKERS:
		if (strcmp(n->str, "auto") == 0)
			v = 0;
		else if (conf_value_uint(n->str, &v) != 0 || v < f->min ||
		    v > f->max)
			goto bad;
		conf_put_u32(x->c, f->off, v);
		break;
	case CONF_T_BOOL:
		if (strcmp(n->str, "true") == 0)
			*(bool *)conf_at(x->c, f->off) = true;
		else if (strcmp(n->str, "false") == 0)
			*(bool *)conf_at(x->c, f->off) = false;
		else
			goto bad;
		break;
	case CONF_T_ENUM:
		for (i = 0; f->names[i] != NULL; i++)
			if (strcmp(n->str, f->names[i]) == 0)
				break;
		if (f->names[i] == NULL)
			goto bad;
		conf_put_int(x->c, f->off, (int)i);
		break;
	case CONF_T_PATH:
		if (n->len == 0)
			goto bad;
		if ((s = conf_resolve(x, n->str, &hint)) == NULL) {
			if (hint == NULL) {
				conf_nomem(x);
				return;
			}
			goto bad;
		}
		conf_put_str(x->c, f->off, s);
		break;
	case CONF_T_ACCOUNT:
		if (!conf_is_account(n->str, n->len))
			goto bad;
		if ((s = strdup(n->str)) == NULL) {
			conf_nomem(x);
			return;
		}
		conf_put_str(x->c, f->off, s);
		break;
	case CONF_T_ADDR:
		if (conf_value_addr(n->str, conf_at(x->c, f->off), &hint) != 0)
			goto bad;
		*(bool *)conf_at(x->c, f->aux) = true;
		break;
	case CONF_T_SECTION:
	case CONF_T_ADDR_LIST:
	case CONF_T_ENUM_LIST:
	case CONF_T_OPTIONS:
	default:
		goto bad;
	}
	conf_mark(x, n);
	return;

bad:
	conf_expected(x, n, conf_expect_text(f, true, what, sizeof(what)),
	    hint);
}

/* Check that list ${n} for ${f} is a sequence of an allowed length. */
static int
conf_list_ok(struct conf_ctx *x, const struct conf_field *f,
    const struct conf_node *n)
{
	char what[128];

	if (n->kind != CONF_NODE_SEQ) {
		snprintf(what, sizeof(what), "a sequence of %s", f->what);
		conf_expected(x, n, what, "");
		return (-1);
	}
	if (n->nkid < f->min || n->nkid > f->max) {
		conf_err(x, n->line, n->column, "expected %llu to %llu %s, "
		    "found %zu", (unsigned long long)f->min,
		    (unsigned long long)f->max, f->what, n->nkid);
		return (-1);
	}
	return (0);
}

static void
conf_walk_addr_list(struct conf_ctx *x, const struct conf_field *f,
    const struct conf_node *n)
{
	struct conf_addr *a = conf_at(x->c, f->off);
	const struct conf_node *e;
	const char *hint;
	char what[128];
	size_t i, j, old;
	unsigned int nerr = x->nerr;

	if (conf_list_ok(x, f, n) != 0)
		return;
	conf_mark(x, n);
	for (i = 0; i < n->nkid && !x->stop; i++) {
		e = n->kid[i];
		old = conf_path_index(x, i);
		if (e->kind != CONF_NODE_SCALAR || e->null) {
			conf_expected(x, e, "an IP address and port",
			    e->null ? "" : CONF_HINT_IPV6);
		} else if (conf_value_addr(e->str, &a[i], &hint) != 0) {
			conf_expected(x, e, conf_expect_text(f, true, what,
			    sizeof(what)), hint);
		} else {
			for (j = 0; j < i; j++)
				if (conf_value_addr_equal(&a[i], &a[j]))
					break;
			if (j < i)
				conf_err(x, e->line, e->column, "duplicate "
				    "address %s, already given as %.*s[%zu]",
				    a[i].text, (int)old, x->path, j);
			else
				conf_mark(x, e);
		}
		conf_path_pop(x, old);
	}
	if (x->nerr == nerr)
		*(size_t *)conf_at(x->c, f->aux) = n->nkid;
}

static void
conf_walk_enum_list(struct conf_ctx *x, const struct conf_field *f,
    const struct conf_node *n)
{
	int v[CONF_CIPHER_COUNT + CONF_GROUP_COUNT];
	char what[512];
	size_t i, j, k, old;
	unsigned int nerr = x->nerr;
	const struct conf_node *e;

	/* conf_list_ok bounds the entries by the number of names. */
	if (conf_list_ok(x, f, n) != 0)
		return;
	conf_mark(x, n);
	for (i = 0; i < n->nkid && !x->stop; i++) {
		e = n->kid[i];
		old = conf_path_index(x, i);
		for (k = 0; e->kind == CONF_NODE_SCALAR && !e->null &&
		    f->names[k] != NULL; k++)
			if (strcmp(e->str, f->names[k]) == 0)
				break;
		if (e->kind != CONF_NODE_SCALAR || e->null ||
		    f->names[k] == NULL) {
			conf_expected(x, e, conf_expect_text(f, true, what,
			    sizeof(what)), "");
		} else {
			v[i] = (int)k;
			for (j = 0; j < i; j++)
				if (v[j] == v[i])
					break;
			if (j < i)
				conf_err(x, e->line, e->column, "duplicate "
				    "entry '%s', already given as %.*s[%zu]",
				    f->names[k], (int)old, x->path, j);
			else
				conf_mark(x, e);
		}
		conf_path_pop(x, old);
	}
	if (x->nerr != nerr)
		return;
	for (i = 0; i < n->nkid; i++)
		conf_put_int(x->c, f->off + i * sizeof(int), v[i]);
	*(size_t *)conf_at(x->c, f->aux) = n->nkid;
}

static bool
conf_is_option_name(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > CONF_MAX_OPTION_NAME)
		return (false);
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return (false);
	return (true);
}

/* handler.options: a flat mapping of names to scalars, kept as text. */
static void
conf_walk_options(struct conf_ctx *x, const struct conf_node *n)
{
	struct conf_handler *h = &x->c->handler;
	const struct conf_node *k, *v;
	struct conf_option *o;
	size_t i, old;

	if (n->null)
		return;
	if (n->kind != CONF_NODE_MAP) {
		conf_expected(x, n, "a mapping of option names to values", "");
		return;
	}
	conf_mark(x, n);
	if (n->nkid / 2 > CONF_MAX_OPTIONS) {
		conf_err(x, n->line, n->column, "expected at most %d options, "
		    "found %zu", CONF_MAX_OPTIONS, n->nkid / 2);
		return;
	}
	if ((h->options = calloc(n->nkid / 2 + 1, sizeof(*o))) == NULL) {
		conf_nomem(x);
		return;
	}
	for (i = 0; i < n->nkid / 2 && !x->stop; i++) {
		if (conf_key_ok(x, n, i) != 0)
			continue;
		k = n->kid[2 * i];
		v = n->kid[2 * i + 1];
		if (!conf_is_option_name(k->str, k->len)) {
			conf_expected(x, k, "an option name of 1 to 64 "
			    "letters, digits, '_' or '-'", "");
			continue;
		}
		old = conf_path_push(x, k->str, k->len);
		if (v->kind != CONF_NODE_SCALAR || v->null) {
			conf_expected(x, v, "a value (text, a number or a "
			    "boolean)", "");
		} else {
			o = &h->options[h->noptions];
			o->key = strdup(k->str);
			o->value = strdup(v->str);
			o->line = v->line;
			o->column = v->column;
			h->noptions++;
			if (o->key == NULL || o->value == NULL)
				conf_nomem(x);
		}
		conf_path_pop(x, old);
	}
}

static void conf_walk_section(struct conf_ctx *, const struct conf_node *,
    const struct conf_field *);

/* Check the value ${n} of field ${f}; the path names the field. */
static void
conf_walk_field(struct conf_ctx *x, const struct conf_field *f,
    const struct conf_node *n)
{

	switch (f->type) {
	case CONF_T_SECTION:
		if (n->null)
			return;
		if (n->kind == CONF_NODE_MAP)
			conf_mark(x, n);
		conf_walk_section(x, n, f->sub);
		break;
	case CONF_T_ADDR_LIST:
		conf_walk_addr_list(x, f, n);
		break;
	case CONF_T_ENUM_LIST:
		conf_walk_enum_list(x, f, n);
		break;
	case CONF_T_OPTIONS:
		conf_walk_options(x, n);
		break;
	case CONF_T_DURATION:
	case CONF_T_SIZE:
	case CONF_T_UINT:
	case CONF_T_POW2:
	case CONF_T_WORKERS:
	case CONF_T_BOOL:
	case CONF_T_ENUM:
	case CONF_T_PATH:
	case CONF_T_ACCOUNT:
	case CONF_T_ADDR:
	default:
		conf_walk_scalar(x, f, n);
		break;
	}
}

/* Check the mapping ${n} against ${fields}; null means all defaults. */
static void
conf_walk_section(struct conf_ctx *x, const struct conf_node *n,
    const struct conf_field *fields)
{
	const struct conf_field *f;
	const struct conf_node *k;
	char section[sizeof(x->path)];
	size_t i, old;

	if (n->null)
		return;
	if (n->kind != CONF_NODE_MAP) {
		conf_expected(x, n, "a mapping", "");
		return;
	}
	snprintf(section, sizeof(section), "%s", x->path);
	for (i = 0; i < n->nkid / 2 && !x->stop; i++) {
		if (conf_key_ok(x, n, i) != 0)
			continue;
		k = n->kid[2 * i];
		old = conf_path_push(x, k->str, k->len);
		for (f = fields; f->name != NULL; f++)
			if (strcmp(f->name, k->str) == 0)
				break;
		if (f->name == NULL)
			conf_unknown(x, k, fields, section);
		else
			conf_walk_field(x, f, n->kid[2 * i + 1]);
		conf_path_pop(x, old);
	}
}

/* The rules that tie keys together, once each key is valid alone. */
static void
conf_cross_check(struct conf_ctx *x)
{
	struct conf *c = x->c;
	size_t i;

	if (conf_mark_find(c, "handler.builtin") != NULL &&
	    conf_mark_find(c, "handler.module") != NULL)
		conf_err_key(x, "handler", "expected exactly one of builtin "
		    "or module, found both");
	else if (c->handler.module != NULL)
		c->handler.kind = CONF_HANDLER_MODULE;

	if (c->tls.certificate != NULL && c->tls.key == NULL)
		conf_err_key(x, "tls.certificate", "needs tls.key as well "
		    "(set both, or neither to use development certificates)");
	if (c->tls.key != NULL && c->tls.certificate == NULL)
		conf_err_key(x, "tls.key", "needs tls.certificate as well "
		    "(set both, or neither to use development certificates)");
	if (c->tls.client_auth != CONF_CLIENT_AUTH_NONE &&
	    c->tls.client_ca == NULL)
		conf_err_key(x, "tls.client_auth", "'%s' needs tls.client_ca, "
		    "the CA file that client certificates are checked against",
		    conf_client_auth_names[c->tls.client_auth]);
	if (c->auth.methods != CONF_AUTH_PASSWORD &&
	    c->tls.client_auth == CONF_CLIENT_AUTH_NONE)
		conf_err_key(x, "auth.methods", "'%s' needs tls.client_auth "
		    "set to optional or required",
		    conf_auth_methods_names[c->auth.methods]);
	/* The default per-IP limit yields to a lower total. */
	if (conf_mark_find(c, "limits.max_connections_per_ip") == NULL &&
	    c->limits.max_connections_per_ip > c->limits.max_connections)
		c->limits.max_connections_per_ip = c->limits.max_connections;
	if (c->limits.max_connections_per_ip > c->limits.max_connections)
		conf_err_key(x, "limits.max_connections_per_ip",
		    "limits.max_connections_per_ip (%u) must not exceed "
		    "limits.max_connections (%u)",
		    c->limits.max_connections_per_ip,
		    c->limits.max_connections);
	for (i = 0; c->metrics.enabled && i < c->nlisten; i++)
		if (conf_value_addr_equal(&c->metrics.listen, &c->listen[i]))
			conf_err_key(x, "metrics.listen", "%s is also "
			    "listen[%zu]; metrics need an address of their own",
			    c->metrics.listen.text, i);
}

/* Allocate a struct conf named ${name} holding every default. */
static struct conf *
conf_defaults(const char *name)
{
	struct conf *c;
	const char *hint;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto err0;
	if ((c->name = strdup(name)) == NULL)
		goto err1;

	if (conf_value_addr("127.0.0.1:7443", &c->listen[0], &hint) != 0)
		goto err1;
	c->nlisten = 1;
	c->workers = 0;
	c->shutdown_timeout_ms = 30 * CONF_MS_S;

	c->tls.client_auth = CONF_CLIENT_AUTH_NONE;
	c->tls.min_version = CONF_TLS_1_3;
	c->tls.ciphers[0] = CONF_CIPHER_CHACHA20_POLY1305_SHA256;
	c->tls.ciphers[1] = CONF_CIPHER_AES_128_GCM_SHA256;
	c->tls.ciphers[2] = CONF_CIPHER_AES_256_GCM_SHA384;
	c->tls.nciphers = 3;
	c->tls.groups[0] = CONF_GROUP_X25519;
	c->tls.groups[1] = CONF_GROUP_P256;
	c->tls.ngroups = 2;
	c->tls.tickets = true;
	c->tls.ticket_lifetime_ms = 2 * CONF_MS_H;

	c->limits.max_connections = 10000;
	c->limits.max_connections_per_ip = 256;
	c->limits.handshake_timeout_ms = 10 * CONF_MS_S;
	c->limits.login_timeout_ms = 30 * CONF_MS_S;
	c->limits.idle_timeout_ms = 5 * CONF_MS_M;
	c->limits.max_message_bytes = 64 * CONF_KIB;
	c->limits.max_pipeline = 16;
	c->limits.write_buffer_bytes = 256 * CONF_KIB;
	c->limits.handshake_rate_per_ip = 50;
	c->limits.handshake_burst_per_ip = 200;

	c->auth.scrypt_n = 16384;
	c->auth.scrypt_r = 8;
	c->auth.scrypt_p = 1;
	c->auth.max_failures = 10;
	c->auth.max_failures_per_ip = 100;
	c->auth.failure_window_ms = 15 * CONF_MS_M;
	c->auth.lockout_ms = 15 * CONF_MS_M;
	c->auth.methods = CONF_AUTH_PASSWORD;

	c->handler.kind = CONF_HANDLER_LEDGER;

	c->log.level = CONF_LOG_INFO;
	c->log.format = CONF_LOG_TEXT;

	c->metrics.enabled = false;
	return (c);

err1:
	conf_free(c);
err0:
	return (NULL);
}

struct conf *
conf_new_defaults(void)
{

	return (conf_defaults("(defaults)"));
}

/*
 * Load ${len} bytes at ${buf}, resolving relative paths against ${basedir}
 * (or keeping them relative if it is NULL).
 */
static struct conf *
conf_load(const char *name, const char *basedir, const void *buf,
    size_t len, struct conf_diag *diag)
{
	struct conf_ctx x;
	struct conf_tree t;

	memset(&x, 0, sizeof(x));
	x.name = name;
	x.basedir = basedir;
	x.diag = diag;

	if (len > CONF_MAX_FILE_BYTES) {
		conf_diag_add(diag, "%s: larger than the limit of 1 MiB",
		    name);
		goto err0;
	}
	if ((x.c = conf_defaults(name)) == NULL) {
		conf_diag_add(diag, "%s: out of memory", name);
		goto err0;
	}
	if (conf_tree_load(name, buf, len, diag, &t) != 0)
		goto err2;

	/* No document, or an empty one: every default. */
	if (t.root != NULL)
		conf_walk_section(&x, t.root, conf_top_fields);
	if (x.nerr == 0)
		conf_cross_check(&x);
	if (x.nerr > 0)
		goto err2;

	conf_tree_free(&t);
	return (x.c);

err2:
	conf_tree_free(&t);
	conf_free(x.c);
err0:
	return (NULL);
}

struct conf *
conf_load_buffer(const char *name, const void *buf, size_t len,
    struct conf_diag *diag)
{
	struct conf *c;
	const char *slash;
	char *dir;

	if ((slash = strrchr(name, '/')) == NULL)
		return (conf_load(name, NULL, buf, len, diag));
	if ((dir = strndup(name, slash == name ? 1 :
	    (size_t)(slash - name))) == NULL) {
		conf_diag_add(diag, "%s: out of memory", name);
		return (NULL);
	}
	c = conf_load(name, dir, buf, len, diag);
	free(dir);
	return (c);
}

/* Read at most CONF_MAX_FILE_BYTES + 1 bytes of ${fd} into a new buffer. */
static int
conf_read_fd(int fd, char **bufp, size_t *lenp)
{
	char *buf;
	size_t len = 0, cap = CONF_MAX_FILE_BYTES + 1;
	ssize_t n;

	if ((buf = malloc(cap)) == NULL)
		return (-1);
	while (len < cap) {
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
	return (0);
}

struct conf *
conf_load_file(const char *path, struct conf_diag *diag)
{
	struct conf *c = NULL;
	struct stat st;
	char cwd[PATH_MAX];
	char *buf, *dir;
	const char *slash;
	size_t len;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		conf_diag_add(diag, "%s: cannot open: %s", path,
		    strerror(errno));
		goto err0;
	}
	if (fstat(fd, &st) == -1) {
		conf_diag_add(diag, "%s: cannot read: %s", path,
		    strerror(errno));
		goto err1;
	}
	if (S_ISDIR(st.st_mode)) {
		conf_diag_add(diag, "%s: cannot read: %s", path,
		    strerror(EISDIR));
		goto err1;
	}
	if (conf_read_fd(fd, &buf, &len) != 0) {
		conf_diag_add(diag, "%s: cannot read: %s", path,
		    strerror(errno));
		goto err1;
	}

	/* The directory relative paths are resolved against, absolute. */
	slash = strrchr(path, '/');
	if (path[0] == '/')
		rc = asprintf(&dir, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		rc = -1;
	else if (slash == NULL)
		rc = asprintf(&dir, "%s", cwd);
	else
		rc = asprintf(&dir, "%s/%.*s", cwd, (int)(slash - path), path);
	if (rc == -1) {
		conf_diag_add(diag, "%s: cannot find its directory: %s", path,
		    strerror(errno));
		goto err2;
	}

	c = conf_load(path, dir, buf, len, diag);
	free(dir);
err2:
	free(buf);
err1:
	close(fd);
err0:
	return (c);
}

/* Check one path field (see conf_check_files); return 0 if it is fine. */
static int
conf_check_file(const struct conf *c, const char *key, const char *path,
    struct conf_diag *diag)
{
	struct stat st;
	char dir[PATH_MAX];
	const char *slash;
	int fd;

	/*
	 * An output file (the audit log) may not exist yet: secd creates
	 * it.  Then its directory must exist.
	 */
	if (strcmp(key, "audit.file") == 0 && stat(path, &st) == -1 &&
	    errno == ENOENT) {
		slash = strrchr(path, '/');
		snprintf(dir, sizeof(dir), "%.*s", slash == NULL ? 1 :
		    slash == path ? 1 : (int)(slash - path),
		    slash == NULL ? "." : path);
		if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			conf_diag_key(diag, c, key, "cannot create %s: its "
			    "directory %s does not exist", path, dir);
			return (-1);
		}
		return (0);
	}
	if (stat(path, &st) == -1) {
		conf_diag_key(diag, c, key, "cannot open %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		conf_diag_key(diag, c, key, "%s is not a regular file", path);
		return (-1);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		conf_diag_key(diag, c, key, "cannot open %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	close(fd);
	return (0);
}

static int
conf_check_fields(const struct conf *c, const struct conf_field *fields,
    const char *prefix, struct conf_diag *diag)
{
	const struct conf_field *f;
	char key[128];
	char *const *p;
	int rc = 0;

	for (f = fields; f->name != NULL; f++) {
		snprintf(key, sizeof(key), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", f->name);
		if (f->type == CONF_T_SECTION) {
			if (conf_check_fields(c, f->sub, key, diag) != 0)
				rc = -1;
		} else if (f->type == CONF_T_PATH) {
			p = (char *const *)((const char *)c + f->off);
			if (*p != NULL &&
			    conf_check_file(c, key, *p, diag) != 0)
				rc = -1;
		}
	}
	return (rc);
}

int
conf_check_files(const struct conf *c, struct conf_diag *diag)
{

	return (conf_check_fields(c, conf_top_fields, "", diag));
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->name);
	free(c->tls.certificate);
	free(c->tls.key);
	free(c->tls.client_ca);
	free(c->tls.ticket_key_file);
	free(c->handler.module);
	free(c->audit.file);
	for (i = 0; i < c->handler.noptions; i++) {
		free(c->handler.options[i].key);
		free(c->handler.options[i].value);
	}
	free(c->handler.options);
	free(c->user);
	free(c->group);
	for (i = 0; i < c->nmarks; i++)
		free(c->marks[i].key);
	free(c->marks);
	free(c);
}

const struct conf_option *
conf_handler_option(const struct conf *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->handler.noptions; i++)
		if (strcmp(c->handler.options[i].key, key) == 0)
			return (&c->handler.options[i]);
	return (NULL);
}

int
conf_key_pos(const struct conf *c, const char *key, unsigned int *line,
    unsigned int *column)
{
	static const char prefix[] = "handler.options.";
	const struct conf_option *o;
	const struct conf_mark *m;

	if (strncmp(key, prefix, sizeof(prefix) - 1) == 0 &&
	    (o = conf_handler_option(c, key + sizeof(prefix) - 1)) != NULL) {
		*line = o->line;
		*column = o->column;
		return (0);
	}
	if ((m = conf_mark_find(c, key)) == NULL)
		return (-1);
	*line = m->line;
	*column = m->column;
	return (0);
}

/* Find schema key *${i} below ${fields}, counting *${i} down. */
static int
conf_schema_nth(const struct conf_field *fields, const char *prefix,
    size_t *i, char *buf, size_t size)
{
	const struct conf_field *f;
	char key[128];

	for (f = fields; f->name != NULL; f++) {
		/* Schema names are short; a cut key would only show in docs. */
		if (snprintf(key, sizeof(key), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", f->name) >= (int)sizeof(key))
			key[sizeof(key) - 1] = '\0';
		if ((*i)-- == 0) {
			snprintf(buf, size, "%s", key);
			return (0);
		}
		if (f->type == CONF_T_SECTION &&
		    conf_schema_nth(f->sub, key, i, buf, size) == 0)
			return (0);
	}
	return (-1);
}

int
conf_schema_key(size_t i, char *buf, size_t size)
{

	return (conf_schema_nth(conf_top_fields, "", &i, buf, size));
}

const char *
conf_cipher_name(enum conf_cipher s)
{

	if ((unsigned int)s >= CONF_CIPHER_COUNT)
		return ("?");
	return (conf_cipher_names[s]);
}

const char *
conf_group_name(enum conf_group g)
{

	if ((unsigned int)g >= CONF_GROUP_COUNT)
		return ("?");
	return (conf_group_names[g]);
}
