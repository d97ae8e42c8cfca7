/*
 * check_protocol_doc.c: docs/protocol.md is executable.
 *
 * Reads the protocol document ($SECD_SRCDIR/docs/protocol.md, or the file
 * named by $SECD_PROTOCOL_DOC), runs every example line through the codec as
 * section 15 of the document describes, and checks that the examples cover
 * every op and every error code, that the classic AAA/123/10000 CNY session
 * is there, and that the secd-limits block matches proto/msg.h.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "msg.h"

/*
 * bytes_dup(p, n): the n bytes at p as a NUL-terminated string.  A codec
 * buffer is not NUL-terminated, so strndup() (which may look for a NUL
 * past n, and does under ASan's strict_string_checks) is not for it.
 */
static char *
bytes_dup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

#define DOC_MAX_BLOCK_REQUESTS	64

/* A request seen in the current block: its id and op. */
struct doc_req {
	struct msg_id	 id;
	enum msg_op	 op;
};

/* What one pass over the document found. */
struct doc {
	int		 examples;		/* example lines checked */
	int		 blocks;
	char		 failure[1024];		/* first failure, if any */
	int		 op_requests[MSG_OP_EXT + 1];
	int		 op_successes[MSG_OP_EXT + 1];
	int		 err_replies[MSG_ERR_COUNT];
	int		 malformed;		/* C! lines */
	int		 hello;
	int		 classic_login;
	int		 classic_balance;
	int		 limits_seen;
	char		 limits_failure[512];
	/* Current example block. */
	struct doc_req	 reqs[DOC_MAX_BLOCK_REQUESTS];
	size_t		 nreqs;
	char		*expect;		/* S: line owed to a C! line */
	int		 expect_lineno;
};

static void
doc_fail(struct doc *d, int lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
doc_fail(struct doc *d, int lineno, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->failure[0] != '\0')
		return;
	n = snprintf(d->failure, sizeof(d->failure), "protocol.md:%d: ",
	    lineno);
	va_start(ap, fmt);
	vsnprintf(d->failure + n, sizeof(d->failure) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Compare what b holds with line plus "\n". */
static int
doc_same(const struct codec_buf *b, const char *line)
{
	size_t len = strlen(line);

	return (b->len == len + 1 && memcmp(b->data, line, len) == 0 &&
	    b->data[len] == '\n');
}

static void
doc_client(struct doc *d, int lineno, const char *line)
{
	struct msg_request req;
	struct codec_error err;
	struct codec_buf b;

	if (codec_decode_request(line, strlen(line), &req, &err) != 0) {
		doc_fail(d, lineno, "request does not decode: %s",
		    err.message);
		return;
	}
	codec_buf_init(&b);
	if (codec_encode_request(&b, &req) != 0)
		doc_fail(d, lineno, "request does not encode: %s",
		    strerror(errno));
	else if (!doc_same(&b, line))
		doc_fail(d, lineno, "request is not canonical; the codec "
		    "writes %.*s", (int)b.len - 1, b.data);
	codec_buf_free(&b);

	d->op_requests[req.op]++;
	if (req.op == MSG_OP_LOGIN &&
	    strcmp(req.u.login.account, "AAA") == 0 &&
	    strcmp(req.u.login.password, "123") == 0)
		d->classic_login = 1;
	if (d->nreqs == DOC_MAX_BLOCK_REQUESTS)
		doc_fail(d, lineno, "too many requests in one block");
	else {
		d->reqs[d->nreqs].id = req.id;
		d->reqs[d->nreqs++].op = req.op;
	}
	msg_request_clear(&req);
}

static void
doc_malformed(struct doc *d, int lineno, const char *line)
{
	struct msg_request req;
	struct codec_error err;
	struct codec_buf b;

	d->malformed++;
	if (codec_decode_request(line, strlen(line), &req, &err) == 0) {
		doc_fail(d, lineno, "C! line decodes as a valid request");
		msg_request_clear(&req);
		return;
	}
	codec_buf_init(&b);
	if (codec_encode_error(&b, &err.id, err.code, err.message) != 0) {
		doc_fail(d, lineno, "error reply does not encode");
		codec_buf_free(&b);
		return;
	}
	/* The next line must be exactly this reply, without its LF. */
	free(d->expect);
	d->expect = bytes_dup(b.data, b.len - 1);
	d->expect_lineno = lineno;
	codec_buf_free(&b);
}

/* The op of the latest request of this block with this id. */
static enum msg_op
doc_op_for(const struct doc *d, const struct msg_id *id)
{
	size_t i;

	for (i = d->nreqs; i > 0; i--)
		if (msg_id_equal(&d->reqs[i - 1].id, id))
			return (d->reqs[i - 1].op);
	return (MSG_OP_NONE);
}

static void
doc_server(struct doc *d, int lineno, const char *line)
{
	struct msg_hello h;
	struct msg_reply rep;
	struct codec_error err;
	struct codec_buf b;
	struct msg_id id;
	enum msg_op op;
	int rc;

	codec_buf_init(&b);
	if (strncmp(line, "{\"type\":", 8) == 0) {
		if (codec_decode_hello(line, strlen(line), &h, &err) != 0) {
			doc_fail(d, lineno, "greeting does not decode: %s",
			    err.message);
			goto out;
		}
		if (codec_encode_hello(&b, &h) != 0 || !doc_same(&b, line))
			doc_fail(d, lineno, "greeting is not canonical");
		d->hello = 1;
		goto out;
	}
	if (codec_decode_reply_id(line, strlen(line), &id, &err) != 0) {
		doc_fail(d, lineno, "reply has no readable id: %s",
		    err.message);
		goto out;
	}
	op = doc_op_for(d, &id);
	if (codec_decode_reply(line, strlen(line), op, &rep, &err) != 0) {
		doc_fail(d, lineno, "reply to %s does not decode: %s",
		    op == MSG_OP_NONE ? "an unknown request" :
		    op == MSG_OP_EXT ? "an extension op" : msg_op_name(op),
		    err.message);
		goto out;
	}
	rc = codec_encode_reply(&b, &rep);
	if (rc != 0)
		doc_fail(d, lineno, "reply does not encode: %s",
		    strerror(errno));
	else if (!doc_same(&b, line))
		doc_fail(d, lineno, "reply is not canonical; the codec writes "
		    "%.*s", (int)b.len - 1, b.data);
	if (rep.error.code != MSG_ERR_NONE)
		d->err_replies[rep.error.code]++;
	else
		d->op_successes[op]++;
	if (rep.error.code == MSG_ERR_NONE && op == MSG_OP_BALANCE &&
	    strcmp(rep.u.balance.account, "AAA") == 0 &&
	    rep.u.balance.balance == 10000 &&
	    strcmp(rep.u.balance.currency, "CNY") == 0)
		d->classic_balance = 1;
	msg_reply_clear(&rep);
out:
	codec_buf_free(&b);
}

static void
doc_example_line(struct doc *d, int lineno, const char *line)
{

	if (d->expect != NULL) {
		if (strncmp(line, "S: ", 3) != 0 ||
		    strcmp(line + 3, d->expect) != 0)
			doc_fail(d, d->expect_lineno, "the codec answers this "
			    "C! line with %s", d->expect);
		else
			doc_server(d, lineno, line + 3);
		free(d->expect);
		d->expect = NULL;
		d->examples++;
		return;
	}
	if (strncmp(line, "C: ", 3) == 0)
		doc_client(d, lineno, line + 3);
	else if (strncmp(line, "C! ", 3) == 0)
		doc_malformed(d, lineno, line + 3);
	else if (strncmp(line, "S: ", 3) == 0)
		doc_server(d, lineno, line + 3);
	else {
		doc_fail(d, lineno, "example line without C:, C! or S:");
		return;
	}
	d->examples++;
}

/* The limits the document must state, with the values of msg.h. */
static const struct {
	const char	*name;
	long long	 value;
} doc_limits[] = {
	{ "max_message_bytes.default", MSG_MAX_MESSAGE_DEFAULT },
	{ "max_message_bytes.min", MSG_MAX_MESSAGE_MIN },
	{ "max_message_bytes.max", MSG_MAX_MESSAGE_MAX },
	{ "server_line.max", MSG_REPLY_MAX_BYTES },
	{ "depth.max", MSG_MAX_DEPTH },
	{ "integer.max", MSG_INT_MAX },
	{ "id.string.max", MSG_ID_STR_MAX },
	{ "op.max", MSG_OP_NAME_MAX },
	{ "account.max", MSG_ACCOUNT_MAX },
	{ "password.max", MSG_PASSWORD_MAX },
	{ "idempotency_key.max", MSG_IDEM_KEY_MAX },
	{ "memo.max", MSG_MEMO_MAX },
	{ "currency.length", MSG_CURRENCY_LEN },
	{ "history.limit.default", MSG_HISTORY_LIMIT_DEFAULT },
	{ "history.limit.max", MSG_HISTORY_LIMIT_MAX },
	{ "error.message.max", MSG_ERROR_MESSAGE_MAX },
	{ "hello.server.max", MSG_SERVER_NAME_MAX },
	{ "hello.ops.max", MSG_HELLO_OPS_MAX },
};
#define DOC_NLIMITS	(sizeof(doc_limits) / sizeof(doc_limits[0]))

static void
doc_limit_line(struct doc *d, int lineno, const char *line)
{
	char name[64];
	long long value;
	size_t i;

	if (sscanf(line, "%63s %lld", name, &value) != 2) {
		snprintf(d->limits_failure, sizeof(d->limits_failure),
		    "protocol.md:%d: not \"name value\"", lineno);
		return;
	}
	for (i = 0; i < DOC_NLIMITS; i++)
		if (strcmp(doc_limits[i].name, name) == 0)
			break;
	if (i == DOC_NLIMITS) {
		snprintf(d->limits_failure, sizeof(d->limits_failure),
		    "protocol.md:%d: unknown limit %s", lineno, name);
		return;
	}
	if (doc_limits[i].value != value) {
		snprintf(d->limits_failure, sizeof(d->limits_failure),
		    "protocol.md:%d: %s is %lld in the document, %lld in msg.h",
		    lineno, name, value, doc_limits[i].value);
		return;
	}
	d->limits_seen |= 1 << i;
}

static FILE *
doc_open(void)
{
	const char *path, *src;
	char buf[4096];
	FILE *f;

	if ((path = getenv("SECD_PROTOCOL_DOC")) == NULL) {
		src = getenv("SECD_SRCDIR");
		ck_assert_msg(src != NULL, "SECD_SRCDIR is not set");
		snprintf(buf, sizeof(buf), "%s/docs/protocol.md", src);
		path = buf;
	}
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	return (f);
}

/* Read the whole document once. */
static void
doc_read(struct doc *d)
{
	enum { OUTSIDE, EXAMPLE, LIMITS, OTHER } state = OUTSIDE;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	FILE *f;

	memset(d, 0, sizeof(*d));
	f = doc_open();
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strncmp(line, "```", 3) == 0) {
			if (state != OUTSIDE) {
				if (state == EXAMPLE && d->expect != NULL)
					doc_fail(d, d->expect_lineno,
					    "C! line without its S: reply");
				free(d->expect);
				d->expect = NULL;
				state = OUTSIDE;
			} else if (strcmp(line + 3, "secd-example") == 0) {
				state = EXAMPLE;
				d->blocks++;
				d->nreqs = 0;
			} else if (strcmp(line + 3, "secd-limits") == 0)
				state = LIMITS;
			else
				state = OTHER;
			continue;
		}
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (state == EXAMPLE)
			doc_example_line(d, lineno, line);
		else if (state == LIMITS)
			doc_limit_line(d, lineno, line);
	}
	if (state != OUTSIDE)
		doc_fail(d, lineno, "unterminated code block");
	free(d->expect);
	d->expect = NULL;
	free(line);
	fclose(f);
}

START_TEST(test_protocol_doc_has_examples)
{
	struct doc d;

	doc_read(&d);
	ck_assert_msg(d.examples > 0, "no secd-example lines in protocol.md");
	ck_assert_int_gt(d.blocks, 0);
	ck_assert_int_gt(d.malformed, 0);
}
END_TEST

START_TEST(test_protocol_doc_examples_round_trip)
{
	struct doc d;

	doc_read(&d);
	ck_assert_msg(d.failure[0] == '\0', "%s", d.failure);
	ck_assert_int_gt(d.examples, 0);
}
END_TEST

START_TEST(test_protocol_doc_covers_every_op)
{
	struct doc d;
	enum msg_op op;

	doc_read(&d);
	for (op = MSG_OP_PING; op <= MSG_OP_EXT; op++) {
		ck_assert_msg(d.op_requests[op] > 0, "no request example for "
		    "%s", op == MSG_OP_EXT ? "an extension op" :
		    msg_op_name(op));
		ck_assert_msg(d.op_successes[op] > 0, "no success reply "
		    "example for %s", op == MSG_OP_EXT ? "an extension op" :
		    msg_op_name(op));
	}
}
END_TEST

START_TEST(test_protocol_doc_covers_every_error_code)
{
	struct doc d;
	enum msg_err code;

	doc_read(&d);
	for (code = MSG_ERR_NONE + 1; code < MSG_ERR_COUNT; code++)
		ck_assert_msg(d.err_replies[code] > 0, "no example of error "
		    "%s", msg_err_name(code));
}
END_TEST

START_TEST(test_protocol_doc_has_classic_session)
{
	struct doc d;

	doc_read(&d);
	ck_assert_msg(d.hello, "no greeting example");
	ck_assert_msg(d.classic_login, "no login as AAA with password 123");
	ck_assert_msg(d.classic_balance,
	    "no balance reply for AAA of 10000 CNY");
}
END_TEST

START_TEST(test_protocol_doc_limits_match_msg_h)
{
	struct doc d;
	size_t i;

	doc_read(&d);
	ck_assert_msg(d.limits_failure[0] == '\0', "%s", d.limits_failure);
	for (i = 0; i < DOC_NLIMITS; i++)
		ck_assert_msg(d.limits_seen & (1 << i),
		    "limit %s is not in the secd-limits block",
		    doc_limits[i].name);
}
END_TEST

Suite *protocol_doc_suite(void);

Suite *
protocol_doc_suite(void)
{
	Suite *s = suite_create("protocol_doc");
	TCase *tc = tcase_create("protocol_doc");

	tcase_add_test(tc, test_protocol_doc_has_examples);
	tcase_add_test(tc, test_protocol_doc_examples_round_trip);
	tcase_add_test(tc, test_protocol_doc_covers_every_op);
	tcase_add_test(tc, test_protocol_doc_covers_every_error_code);
	tcase_add_test(tc, test_protocol_doc_has_classic_session);
	tcase_add_test(tc, test_protocol_doc_limits_match_msg_h);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	codec_init();
	sr = srunner_create(protocol_doc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
