/*
 * msg.c: names, validators and lifetimes of the protocol v1 message model.
 *
 * Everything here is table-driven or a small scanner over bytes, so that the
 * codec, dispatch and secctl share one definition of each rule.  Nothing in
 * this file parses JSON; see codec.c for that.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg.h"

static const char *const msg_op_names[] = {
	[MSG_OP_PING] = "ping",
	[MSG_OP_LOGIN] = "login",
	[MSG_OP_LOGOUT] = "logout",
	[MSG_OP_BALANCE] = "balance",
	[MSG_OP_TRANSFER] = "transfer",
	[MSG_OP_HISTORY] = "history",
};

static const char *const msg_err_names[MSG_ERR_COUNT] = {
	[MSG_ERR_BAD_REQUEST] = "bad_request",
	[MSG_ERR_TOO_LARGE] = "too_large",
	[MSG_ERR_UNKNOWN_OP] = "unknown_op",
	[MSG_ERR_AUTH_REQUIRED] = "auth_required",
	[MSG_ERR_AUTH_FAILED] = "auth_failed",
	[MSG_ERR_LOCKED] = "locked",
	[MSG_ERR_RATE_LIMITED] = "rate_limited",
	[MSG_ERR_NO_SUCH_ACCOUNT] = "no_such_account",
	[MSG_ERR_INSUFFICIENT_FUNDS] = "insufficient_funds",
	[MSG_ERR_CONFLICT] = "conflict",
	[MSG_ERR_UNAVAILABLE] = "unavailable",
	[MSG_ERR_INTERNAL] = "internal",
	[MSG_ERR_INVALID_AMOUNT] = "invalid_amount",
	[MSG_ERR_SAME_ACCOUNT] = "same_account",
	[MSG_ERR_CURRENCY_MISMATCH] = "currency_mismatch",
};

#define MSG_NOPNAMES (sizeof(msg_op_names) / sizeof(msg_op_names[0]))

const char *
msg_op_name(enum msg_op op)
{

	if ((size_t)op >= MSG_NOPNAMES)
		return (NULL);
	return (msg_op_names[op]);
}

enum msg_op
msg_op_from_name(const char *name, size_t len)
{
	size_t i;

	if (!msg_op_name_valid(name, len))
		return (MSG_OP_NONE);
	for (i = 0; i < MSG_NOPNAMES; i++) {
		if (msg_op_names[i] != NULL &&
		    strlen(msg_op_names[i]) == len &&
		    memcmp(msg_op_names[i], name, len) == 0)
			return ((enum msg_op)i);
	}
	return (MSG_OP_EXT);
}

const char *
msg_err_name(enum msg_err code)
{

	if ((size_t)code >= MSG_ERR_COUNT)
		return (NULL);
	return (msg_err_names[code]);
}

int
msg_err_from_name(const char *name, size_t len, enum msg_err *code)
{
	size_t i;

	for (i = 1; i < MSG_ERR_COUNT; i++) {
		if (msg_err_names[i] != NULL &&
		    strlen(msg_err_names[i]) == len &&
		    memcmp(msg_err_names[i], name, len) == 0) {
			*code = (enum msg_err)i;
			return (0);
		}
	}
	return (-1);
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 if
 * the bytes there are not one.  Decodes the code point into *cp.  Follows
 * the table in RFC 3629 section 4, which excludes overlong forms and
 * surrogates by restricting the second byte.
 */
static size_t
msg_utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return (1);
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	if (n < len)
		return (0);
	if (s[1] < lo || s[1] > hi)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return (len);
}

/*
 * Check UTF-8; if nocntrl, also refuse C0 and C1 controls and DEL; if
 * nonul, refuse NUL.  Return 1 if the bytes pass.
 */
static int
msg_text_valid(const char *s, size_t len, int nocntrl, int nonul)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = msg_utf8_char(p + i, len - i, &cp)) == 0)
			return (0);
		if (cp == 0 && nonul)
			return (0);
		if (nocntrl && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)))
			return (0);
		i += n;
	}
	return (1);
}

int
msg_utf8_valid(const char *s, size_t len)
{

	return (msg_text_valid(s, len, 0, 0));
}

size_t
msg_utf8_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	for (;;) {
		/* Protocol text is mostly ASCII: skip it a byte at a time. */
		while (i < len && p[i] < 0x80)
			i++;
		if (i == len || (n = msg_utf8_char(p + i, len - i, &cp)) == 0)
			return (i);
		i += n;
	}
}

/* 1 if every byte of s is in the set of ASCII characters allowed. */
static int
msg_charset_valid(const char *s, size_t len, size_t min, size_t max,
    const char *extra, int upper, int lower, int digit)
{
	size_t i;
	unsigned char c;

	if (len < min || len > max)
		return (0);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (upper && c >= 'A' && c <= 'Z')
			continue;
		if (lower && c >= 'a' && c <= 'z')
			continue;
		if (digit && c >= '0' && c <= '9')
			continue;
		if (c != '\0' && strchr(extra, c) != NULL)
			continue;
		return (0);
	}
	return (1);
}

int
msg_op_name_valid(const char *s, size_t len)
{

	return (msg_charset_valid(s, len, 1, MSG_OP_NAME_MAX, "_", 0, 1, 1));
}

int
msg_account_valid(const char *s, size_t len)
{

	return (msg_charset_valid(s, len, 1, MSG_ACCOUNT_MAX, "._@-",
	    1, 1, 1));
}

int
msg_idem_key_valid(const char *s, size_t len)
{

	return (msg_charset_valid(s, len, 1, MSG_IDEM_KEY_MAX, "._:-",
	    1, 1, 1));
}

int
msg_currency_valid(const char *s, size_t len)
{

	return (msg_charset_valid(s, len, MSG_CURRENCY_LEN, MSG_CURRENCY_LEN,
	    "", 1, 0, 0));
}

int
msg_server_name_valid(const char *s, size_t len)
{

	return (msg_charset_valid(s, len, 1, MSG_SERVER_NAME_MAX, "._-",
	    1, 1, 1));
}

int
msg_password_valid(const char *s, size_t len)
{

	if (len < 1 || len > MSG_PASSWORD_MAX)
		return (0);
	return (msg_text_valid(s, len, 0, 1));
}

int
msg_memo_valid(const char *s, size_t len)
{

	if (len > MSG_MEMO_MAX)
		return (0);
	return (msg_text_valid(s, len, 1, 1));
}

int
msg_error_message_valid(const char *s, size_t len)
{

	if (len > MSG_ERROR_MESSAGE_MAX)
		return (0);
	return (msg_text_valid(s, len, 1, 1));
}

int
msg_id_str_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > MSG_ID_STR_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return (0);
	return (1);
}

int
msg_int_valid(int64_t n)
{

	return (n >= -MSG_INT_MAX && n <= MSG_INT_MAX);
}

int
msg_id_valid(const struct msg_id *id)
{

	switch (id->kind) {
	case MSG_ID_NONE:
		return (1);
	case MSG_ID_INT:
		return (msg_int_valid(id->num));
	case MSG_ID_STR:
		return (msg_id_str_valid(id->str,
		    strnlen(id->str, sizeof(id->str))));
	}
	return (0);
}

int
msg_id_equal(const struct msg_id *a, const struct msg_id *b)
{

	if (a->kind != b->kind)
		return (0);
	switch (a->kind) {
	case MSG_ID_NONE:
		return (1);
	case MSG_ID_INT:
		return (a->num == b->num);
	case MSG_ID_STR:
		return (strcmp(a->str, b->str) == 0);
	}
	return (0);
}

int
msg_id_set_int(struct msg_id *id, int64_t n)
{

	if (!msg_int_valid(n))
		return (-1);
	memset(id, 0, sizeof(*id));
	id->kind = MSG_ID_INT;
	id->num = n;
	return (0);
}

int
msg_id_set_str(struct msg_id *id, const char *s)
{
	size_t len = strlen(s);

	if (!msg_id_str_valid(s, len))
		return (-1);
	memset(id, 0, sizeof(*id));
	id->kind = MSG_ID_STR;
	memcpy(id->str, s, len);
	return (0);
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back.  The usual
 * era arithmetic (400-year cycles of 146097 days); only years 1970..9999
 * reach here, so nothing is negative.
 */
static int64_t
msg_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static void
msg_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* Write v as exactly n decimal digits at p. */
static void
msg_put_digits(char *p, size_t n, int64_t v)
{

	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

int
msg_time_format(int64_t t, char *buf)
{
	int64_t days, secs, y, m, d;

	if (t < 0 || t > MSG_TIME_MAX)
		return (-1);
	days = t / 86400;
	secs = t % 86400;
	msg_civil_from_days(days, &y, &m, &d);
	memcpy(buf, "0000-00-00T00:00:00Z", MSG_TIME_LEN + 1);
	msg_put_digits(buf, 4, y);
	msg_put_digits(buf + 5, 2, m);
	msg_put_digits(buf + 8, 2, d);
	msg_put_digits(buf + 11, 2, secs / 3600);
	msg_put_digits(buf + 14, 2, secs / 60 % 60);
	msg_put_digits(buf + 17, 2, secs % 60);
	return (0);
}

/* Parse n decimal digits at s into *v; return -1 on a non-digit. */
static int
msg_digits(const char *s, size_t n, int64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		*v = *v * 10 + (s[i] - '0');
	}
	return (0);
}

int
msg_time_parse(const char *s, size_t len, int64_t *t)
{
	static const int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int64_t y, mo, d, h, mi, sec, dim;

	if (len != MSG_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return (-1);
	if (msg_digits(s, 4, &y) || msg_digits(s + 5, 2, &mo) ||
	    msg_digits(s + 8, 2, &d) || msg_digits(s + 11, 2, &h) ||
	    msg_digits(s + 14, 2, &mi) || msg_digits(s + 17, 2, &sec))
		return (-1);
	if (y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		return (-1);
	dim = mdays[mo - 1];
	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim)
		return (-1);
	*t = msg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return (0);
}

void
msg_request_init(struct msg_request *req)
{

	memset(req, 0, sizeof(*req));
}

void
msg_request_clear(struct msg_request *req)
{

	if (req == NULL)
		return;
	json_decref(req->args);
	/* The union may hold a password: wipe all of it, not just zero. */
	explicit_bzero(req, sizeof(*req));
}

int
msg_request_set_op(struct msg_request *req, const char *name)
{
	size_t len = strlen(name);
	enum msg_op op;

	if ((op = msg_op_from_name(name, len)) == MSG_OP_NONE)
		return (-1);
	req->op = op;
	memcpy(req->op_name, name, len + 1);
	return (0);
}

void
msg_reply_init(struct msg_reply *rep, const struct msg_id *id,
    enum msg_op op)
{

	memset(rep, 0, sizeof(*rep));
	if (id != NULL)
		rep->id = *id;
	rep->op = op;
}

/* Free what a success reply holds on the heap; the caller zeroes. */
static void
msg_reply_free_body(struct msg_reply *rep)
{

	if (rep->op == MSG_OP_HISTORY)
		free(rep->u.history.entries);
	json_decref(rep->fields);
}

/* Release what a success reply holds; keep id, op and error. */
static void
msg_reply_drop_body(struct msg_reply *rep)
{

	msg_reply_free_body(rep);
	rep->fields = NULL;
	memset(&rep->u, 0, sizeof(rep->u));
}

void
msg_reply_clear(struct msg_reply *rep)
{

	if (rep == NULL)
		return;
	msg_reply_free_body(rep);
	memset(rep, 0, sizeof(*rep));
}

void
msg_reply_set_error(struct msg_reply *rep, enum msg_err code,
    const char *fmt, ...)
{
	va_list ap;

	msg_reply_drop_body(rep);
	memset(&rep->error, 0, sizeof(rep->error));
	rep->error.code = code;
	va_start(ap, fmt);
	vsnprintf(rep->error.message, sizeof(rep->error.message), fmt, ap);
	va_end(ap);
}

int
msg_reply_history_alloc(struct msg_reply *rep, size_t n)
{
	struct msg_history_entry *e;

	if (rep->op != MSG_OP_HISTORY || n > MSG_HISTORY_LIMIT_MAX) {
		errno = EINVAL;
		return (-1);
	}
	/* calloc(0) may return NULL; always ask for at least one entry. */
	if ((e = calloc(n > 0 ? n : 1, sizeof(*e))) == NULL)
		return (-1);
	free(rep->u.history.entries);
	rep->u.history.entries = e;
	rep->u.history.nentries = n;
	return (0);
}

void
msg_hello_init(struct msg_hello *h, int64_t max_message_bytes)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	strcpy(h->server, "secd");
	h->version = MSG_PROTOCOL_VERSION;
	h->max_message_bytes = max_message_bytes;
	for (i = 0; i < MSG_NOPNAMES; i++)
		if (msg_op_names[i] != NULL)
			strcpy(h->ops[h->nops++], msg_op_names[i]);
}

int
msg_hello_add_op(struct msg_hello *h, const char *name)
{
	size_t i, len = strlen(name);

	if (!msg_op_name_valid(name, len) || h->nops >= MSG_HELLO_OPS_MAX)
		return (-1);
	for (i = 0; i < h->nops; i++)
		if (strcmp(h->ops[i], name) == 0)
			return (-1);
	memcpy(h->ops[h->nops++], name, len + 1);
	return (0);
}
