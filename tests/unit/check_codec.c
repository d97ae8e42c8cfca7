/*
 * check_codec.c: the message model and the JSON-lines codec (proto/msg.c,
 * proto/codec.c).
 *
 * Round trips are byte-exact: a canonical line decodes and encodes back to
 * the same bytes.  Every rejection is checked for its error code, the key
 * words of its message, and the id recovered for the error reply.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* Encode req, expect success, return a NUL-terminated copy of the line. */
static char *
enc_request(const struct msg_request *req)
{
	struct codec_buf b;
	char *s;

	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_request(&b, req), 0);
	s = bytes_dup(b.data, b.len);
	ck_assert_ptr_nonnull(s);
	codec_buf_free(&b);
	return (s);
}

static char *
enc_reply(const struct msg_reply *rep)
{
	struct codec_buf b;
	char *s;

	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_reply(&b, rep), 0);
	s = bytes_dup(b.data, b.len);
	ck_assert_ptr_nonnull(s);
	codec_buf_free(&b);
	return (s);
}

/* line (canonical, without "\n") decodes and encodes back to line "\n". */
static void
request_round_trip(const char *line)
{
	struct msg_request req;
	struct codec_error err;
	char *out, want[4096];

	if (codec_decode_request(line, strlen(line), &req, &err) != 0)
		ck_abort_msg("decode %s: %s", line, err.message);
	out = enc_request(&req);
	snprintf(want, sizeof(want), "%s\n", line);
	ck_assert_str_eq(out, want);
	free(out);
	msg_request_clear(&req);
}

static void
reply_round_trip(const char *line, enum msg_op op)
{
	struct msg_reply rep;
	struct codec_error err;
	char *out, want[8192];

	if (codec_decode_reply(line, strlen(line), op, &rep, &err) != 0)
		ck_abort_msg("decode %s: %s", line, err.message);
	ck_assert_int_eq(rep.op, op);
	out = enc_reply(&rep);
	snprintf(want, sizeof(want), "%s\n", line);
	ck_assert_str_eq(out, want);
	free(out);
	msg_reply_clear(&rep);
}

/*
 * The request line of len bytes is rejected with code and a message
 * containing words; the recovered id is id (NULL: none).
 */
static void
request_fails_n(const char *line, size_t len, enum msg_err code,
    const char *words, const char *id)
{
	struct msg_request req;
	struct codec_error err;
	char idtext[80];

	memset(&err, 0x5a, sizeof(err));
	if (codec_decode_request(line, len, &req, &err) == 0)
		ck_abort_msg("decode accepted %s", line);
	ck_assert_msg(err.code == code, "%s: code %d, want %d (%s)", line,
	    err.code, code, err.message);
	ck_assert_msg(strstr(err.message, words) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", line, err.message, words);
	ck_assert_msg(msg_error_message_valid(err.message,
	    strlen(err.message)), "message not valid for the wire");
	/* Nothing to free, and the struct is reset. */
	ck_assert_int_eq(req.op, MSG_OP_NONE);
	ck_assert_ptr_null(req.args);
	if (err.id.kind == MSG_ID_NONE)
		strcpy(idtext, "(none)");
	else if (err.id.kind == MSG_ID_INT)
		snprintf(idtext, sizeof(idtext), "%lld",
		    (long long)err.id.num);
	else
		snprintf(idtext, sizeof(idtext), "\"%s\"", err.id.str);
	ck_assert_msg(strcmp(idtext, id != NULL ? id : "(none)") == 0,
	    "%s: recovered id %s, want %s", line, idtext,
	    id != NULL ? id : "(none)");
}

static void
request_fails(const char *line, enum msg_err code, const char *words,
    const char *id)
{

	request_fails_n(line, strlen(line), code, words, id);
}

static void
reply_fails(const char *line, enum msg_op op, const char *words)
{
	struct msg_reply rep;
	struct codec_error err;

	if (codec_decode_reply(line, strlen(line), op, &rep, &err) == 0)
		ck_abort_msg("reply decode accepted %s", line);
	ck_assert_msg(strstr(err.message, words) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", line, err.message, words);
	ck_assert_ptr_null(rep.fields);
	ck_assert_ptr_null(rep.u.history.entries);
}

static struct msg_request
decode_ok(const char *line)
{
	struct msg_request req;
	struct codec_error err;

	if (codec_decode_request(line, strlen(line), &req, &err) != 0)
		ck_abort_msg("decode %s: %s", line, err.message);
	return (req);
}

/* A string of n copies of c. */
static char *
rep_char(int c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return (s);
}

/* ---------------------------------------------------------------------- */
/* Requests: round trips and fields                                       */

START_TEST(test_codec_request_round_trips_every_op)
{
	static const char *const lines[] = {
		"{\"id\":7,\"op\":\"ping\"}",
		"{\"op\":\"ping\"}",
		"{\"id\":\"a-1 \\\"q\\\" \\\\\",\"op\":\"ping\"}",
		"{\"id\":-9007199254740991,\"op\":\"logout\"}",
		"{\"id\":9007199254740991,\"op\":\"balance\"}",
		"{\"id\":1,\"op\":\"login\",\"account\":\"AAA\",\"password\":"
		    "\"123\"}",
		"{\"id\":1,\"op\":\"login\",\"account\":\"a.b_c@d-e\","
		    "\"password\":\"p\\u0001\\t\\n\\\\\\\" \xe5\xaf\x86\"}",
		"{\"id\":2,\"op\":\"transfer\",\"to\":\"BBB\",\"amount\":1000,"
		    "\"idempotency_key\":\"k.1_2:3-4\",\"memo\":\"lunch\"}",
		"{\"id\":2,\"op\":\"transfer\",\"to\":\"BBB\",\"amount\":-5,"
		    "\"idempotency_key\":\"k\"}",
		"{\"id\":3,\"op\":\"history\"}",
		"{\"id\":3,\"op\":\"history\",\"limit\":10}",
		"{\"id\":3,\"op\":\"history\",\"limit\":100,\"before\":41}",
		"{\"id\":4,\"op\":\"stats\"}",
		"{\"id\":4,\"op\":\"x_9\",\"a\":[1,2.5,\"s\",null,true],"
		    "\"b\":{\"c\":{}}}",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		request_round_trip(lines[i]);
}
END_TEST

START_TEST(test_codec_decodes_request_fields)
{
	struct msg_request req;

	req = decode_ok("{\"id\":\"x\",\"op\":\"login\",\"account\":\"AAA\","
	    "\"password\":\"1\\u00e923\"}");
	ck_assert_int_eq(req.id.kind, MSG_ID_STR);
	ck_assert_str_eq(req.id.str, "x");
	ck_assert_int_eq(req.op, MSG_OP_LOGIN);
	ck_assert_str_eq(req.op_name, "login");
	ck_assert_str_eq(req.u.login.account, "AAA");
	ck_assert_str_eq(req.u.login.password, "1\xc3\xa9" "23");
	ck_assert_uint_eq(req.u.login.password_len, 5);
	msg_request_clear(&req);

	req = decode_ok("{\"op\":\"transfer\",\"amount\":-0,\"to\":\"B\","
	    "\"memo\":\"\",\"idempotency_key\":\"k\"}");
	ck_assert_int_eq(req.id.kind, MSG_ID_NONE);
	ck_assert_int_eq(req.op, MSG_OP_TRANSFER);
	ck_assert_str_eq(req.u.transfer.to, "B");
	ck_assert_int_eq(req.u.transfer.amount, 0);
	ck_assert_str_eq(req.u.transfer.memo, "");
	msg_request_clear(&req);

	req = decode_ok("{\"op\":\"history\"}");
	ck_assert_uint_eq(req.u.history.limit, 0);
	ck_assert_int_eq(req.u.history.before, 0);
	msg_request_clear(&req);
}
END_TEST

START_TEST(test_codec_accepts_whitespace_and_reorders_canonically)
{
	struct msg_request req;
	char *out;

	req = decode_ok(" \t{ \"amount\" : 5 , \"memo\":\"m\", \"to\":\"B\", "
	    "\"idempotency_key\":\"k\",\"op\":\"transfer\" ,\"id\": 9 }\r ");
	out = enc_request(&req);
	ck_assert_str_eq(out, "{\"id\":9,\"op\":\"transfer\",\"to\":\"B\","
	    "\"amount\":5,\"idempotency_key\":\"k\",\"memo\":\"m\"}\n");
	free(out);
	msg_request_clear(&req);
}
END_TEST

START_TEST(test_codec_accepts_negative_zero_as_zero)
{
	struct msg_request req;
	char *out;

	req = decode_ok("{\"op\":\"transfer\",\"to\":\"B\",\"amount\":-0,"
	    "\"idempotency_key\":\"k\"}");
	ck_assert_int_eq(req.u.transfer.amount, 0);
	out = enc_request(&req);
	ck_assert_ptr_nonnull(strstr(out, "\"amount\":0,"));
	free(out);
	msg_request_clear(&req);
}
END_TEST

START_TEST(test_codec_keeps_extension_args)
{
	struct msg_request req;
	json_t *v;
	char *out;

	req = decode_ok("{\"verbose\":true,\"id\":3,\"op\":\"stats\","
	    "\"depth\":{\"a\":[1,2]}}");
	ck_assert_int_eq(req.op, MSG_OP_EXT);
	ck_assert_str_eq(req.op_name, "stats");
	ck_assert_ptr_nonnull(req.args);
	ck_assert_uint_eq(json_object_size(req.args), 2);
	ck_assert_ptr_null(json_object_get(req.args, "id"));
	ck_assert_ptr_null(json_object_get(req.args, "op"));
	v = json_object_get(req.args, "verbose");
	ck_assert(json_is_true(v));
	out = enc_request(&req);
	/* Extension members are written in sorted order. */
	ck_assert_str_eq(out, "{\"id\":3,\"op\":\"stats\",\"depth\":{\"a\":"
	    "[1,2]},\"verbose\":true}\n");
	free(out);
	msg_request_clear(&req);

	req = decode_ok("{\"op\":\"noargs\"}");
	ck_assert_ptr_nonnull(req.args);
	ck_assert_uint_eq(json_object_size(req.args), 0);
	msg_request_clear(&req);
}
END_TEST

START_TEST(test_codec_extension_integers_are_bounded_too)
{

	request_fails("{\"id\":1,\"op\":\"stats\",\"a\":{\"b\":[0,"
	    "9007199254740992]}}", MSG_ERR_BAD_REQUEST,
	    "a.b[1]: integer out of range", "1");
	request_round_trip("{\"id\":1,\"op\":\"stats\",\"a\":{\"b\":[0,"
	    "-9007199254740991]}}");
}
END_TEST

START_TEST(test_codec_fast_path_agrees_with_full_parser)
{
	static const char *const lines[] = {
		"{\"id\":7,\"op\":\"balance\"}",
		"{\"id\":0,\"op\":\"ping\"}",
		"{\"id\":-0,\"op\":\"ping\"}",
		"{\"id\":-9007199254740991,\"op\":\"logout\"}",
		"{\"id\":9007199254740991,\"op\":\"history\"}",
		"{\"id\":9007199254740992,\"op\":\"ping\"}",
		"{\"id\":99999999999999999999,\"op\":\"ping\"}",
		"{\"id\":01,\"op\":\"ping\"}",
		"{\"id\":-,\"op\":\"ping\"}",
		"{\"id\":\"\",\"op\":\"ping\"}",
		"{\"id\":\"a b~\",\"op\":\"ping\"}",
		"{\"id\":\"a\\\"b\",\"op\":\"ping\"}",
		"{\"id\":\"\x7f\",\"op\":\"ping\"}",
		"{\"op\":\"balance\"}",
		"{\"op\":\"\"}",
		"{\"op\":\"Ping\"}",
		"{\"op\":\"login\"}",
		"{\"op\":\"transfer\"}",
		"{\"op\":\"stats\"}",
		"{\"id\":1,\"op\":\"ping\"}}",
		"{\"id\":1,\"op\":\"ping\",}",
		"{\"id\":1,,\"op\":\"ping\"}",
		"{\"id\":1,\"op\":\"ping",
	};
	struct msg_request a, b;
	struct codec_error ea, eb;
	char spaced[128];
	char *x, *y;
	size_t i;
	int ra, rb;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(spaced, sizeof(spaced), "%s ", lines[i]);
		ra = codec_decode_request(lines[i], strlen(lines[i]), &a, &ea);
		rb = codec_decode_request(spaced, strlen(spaced), &b, &eb);
		ck_assert_msg(ra == rb, "%s: %d with, %d without fast path",
		    lines[i], ra, rb);
		if (ra != 0) {
			ck_assert_int_eq(ea.code, eb.code);
			ck_assert(msg_id_equal(&ea.id, &eb.id));
			continue;
		}
		x = enc_request(&a);
		y = enc_request(&b);
		ck_assert_str_eq(x, y);
		free(x);
		free(y);
		msg_request_clear(&a);
		msg_request_clear(&b);
	}
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Requests: malformed lines                                              */

START_TEST(test_codec_rejects_truncated_json)
{

	request_fails("{\"id\":7,\"op\":\"ping\"", MSG_ERR_BAD_REQUEST,
	    "invalid JSON: the line ends inside a value", "7");
	request_fails("{\"id\":\"r-1\",\"op\":", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", "\"r-1\"");
	request_fails("{\"id\":7,\"op\":\"ping\"} x", MSG_ERR_BAD_REQUEST,
	    "more data after the value", "7");
	request_fails("{\"id\":7,\"op\":\"ping\",}", MSG_ERR_BAD_REQUEST,
	    "invalid JSON near byte", "7");
	request_fails("   ", MSG_ERR_BAD_REQUEST,
	    "invalid JSON: the line holds only white space", NULL);
	request_fails("", MSG_ERR_BAD_REQUEST,
	    "invalid JSON: the line holds only white space", NULL);
	request_fails("{'id':1}", MSG_ERR_BAD_REQUEST, "invalid JSON", NULL);
}
END_TEST

START_TEST(test_codec_recovers_id_only_when_first_and_plain)
{

	/* Not first: not recovered. */
	request_fails("{\"op\":\"ping\",\"id\":5", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", NULL);
	/* A string with an escape, a real, a bad id: not recovered. */
	request_fails("{\"id\":\"a\\\"b\",", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", NULL);
	request_fails("{\"id\":1.5,\"op\":", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", NULL);
	request_fails("{\"id\":9007199254740992,\"op\":", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", NULL);
	request_fails("{\"id\":01,\"op\":", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", NULL);
	request_fails("{\"id\":-3 ,\"op\":", MSG_ERR_BAD_REQUEST,
	    "invalid JSON", "-3");
	/* A parsed object gives its id back whatever else is wrong. */
	request_fails("{\"op\":\"login\",\"id\":\"late\"}",
	    MSG_ERR_BAD_REQUEST, "account: required field is missing",
	    "\"late\"");
}
END_TEST

START_TEST(test_codec_rejects_non_object)
{

	request_fails("[1,2]", MSG_ERR_BAD_REQUEST,
	    "request must be a JSON object, found an array", NULL);
	request_fails("5", MSG_ERR_BAD_REQUEST,
	    "request must be a JSON object, found an integer", NULL);
	request_fails("\"ping\"", MSG_ERR_BAD_REQUEST,
	    "request must be a JSON object, found a string", NULL);
	request_fails("null", MSG_ERR_BAD_REQUEST,
	    "request must be a JSON object, found null", NULL);
}
END_TEST

START_TEST(test_codec_rejects_wrong_types_for_each_field)
{
	static const struct {
		const char	*line;
		const char	*message;
	} cases[] = {
		{ "{\"id\":1,\"op\":5}",
		    "op: must be a string, found an integer" },
		{ "{\"id\":1,\"op\":\"login\",\"account\":5,\"password\":\"p\"}",
		    "account: must be a string, found an integer" },
		{ "{\"id\":1,\"op\":\"login\",\"account\":\"A\",\"password\":"
		    "[\"p\"]}", "password: must be a string, found an array" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":{},\"amount\":1,"
		    "\"idempotency_key\":\"k\"}",
		    "to: must be a string, found an object" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":\"1\","
		    "\"idempotency_key\":\"k\"}",
		    "amount: must be an integer count of minor units, found a "
		    "string" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":true,"
		    "\"idempotency_key\":\"k\"}",
		    "amount: must be an integer count of minor units, found a "
		    "boolean" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":null,"
		    "\"idempotency_key\":\"k\"}",
		    "amount: must be an integer count of minor units, found "
		    "null" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
		    "\"idempotency_key\":7}",
		    "idempotency_key: must be a string, found an integer" },
		{ "{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
		    "\"idempotency_key\":\"k\",\"memo\":false}",
		    "memo: must be a string, found a boolean" },
		{ "{\"id\":1,\"op\":\"history\",\"limit\":\"5\"}",
		    "limit: must be an integer, found a string" },
		{ "{\"id\":1,\"op\":\"history\",\"limit\":5.0}",
		    "limit: must be an integer, found a real number" },
		{ "{\"id\":1,\"op\":\"history\",\"before\":[]}",
		    "before: must be an integer, found an array" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		request_fails(cases[i].line, MSG_ERR_BAD_REQUEST,
		    cases[i].message, "1");
}
END_TEST

START_TEST(test_codec_rejects_real_amounts)
{
	static const char *const amounts[] = {
		"1.0", "1e3", "1E2", "-0.0", "0.5", "100.00", "1e-2"
	};
	char line[256];
	size_t i;

	for (i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
		snprintf(line, sizeof(line), "{\"id\":\"t\",\"op\":\"transfer\","
		    "\"to\":\"B\",\"amount\":%s,\"idempotency_key\":\"k\"}",
		    amounts[i]);
		request_fails(line, MSG_ERR_BAD_REQUEST,
		    "amount: must be an integer count of minor units, found a "
		    "real number", "\"t\"");
	}
}
END_TEST

START_TEST(test_codec_enforces_the_2_53_boundary)
{
	struct msg_request req;

	req = decode_ok("{\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "9007199254740991,\"idempotency_key\":\"k\"}");
	ck_assert_int_eq(req.u.transfer.amount, INT64_C(9007199254740991));
	msg_request_clear(&req);
	req = decode_ok("{\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "-9007199254740991,\"idempotency_key\":\"k\"}");
	ck_assert_int_eq(req.u.transfer.amount, -INT64_C(9007199254740991));
	msg_request_clear(&req);

	request_fails("{\"id\":2,\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "9007199254740992,\"idempotency_key\":\"k\"}",
	    MSG_ERR_BAD_REQUEST, "amount: integer out of range", "2");
	request_fails("{\"id\":2,\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "-9007199254740992,\"idempotency_key\":\"k\"}",
	    MSG_ERR_BAD_REQUEST, "amount: integer out of range", "2");
	/* Beyond 64 bits jansson cannot parse: the whole line is bad. */
	request_fails("{\"id\":2,\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "9223372036854775808,\"idempotency_key\":\"k\"}",
	    MSG_ERR_BAD_REQUEST, "number too large", "2");
	request_fails("{\"id\":2,\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "-99999999999999999999999,\"idempotency_key\":\"k\"}",
	    MSG_ERR_BAD_REQUEST, "number too large", "2");
	request_fails("{\"id\":2,\"op\":\"transfer\",\"to\":\"B\",\"amount\":"
	    "1e999,\"idempotency_key\":\"k\"}",
	    MSG_ERR_BAD_REQUEST, "number too large", "2");
	/* Integer ids obey the same limit and are then not echoed. */
	request_fails("{\"id\":9007199254740992,\"op\":\"ping\"}",
	    MSG_ERR_BAD_REQUEST, "id: integer out of range", NULL);
	request_round_trip("{\"id\":-9007199254740991,\"op\":\"ping\"}");
}
END_TEST

START_TEST(test_codec_rejects_duplicate_keys)
{

	request_fails("{\"id\":1,\"op\":\"ping\",\"op\":\"ping\"}",
	    MSG_ERR_BAD_REQUEST, "duplicate key", "1");
	request_fails("{\"id\":1,\"op\":\"stats\",\"a\":{\"x\":1,\"x\":1}}",
	    MSG_ERR_BAD_REQUEST, "duplicate key", "1");
}
END_TEST

START_TEST(test_codec_rejects_deep_nesting)
{
	char line[8192];
	size_t i, n;

	/* The request object is level 1: "a" may open levels 2..8. */
	n = (size_t)snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"ext\","
	    "\"a\":");
	for (i = 0; i < MSG_MAX_DEPTH - 1; i++)
		line[n++] = '[';
	for (i = 0; i < MSG_MAX_DEPTH - 1; i++)
		line[n++] = ']';
	line[n++] = '}';
	line[n] = '\0';
	request_round_trip(line);

	n = (size_t)snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"ext\","
	    "\"a\":");
	for (i = 0; i < MSG_MAX_DEPTH; i++)
		line[n++] = '[';
	for (i = 0; i < MSG_MAX_DEPTH; i++)
		line[n++] = ']';
	line[n++] = '}';
	line[n] = '\0';
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "a[0][0][0][0][0][0][0]: nesting deeper than 8 levels", "1");

	/* Deeper than jansson's own limit: still a clean bad_request. */
	n = (size_t)snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"x\","
	    "\"a\":");
	for (i = 0; i < 3000; i++)
		line[n++] = '[';
	line[n] = '\0';
	request_fails(line, MSG_ERR_BAD_REQUEST, "nesting deeper than 8",
	    "1");
}
END_TEST

START_TEST(test_codec_rejects_invalid_utf8)
{
	static const struct {
		const char	*line;
		const char	*where;
	} cases[] = {
		{ "{\"id\":1,\"op\":\"\xff\"}", "at byte 15" },
		{ "{\"id\":1,\"op\":\"ping\",\"x\":\"\xc0\x80\"}", "at byte 26" },
		{ "{\"id\":1,\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}",
		    "at byte 26" },
		{ "{\"id\":1,\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}",
		    "at byte 26" },
		{ "{\"id\":1,\"op\":\"ping\",\"x\":\"\x80\"}", "at byte 26" },
		{ "{\"id\":1,\"op\":\"ping\",\"x\":\"\xe6\x97\"}", "at byte 26" },
		{ "\xef\xbb\xbf{\"id\":1}", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].where == NULL)
			continue;
		request_fails(cases[i].line, MSG_ERR_BAD_REQUEST,
		    "invalid UTF-8", "1");
		request_fails(cases[i].line, MSG_ERR_BAD_REQUEST,
		    cases[i].where, "1");
	}
	/* A byte order mark is valid UTF-8 but not JSON. */
	request_fails(cases[6].line, MSG_ERR_BAD_REQUEST, "invalid JSON",
	    NULL);
	/* Lone surrogate escapes are invalid too. */
	request_fails("{\"id\":1,\"op\":\"x\",\"s\":\"\\ud800\"}",
	    MSG_ERR_BAD_REQUEST, "invalid JSON", "1");
}
END_TEST

START_TEST(test_codec_rejects_nul_byte)
{
	static const char raw[] = "{\"id\":1,\"op\":\"ping\",\"x\":\"a\0b\"}";

	request_fails_n(raw, sizeof(raw) - 1, MSG_ERR_BAD_REQUEST,
	    "NUL byte at byte 27", "1");
	request_fails_n(raw, 5, MSG_ERR_BAD_REQUEST, "invalid JSON", NULL);
	request_fails("{\"id\":1,\"op\":\"login\",\"account\":\"A\","
	    "\"password\":\"a\\u0000b\"}", MSG_ERR_BAD_REQUEST,
	    "\\u0000 is not allowed", "1");
	request_fails("{\"id\":1,\"op\":\"x\",\"\\u0000\":1}",
	    MSG_ERR_BAD_REQUEST, "\\u0000 is not allowed", "1");
}
END_TEST

START_TEST(test_codec_checks_id)
{
	char line[256], *s;

	s = rep_char('i', 64);
	snprintf(line, sizeof(line), "{\"id\":\"%s\",\"op\":\"ping\"}", s);
	request_round_trip(line);
	free(s);
	s = rep_char('i', 65);
	snprintf(line, sizeof(line), "{\"id\":\"%s\",\"op\":\"ping\"}", s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "id: must be 1 to 64 printable ASCII characters", NULL);
	free(s);
	request_fails("{\"id\":\"\",\"op\":\"ping\"}", MSG_ERR_BAD_REQUEST,
	    "id: must be 1 to 64 printable ASCII", NULL);
	request_fails("{\"id\":\"a\\tb\",\"op\":\"ping\"}",
	    MSG_ERR_BAD_REQUEST, "id: must be 1 to 64 printable ASCII",
	    NULL);
	request_fails("{\"id\":\"\xc3\xa9\",\"op\":\"ping\"}",
	    MSG_ERR_BAD_REQUEST, "id: must be 1 to 64 printable ASCII",
	    NULL);
	request_fails("{\"id\":null,\"op\":\"ping\"}", MSG_ERR_BAD_REQUEST,
	    "id: must be an integer or a string, found null", NULL);
	request_fails("{\"id\":true,\"op\":\"ping\"}", MSG_ERR_BAD_REQUEST,
	    "id: must be an integer or a string, found a boolean", NULL);
	request_fails("{\"id\":1.0,\"op\":\"ping\"}", MSG_ERR_BAD_REQUEST,
	    "id: must be an integer or a string, found a real number", NULL);
	request_fails("{\"id\":{},\"op\":\"ping\"}", MSG_ERR_BAD_REQUEST,
	    "id: must be an integer or a string, found an object", NULL);
}
END_TEST

START_TEST(test_codec_checks_field_lengths)
{
	char line[4096], *s;

	/* account: 64 ok, 65 not, empty not, bad character not. */
	s = rep_char('a', 64);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"login\",\"account\":"
	    "\"%s\",\"password\":\"p\"}", s);
	request_round_trip(line);
	free(s);
	s = rep_char('a', 65);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"login\",\"account\":"
	    "\"%s\",\"password\":\"p\"}", s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "account: must be 1 to 64 characters", "1");
	free(s);
	request_fails("{\"id\":1,\"op\":\"login\",\"account\":\"\","
	    "\"password\":\"p\"}", MSG_ERR_BAD_REQUEST,
	    "account: must be 1 to 64 characters", "1");
	request_fails("{\"id\":1,\"op\":\"login\",\"account\":\"a b\","
	    "\"password\":\"p\"}", MSG_ERR_BAD_REQUEST,
	    "account: must be 1 to 64 characters", "1");

	/* password: 1024 ok, 1025 not, empty not. */
	s = rep_char('p', 1024);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"login\",\"account\":"
	    "\"A\",\"password\":\"%s\"}", s);
	request_round_trip(line);
	free(s);
	s = rep_char('p', 1025);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"login\",\"account\":"
	    "\"A\",\"password\":\"%s\"}", s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "password: must be 1 to 1024 bytes, found 1025", "1");
	free(s);
	request_fails("{\"id\":1,\"op\":\"login\",\"account\":\"A\","
	    "\"password\":\"\"}", MSG_ERR_BAD_REQUEST,
	    "password: must be 1 to 1024 bytes, found 0", "1");

	/* to */
	s = rep_char('b', 65);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"transfer\",\"to\":"
	    "\"%s\",\"amount\":1,\"idempotency_key\":\"k\"}", s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "to: must be 1 to 64 characters", "1");
	free(s);

	/* idempotency_key: 64 ok, 65 not, '@' not. */
	s = rep_char('k', 64);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"transfer\",\"to\":"
	    "\"B\",\"amount\":1,\"idempotency_key\":\"%s\"}", s);
	request_round_trip(line);
	free(s);
	s = rep_char('k', 65);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"transfer\",\"to\":"
	    "\"B\",\"amount\":1,\"idempotency_key\":\"%s\"}", s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "idempotency_key: must be 1 to 64 characters", "1");
	free(s);
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
	    "\"idempotency_key\":\"a@b\"}", MSG_ERR_BAD_REQUEST,
	    "idempotency_key: must be 1 to 64 characters", "1");

	/* memo: 256 ok, 257 not, controls not (C0, DEL, C1). */
	s = rep_char('m', 256);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"transfer\",\"to\":"
	    "\"B\",\"amount\":1,\"idempotency_key\":\"k\",\"memo\":\"%s\"}",
	    s);
	request_round_trip(line);
	free(s);
	s = rep_char('m', 257);
	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"transfer\",\"to\":"
	    "\"B\",\"amount\":1,\"idempotency_key\":\"k\",\"memo\":\"%s\"}",
	    s);
	request_fails(line, MSG_ERR_BAD_REQUEST,
	    "memo: must be at most 256 bytes, found 257", "1");
	free(s);
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
	    "\"idempotency_key\":\"k\",\"memo\":\"a\\nb\"}",
	    MSG_ERR_BAD_REQUEST, "memo: must not contain control characters",
	    "1");
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
	    "\"idempotency_key\":\"k\",\"memo\":\"a\x7f\"}",
	    MSG_ERR_BAD_REQUEST, "memo: must not contain control characters",
	    "1");
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\",\"amount\":1,"
	    "\"idempotency_key\":\"k\",\"memo\":\"a\\u0085\"}",
	    MSG_ERR_BAD_REQUEST, "memo: must not contain control characters",
	    "1");
}
END_TEST

START_TEST(test_codec_checks_history_ranges)
{

	request_round_trip("{\"id\":1,\"op\":\"history\",\"limit\":1}");
	request_fails("{\"id\":1,\"op\":\"history\",\"limit\":0}",
	    MSG_ERR_BAD_REQUEST, "limit: must be between 1 and 100, found 0",
	    "1");
	request_fails("{\"id\":1,\"op\":\"history\",\"limit\":101}",
	    MSG_ERR_BAD_REQUEST, "limit: must be between 1 and 100, found 101",
	    "1");
	request_fails("{\"id\":1,\"op\":\"history\",\"before\":0}",
	    MSG_ERR_BAD_REQUEST, "before: must be a positive integer, found 0",
	    "1");
	request_fails("{\"id\":1,\"op\":\"history\",\"before\":-4}",
	    MSG_ERR_BAD_REQUEST, "before: must be a positive integer, found -4",
	    "1");
}
END_TEST

START_TEST(test_codec_rejects_unknown_field)
{

	request_fails("{\"id\":1,\"op\":\"ping\",\"x\":1}", MSG_ERR_BAD_REQUEST,
	    "x: unknown field for op ping", "1");
	request_fails("{\"id\":1,\"op\":\"login\",\"acount\":\"A\","
	    "\"password\":\"p\"}", MSG_ERR_BAD_REQUEST,
	    "acount: unknown field for op login", "1");
	request_fails("{\"id\":1,\"op\":\"balance\",\"account\":\"A\"}",
	    MSG_ERR_BAD_REQUEST, "account: unknown field for op balance", "1");
	/* A hostile name is quoted safely and cut short. */
	request_fails("{\"id\":1,\"op\":\"ping\",\"a\\nb\\u00e9"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}",
	    MSG_ERR_BAD_REQUEST, "a?b??xxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown "
	    "field for op ping", "1");
}
END_TEST

/* A certificate login has no password; it round-trips without one. */
START_TEST(test_codec_accepts_login_without_password)
{
	static const char line[] = "{\"id\":1,\"op\":\"login\","
	    "\"account\":\"AAA\"}";
	struct msg_request req;
	struct codec_error err;
	struct codec_buf out;

	ck_assert_int_eq(codec_decode_request(line, sizeof(line) - 1, &req,
	    &err), 0);
	ck_assert_int_eq(req.op, MSG_OP_LOGIN);
	ck_assert_str_eq(req.u.login.account, "AAA");
	ck_assert_uint_eq(req.u.login.password_len, 0);
	codec_buf_init(&out);
	ck_assert_int_eq(codec_encode_request(&out, &req), 0);
	ck_assert_uint_eq(out.len, sizeof(line));	/* and its LF */
	ck_assert(memcmp(out.data, line, sizeof(line) - 1) == 0);
	ck_assert_int_eq(out.data[sizeof(line) - 1], '\n');
	codec_buf_free(&out);
	msg_request_clear(&req);
	request_fails("{\"id\":1,\"op\":\"login\",\"account\":\"A\","
	    "\"password\":\"\"}", MSG_ERR_BAD_REQUEST,
	    "password: must be 1 to 1024 bytes, found 0", "1");
}
END_TEST

START_TEST(test_codec_rejects_missing_field)
{

	request_fails("{\"id\":1}", MSG_ERR_BAD_REQUEST,
	    "op: required field is missing", "1");
	request_fails("{\"id\":1,\"op\":\"login\",\"password\":\"p\"}",
	    MSG_ERR_BAD_REQUEST, "account: required field is missing", "1");
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\","
	    "\"idempotency_key\":\"k\"}", MSG_ERR_BAD_REQUEST,
	    "amount: required field is missing", "1");
	request_fails("{\"id\":1,\"op\":\"transfer\",\"amount\":1,"
	    "\"idempotency_key\":\"k\"}", MSG_ERR_BAD_REQUEST,
	    "to: required field is missing", "1");
	request_fails("{\"id\":1,\"op\":\"transfer\",\"to\":\"B\","
	    "\"amount\":1}", MSG_ERR_BAD_REQUEST,
	    "idempotency_key: required field is missing", "1");
}
END_TEST

START_TEST(test_codec_rejects_bad_op_syntax)
{
	static const char *const ops[] = {
		"Ping", "", "a-b", "op name", "\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456",	/* 33 */
	};
	char line[128];
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"%s\"}", ops[i]);
		request_fails(line, MSG_ERR_BAD_REQUEST,
		    "op: not a valid op name", "1");
	}
	request_round_trip("{\"id\":1,\"op\":\"abcdefghijklmnopqrstuvwxyz012345\"}");
}
END_TEST

START_TEST(test_msg_request_clear_wipes_password)
{
	struct msg_request req;
	const unsigned char *p;
	size_t i;

	req = decode_ok("{\"op\":\"login\",\"account\":\"A\",\"password\":"
	    "\"hunter2\"}");
	ck_assert_str_eq(req.u.login.password, "hunter2");
	msg_request_clear(&req);
	p = (const unsigned char *)&req;
	for (i = 0; i < sizeof(req); i++)
		ck_assert_uint_eq(p[i], 0);
	msg_request_clear(&req);
	msg_request_clear(NULL);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Encoders                                                               */

START_TEST(test_codec_escapes_strings_like_jansson)
{
	struct msg_request req;
	struct codec_buf b;
	char pw[200], *dump, *start;
	size_t n = 0, len;
	int c;
	json_t *j;

	/* Every ASCII byte but NUL, plus some UTF-8, in a password. */
	for (c = 1; c < 0x80; c++)
		pw[n++] = (char)c;
	memcpy(pw + n, "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x92\xb0", 9);
	n += 9;
	pw[n] = '\0';
	msg_request_init(&req);
	ck_assert_int_eq(msg_request_set_op(&req, "login"), 0);
	strcpy(req.u.login.account, "A");
	memcpy(req.u.login.password, pw, n + 1);
	req.u.login.password_len = n;
	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_request(&b, &req), 0);

	j = json_stringn(pw, n);
	ck_assert_ptr_nonnull(j);
	dump = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	ck_assert_ptr_nonnull(dump);
	start = memmem(b.data, b.len, "\"password\":", strlen("\"password\":"));
	ck_assert_ptr_nonnull(start);
	start += strlen("\"password\":");
	len = strlen(dump);
	ck_assert_mem_eq(start, dump, len);
	ck_assert_int_eq(start[len], '}');
	free(dump);
	json_decref(j);

	/* And the line decodes back to the same password. */
	msg_request_clear(&req);
	b.data[b.len - 1] = '\0';
	request_round_trip(b.data);
	codec_buf_free(&b);
}
END_TEST

START_TEST(test_codec_encoder_refuses_invalid_struct)
{
	struct msg_request req;
	struct msg_reply rep;
	struct codec_buf b;
	size_t first;

	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_error(&b, NULL, MSG_ERR_INTERNAL, "x"),
	    0);
	first = strlen("{\"id\":null,\"ok\":false,\"error\":"
	    "{\"code\":\"internal\",\"message\":\"x\"}}\n");
	ck_assert_uint_eq(b.len, first);

	/* Each refusal leaves what was already in the buffer untouched. */
	msg_request_init(&req);
	ck_assert_int_eq(msg_request_set_op(&req, "login"), 0);
	strcpy(req.u.login.account, "a b");
	strcpy(req.u.login.password, "p");
	req.u.login.password_len = 1;
	errno = 0;
	ck_assert_int_eq(codec_encode_request(&b, &req), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(b.len, first);

	msg_request_init(&req);		/* MSG_OP_NONE */
	ck_assert_int_eq(codec_encode_request(&b, &req), -1);
	ck_assert_int_eq(msg_request_set_op(&req, "ping"), 0);
	req.id.kind = MSG_ID_STR;	/* empty string id */
	ck_assert_int_eq(codec_encode_request(&b, &req), -1);
	ck_assert_int_eq(msg_request_set_op(&req, "Bad"), -1);

	msg_reply_init(&rep, NULL, MSG_OP_BALANCE);
	strcpy(rep.u.balance.account, "A");
	strcpy(rep.u.balance.currency, "cny");
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	strcpy(rep.u.balance.currency, "CNY");
	rep.u.balance.balance = INT64_C(9007199254740992);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	rep.u.balance.balance = 1;
	ck_assert_int_eq(codec_encode_reply(&b, &rep), 0);

	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_pack("{s:i}", "ok", 1);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	msg_reply_clear(&rep);
	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_pack("{s:I}", "n", (json_int_t)INT64_C(1) << 60);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	msg_reply_clear(&rep);
	/* Member names with NUL, strings that are not UTF-8, depth 9. */
	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_object();
	ck_assert_int_eq(json_object_setn_new(rep.fields, "a\0b", 3,
	    json_true()), 0);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	msg_reply_clear(&rep);
	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_pack("{s:o}", "s", json_stringn_nocheck("\xff", 1));
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	msg_reply_clear(&rep);
	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_pack("{s:[[[[[[[[]]]]]]]]}", "d");
	ck_assert_ptr_nonnull(rep.fields);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	json_decref(rep.fields);
	rep.fields = json_pack("{s:[[[[[[[]]]]]]]}", "d");
	ck_assert_int_eq(codec_encode_reply(&b, &rep), 0);
	b.len -= strlen("{\"id\":null,\"ok\":true,\"d\":[[[[[[[]]]]]]]}\n");
	msg_reply_clear(&rep);
	ck_assert_int_eq(codec_decode_reply("{}", 2, (enum msg_op)99, &rep,
	    &(struct codec_error){ 0 }), -1);

	ck_assert_int_eq(codec_encode_error(&b, NULL, MSG_ERR_NONE, "x"), -1);
	ck_assert_int_eq(codec_encode_error(&b, NULL, MSG_ERR_COUNT, "x"), -1);
	ck_assert_mem_eq(b.data, "{\"id\":null,\"ok\":false", 21);
	codec_buf_free(&b);
}
END_TEST

START_TEST(test_codec_encode_error_sanitizes_message)
{
	struct codec_buf b;
	struct msg_id id;
	char msg[600], want[700];
	const char *start;
	size_t i;

	codec_buf_init(&b);
	ck_assert_int_eq(msg_id_set_str(&id, "q1"), 0);
	ck_assert_int_eq(codec_encode_error(&b, &id, MSG_ERR_BAD_REQUEST,
	    "a\nb\x01\x7f\xc2\x85\xff\xc3\xa9\xe6\x97\"\\"), 0);
	ck_assert_int_eq(codec_encode_reply(&b, &(struct msg_reply){ 0 }), -1);
	b.data[b.len - 1] = '\0';
	ck_assert_str_eq(b.data, "{\"id\":\"q1\",\"ok\":false,"
	    "\"error\":{\"code\":\"bad_request\",\"message\":\"a?b????"
	    "\xc3\xa9??\\\"\\\\\"}}");
	codec_buf_reset(&b);

	/* Cut at 256 bytes, never inside a character. */
	for (i = 0; i + 2 <= 599; i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);
	msg[i] = '\0';
	ck_assert_int_eq(codec_encode_error(&b, NULL, MSG_ERR_LOCKED, msg), 0);
	memcpy(want, msg, 256);
	want[256] = '\0';
	/* The buffer is not NUL-terminated: search it by length. */
	start = memmem(b.data, b.len, want, 256);
	ck_assert_ptr_nonnull(start);
	ck_assert_int_eq(start[256], '"');
	codec_buf_free(&b);
}
END_TEST

START_TEST(test_codec_buf_appends_lines)
{
	struct codec_buf b;
	struct msg_reply rep;
	struct msg_id id;

	codec_buf_init(&b);
	ck_assert_int_eq(msg_id_set_int(&id, 1), 0);
	msg_reply_init(&rep, &id, MSG_OP_PING);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), 0);
	ck_assert_int_eq(msg_id_set_int(&id, 2), 0);
	msg_reply_init(&rep, &id, MSG_OP_LOGOUT);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), 0);
	ck_assert_uint_eq(b.len, 38);
	ck_assert_mem_eq(b.data, "{\"id\":1,\"ok\":true}\n{\"id\":2,\"ok\":true}\n",
	    38);
	codec_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	codec_buf_free(&b);
	codec_buf_free(NULL);
	ck_assert_int_eq(msg_id_set_int(&id, INT64_C(9007199254740992)), -1);
	ck_assert_int_eq(msg_id_set_str(&id, ""), -1);
}
END_TEST

START_TEST(test_codec_reply_encoder_refuses_oversize_line)
{
	struct codec_buf b;
	struct msg_reply rep;
	char *big;

	big = rep_char('z', MSG_REPLY_MAX_BYTES);
	codec_buf_init(&b);
	msg_reply_init(&rep, NULL, MSG_OP_EXT);
	rep.fields = json_pack("{s:s}", "blob", big);
	ck_assert_ptr_nonnull(rep.fields);
	errno = 0;
	ck_assert_int_eq(codec_encode_reply(&b, &rep), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(b.len, 0);
	/* The buffer did not grow far beyond the limit before giving up. */
	ck_assert_uint_le(b.cap, 4 * (size_t)MSG_REPLY_MAX_BYTES);
	msg_reply_clear(&rep);
	codec_buf_free(&b);
	free(big);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Replies and greeting                                                   */

START_TEST(test_codec_reply_round_trips_every_op)
{

	reply_round_trip("{\"id\":7,\"ok\":true}", MSG_OP_PING);
	reply_round_trip("{\"id\":null,\"ok\":true}", MSG_OP_PING);
	reply_round_trip("{\"id\":\"s\",\"ok\":true}", MSG_OP_LOGOUT);
	reply_round_trip("{\"id\":1,\"ok\":true,\"account\":\"AAA\"}",
	    MSG_OP_LOGIN);
	reply_round_trip("{\"id\":2,\"ok\":true,\"account\":\"AAA\","
	    "\"balance\":10000,\"currency\":\"CNY\"}", MSG_OP_BALANCE);
	reply_round_trip("{\"id\":2,\"ok\":true,\"account\":\"AAA\","
	    "\"balance\":-9007199254740991,\"currency\":\"USD\"}",
	    MSG_OP_BALANCE);
	reply_round_trip("{\"id\":3,\"ok\":true,\"transfer_id\":42,"
	    "\"balance\":9000,\"currency\":\"CNY\"}", MSG_OP_TRANSFER);
	reply_round_trip("{\"id\":4,\"ok\":true,\"currency\":\"CNY\","
	    "\"entries\":[]}", MSG_OP_HISTORY);
	reply_round_trip("{\"id\":4,\"ok\":true,\"currency\":\"CNY\","
	    "\"entries\":[{\"transfer_id\":42,\"time\":"
	    "\"2026-11-24T03:06:39Z\",\"counterparty\":\"BBB\",\"amount\":"
	    "-1000,\"balance\":9000,\"memo\":\"lunch\"},{\"transfer_id\":41,"
	    "\"time\":\"2000-02-29T23:59:59Z\",\"counterparty\":\"CCC\","
	    "\"amount\":10000,\"balance\":10000}],\"next_before\":41}",
	    MSG_OP_HISTORY);
	reply_round_trip("{\"id\":5,\"ok\":true}", MSG_OP_EXT);
	reply_round_trip("{\"id\":5,\"ok\":true,\"a\":[1,{\"b\":null}],"
	    "\"z\":\"\xe2\x82\xac\"}", MSG_OP_EXT);
}
END_TEST

START_TEST(test_codec_error_reply_round_trips)
{
	static const char *const lines[] = {
		"{\"id\":1,\"ok\":false,\"error\":{\"code\":\"auth_required\","
		    "\"message\":\"log in first\"}}",
		"{\"id\":null,\"ok\":false,\"error\":{\"code\":\"too_large\","
		    "\"message\":\"\"}}",
		"{\"id\":\"x\",\"ok\":false,\"error\":{\"code\":\"locked\","
		    "\"message\":\"account locked\",\"retry_after\":30}}",
	};
	enum msg_op op;
	size_t i;

	/* An error reply decodes whatever the request was. */
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		for (op = MSG_OP_NONE; op <= MSG_OP_EXT; op++)
			reply_round_trip(lines[i], op);
}
END_TEST

START_TEST(test_codec_decodes_reply_fields)
{
	struct msg_reply rep;
	struct codec_error err;
	const char *line;

	line = "{\"id\":4,\"ok\":true,\"currency\":\"CNY\",\"entries\":[{"
	    "\"transfer_id\":41,\"time\":\"2026-11-24T03:06:39Z\","
	    "\"counterparty\":\"BBB\",\"amount\":-1000,\"balance\":9000,"
	    "\"memo\":\"lunch\"}],\"next_before\":null}";
	ck_assert_int_eq(codec_decode_reply(line, strlen(line),
	    MSG_OP_HISTORY, &rep, &err), 0);
	ck_assert_uint_eq(rep.u.history.nentries, 1);
	ck_assert_int_eq(rep.u.history.entries[0].transfer_id, 41);
	ck_assert_int_eq(rep.u.history.entries[0].time, 1795489599);
	ck_assert_str_eq(rep.u.history.entries[0].counterparty, "BBB");
	ck_assert_int_eq(rep.u.history.entries[0].amount, -1000);
	ck_assert_int_eq(rep.u.history.next_before, 0);
	msg_reply_clear(&rep);

	line = "{\"id\":9,\"ok\":false,\"error\":{\"retry_after\":5,"
	    "\"message\":\"slow down\",\"code\":\"rate_limited\"}}";
	ck_assert_int_eq(codec_decode_reply(line, strlen(line),
	    MSG_OP_BALANCE, &rep, &err), 0);
	ck_assert_int_eq(rep.error.code, MSG_ERR_RATE_LIMITED);
	ck_assert_str_eq(rep.error.message, "slow down");
	ck_assert_int_eq(rep.error.retry_after, 5);
	ck_assert_int_eq(rep.id.num, 9);
	msg_reply_clear(&rep);

	ck_assert_int_eq(codec_decode_reply_id(line, strlen(line), &rep.id,
	    &err), 0);
	ck_assert_int_eq(rep.id.kind, MSG_ID_INT);
	ck_assert_int_eq(rep.id.num, 9);
}
END_TEST

START_TEST(test_codec_rejects_bad_replies)
{

	reply_fails("{\"id\":1,\"ok\":true,\"account\":\"A\",\"balance\":1,"
	    "\"currency\":\"CNY\"}", MSG_OP_LOGIN,
	    "balance: unknown field in a login reply");
	reply_fails("{\"id\":1,\"ok\":true}", MSG_OP_NONE,
	    "success reply to an unknown request");
	reply_fails("{\"ok\":true}", MSG_OP_PING, "id: required field");
	reply_fails("{\"id\":1,\"ok\":1}", MSG_OP_PING,
	    "ok: must be a boolean, found an integer");
	reply_fails("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"oops\","
	    "\"message\":\"\"}}", MSG_OP_PING, "error.code: not an error code");
	reply_fails("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"internal\"}}",
	    MSG_OP_PING, "error.message: required field is missing");
	reply_fails("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"internal\","
	    "\"message\":\"a\\nb\"}}", MSG_OP_PING,
	    "error.message: must be at most 256 bytes without control");
	reply_fails("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"locked\","
	    "\"message\":\"\",\"retry_after\":0}}", MSG_OP_PING,
	    "error.retry_after: must be a positive integer");
	reply_fails("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"locked\","
	    "\"message\":\"\",\"x\":0}}", MSG_OP_PING,
	    "error.x: unknown field in the error object");
	reply_fails("{\"id\":1,\"ok\":false}", MSG_OP_PING,
	    "error: required field is missing");
	reply_fails("{\"id\":1,\"ok\":true,\"error\":{}}", MSG_OP_EXT,
	    "error: not allowed in a success reply");
	reply_fails("{\"id\":1,\"ok\":true,\"transfer_id\":0,\"balance\":1,"
	    "\"currency\":\"CNY\"}", MSG_OP_TRANSFER,
	    "transfer_id: must be a positive integer, found 0");
	reply_fails("{\"id\":1,\"ok\":true,\"account\":\"A\",\"balance\":1.5,"
	    "\"currency\":\"CNY\"}", MSG_OP_BALANCE,
	    "balance: must be an integer count of minor units, found a real");
	reply_fails("{\"id\":1,\"ok\":true,\"account\":\"A\",\"balance\":1,"
	    "\"currency\":\"CNYY\"}", MSG_OP_BALANCE,
	    "currency: must be 3 letters A-Z");
	reply_fails("{\"id\":1,\"ok\":true,\"currency\":\"CNY\",\"entries\":"
	    "[{\"transfer_id\":1,\"time\":\"2025-02-29T00:00:00Z\","
	    "\"counterparty\":\"B\",\"amount\":1,\"balance\":1}]}",
	    MSG_OP_HISTORY, "entries[0].time: must be a UTC time");
	reply_fails("{\"id\":1,\"ok\":true,\"currency\":\"CNY\",\"entries\":"
	    "[5]}", MSG_OP_HISTORY, "entries[0]: must be an object");
	reply_fails("{\"id\":1,\"ok\":true,\"currency\":\"CNY\",\"entries\":"
	    "[{\"transfer_id\":1,\"time\":\"2025-02-28T00:00:00Z\","
	    "\"counterparty\":\"B\",\"amount\":1}]}",
	    MSG_OP_HISTORY, "entries[0].balance: required field is missing");
	reply_fails("{\"id\":1,\"ok\":true,\"currency\":\"CNY\",\"entries\":"
	    "{}}", MSG_OP_HISTORY, "entries: must be an array, found an object");
	reply_fails("[]", MSG_OP_PING, "reply must be a JSON object");
}
END_TEST

START_TEST(test_codec_reply_history_is_bounded)
{
	struct msg_reply rep;
	struct codec_buf b;
	struct codec_error err;
	size_t i;

	msg_reply_init(&rep, NULL, MSG_OP_HISTORY);
	ck_assert_int_eq(msg_reply_history_alloc(&rep, MSG_HISTORY_LIMIT_MAX +
	    1), -1);
	ck_assert_int_eq(msg_reply_history_alloc(&rep, MSG_HISTORY_LIMIT_MAX),
	    0);
	strcpy(rep.u.history.currency, "CNY");
	for (i = 0; i < MSG_HISTORY_LIMIT_MAX; i++) {
		rep.u.history.entries[i].transfer_id = (int64_t)(1000 - i);
		rep.u.history.entries[i].time = MSG_TIME_MAX;
		strcpy(rep.u.history.entries[i].counterparty,
		    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
		rep.u.history.entries[i].amount = -MSG_INT_MAX;
		rep.u.history.entries[i].balance = -MSG_INT_MAX;
		memset(rep.u.history.entries[i].memo, '"', MSG_MEMO_MAX);
	}
	rep.u.history.next_before = 901;
	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_reply(&b, &rep), 0);
	/* A full page of worst-case entries exceeds the request limit. */
	ck_assert_uint_gt(b.len, MSG_MAX_MESSAGE_DEFAULT);
	ck_assert_uint_le(b.len, MSG_REPLY_MAX_BYTES);
	msg_reply_clear(&rep);
	ck_assert_int_eq(codec_decode_reply(b.data, b.len - 1, MSG_OP_HISTORY,
	    &rep, &err), 0);
	ck_assert_uint_eq(rep.u.history.nentries, MSG_HISTORY_LIMIT_MAX);
	msg_reply_clear(&rep);
	codec_buf_free(&b);
}
END_TEST

START_TEST(test_codec_hello_round_trips)
{
	struct msg_hello h;
	struct codec_buf b;
	struct codec_error err;
	const char *want = "{\"type\":\"hello\",\"server\":\"secd\","
	    "\"version\":1,\"ops\":[\"ping\",\"login\",\"logout\",\"balance\","
	    "\"transfer\",\"history\",\"stats\"],\"max_message_bytes\":65536}\n";

	msg_hello_init(&h, MSG_MAX_MESSAGE_DEFAULT);
	ck_assert_int_eq(msg_hello_add_op(&h, "stats"), 0);
	ck_assert_int_eq(msg_hello_add_op(&h, "stats"), -1);
	ck_assert_int_eq(msg_hello_add_op(&h, "Bad"), -1);
	codec_buf_init(&b);
	ck_assert_int_eq(codec_encode_hello(&b, &h), 0);
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert_mem_eq(b.data, want, b.len);
	ck_assert_int_eq(codec_decode_hello(b.data, b.len - 1, &h, &err), 0);
	ck_assert_str_eq(h.server, "secd");
	ck_assert_int_eq(h.version, 1);
	ck_assert_uint_eq(h.nops, 7);
	ck_assert_str_eq(h.ops[6], "stats");
	ck_assert_int_eq(h.max_message_bytes, 65536);
	codec_buf_reset(&b);
	ck_assert_int_eq(codec_encode_hello(&b, &h), 0);
	ck_assert_mem_eq(b.data, want, b.len);

	/* Out-of-range limit: refused by encoder and decoder alike. */
	h.max_message_bytes = MSG_MAX_MESSAGE_MIN - 1;
	ck_assert_int_eq(codec_encode_hello(&b, &h), -1);
	codec_buf_free(&b);
}
END_TEST

START_TEST(test_codec_hello_decoding)
{
	struct msg_hello h;
	struct codec_error err;
	const char *line;

	/* Later versions may add members; they are ignored. */
	line = "{\"type\":\"hello\",\"server\":\"secd\",\"version\":2,\"ops\":"
	    "[\"ping\"],\"max_message_bytes\":8192,\"compression\":\"none\"}";
	ck_assert_int_eq(codec_decode_hello(line, strlen(line), &h, &err), 0);
	ck_assert_int_eq(h.version, 2);
	line = "{\"type\":\"hi\",\"server\":\"secd\",\"version\":1,\"ops\":[],"
	    "\"max_message_bytes\":8192}";
	ck_assert_int_eq(codec_decode_hello(line, strlen(line), &h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "type: must be \"hello\""));
	line = "{\"type\":\"hello\",\"server\":\"secd\",\"version\":1,\"ops\":"
	    "[\"ping\",\"ping\"],\"max_message_bytes\":8192}";
	ck_assert_int_eq(codec_decode_hello(line, strlen(line), &h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "ops[1]: listed twice"));
	line = "{\"type\":\"hello\",\"server\":\"secd\",\"version\":1,\"ops\":"
	    "[],\"max_message_bytes\":100}";
	ck_assert_int_eq(codec_decode_hello(line, strlen(line), &h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message,
	    "max_message_bytes: must be between 8192 and 1048576"));
	line = "{\"type\":\"hello\",\"version\":1,\"ops\":[],"
	    "\"max_message_bytes\":8192}";
	ck_assert_int_eq(codec_decode_hello(line, strlen(line), &h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message,
	    "server: required field is missing"));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Model helpers                                                          */

START_TEST(test_msg_error_names_round_trip)
{
	enum msg_err code, back;
	const char *name;

	ck_assert_ptr_null(msg_err_name(MSG_ERR_NONE));
	ck_assert_ptr_null(msg_err_name(MSG_ERR_COUNT));
	for (code = MSG_ERR_NONE + 1; code < MSG_ERR_COUNT; code++) {
		name = msg_err_name(code);
		ck_assert_msg(name != NULL, "code %d has no name", code);
		ck_assert_int_eq(msg_err_from_name(name, strlen(name), &back),
		    0);
		ck_assert_int_eq(back, code);
	}
	ck_assert_str_eq(msg_err_name(MSG_ERR_INSUFFICIENT_FUNDS),
	    "insufficient_funds");
	ck_assert_int_eq(msg_err_from_name("none", 4, &back), -1);
	ck_assert_int_eq(msg_err_from_name("bad_requestx", 12, &back), -1);
	ck_assert_int_eq(msg_err_from_name("bad_request", 10, &back), -1);
}
END_TEST

START_TEST(test_msg_op_names_round_trip)
{
	enum msg_op op;
	const char *name;

	for (op = MSG_OP_PING; op < MSG_OP_EXT; op++) {
		name = msg_op_name(op);
		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(msg_op_from_name(name, strlen(name)), op);
	}
	ck_assert_ptr_null(msg_op_name(MSG_OP_EXT));
	ck_assert_ptr_null(msg_op_name(MSG_OP_NONE));
	ck_assert_int_eq(msg_op_from_name("pin", 3), MSG_OP_EXT);
	ck_assert_int_eq(msg_op_from_name("pingg", 5), MSG_OP_EXT);
	ck_assert_int_eq(msg_op_from_name("PING", 4), MSG_OP_NONE);
}
END_TEST

START_TEST(test_msg_time_format_and_parse)
{
	char buf[MSG_TIME_LEN + 1];
	int64_t t;

	ck_assert_int_eq(msg_time_format(1795489599, buf), 0);
	ck_assert_str_eq(buf, "2026-11-24T03:06:39Z");
	ck_assert_int_eq(msg_time_format(0, buf), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	ck_assert_int_eq(msg_time_format(MSG_TIME_MAX, buf), 0);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");
	ck_assert_int_eq(msg_time_format(MSG_TIME_MAX + 1, buf), -1);
	ck_assert_int_eq(msg_time_format(-1, buf), -1);
	ck_assert_int_eq(msg_time_parse("2000-02-29T23:59:59Z", 20, &t), 0);
	ck_assert_int_eq(t, 951868799);
	ck_assert_int_eq(msg_time_parse("2024-02-29T00:00:00Z", 20, &t), 0);
	ck_assert_int_eq(t, 1709164800);
	ck_assert_int_eq(msg_time_parse("1900-02-29T00:00:00Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-02-29T00:00:00Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-04-31T00:00:00Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-01-01T24:00:00Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-01-01T00:00:60Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-01-01t00:00:00Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-01-01T00:00:00z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("1969-12-31T23:59:59Z", 20, &t), -1);
	ck_assert_int_eq(msg_time_parse("2025-1-01T00:00:00Z", 19, &t), -1);
	ck_assert_int_eq(msg_time_parse("+025-01-01T00:00:00Z", 20, &t), -1);
}
END_TEST

START_TEST(test_msg_validators)
{

	ck_assert(msg_account_valid("a.Z_0@-", 7));
	ck_assert(!msg_account_valid("a\0b", 3));
	ck_assert(!msg_account_valid("a:b", 3));
	ck_assert(msg_idem_key_valid("a:b", 3));
	ck_assert(!msg_idem_key_valid("a@b", 3));
	ck_assert(msg_currency_valid("CNY", 3));
	ck_assert(!msg_currency_valid("CN", 2));
	ck_assert(!msg_currency_valid("Cny", 3));
	ck_assert(msg_password_valid("\x01", 1));
	ck_assert(!msg_password_valid("a\0", 2));
	ck_assert(!msg_password_valid("\xc3", 1));
	ck_assert(msg_memo_valid("", 0));
	ck_assert(!msg_memo_valid("\t", 1));
	ck_assert(msg_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	ck_assert(!msg_utf8_valid("\xf4\x90\x80\x80", 4));
	ck_assert(!msg_utf8_valid("\xe0\x9f\xbf", 3));
	ck_assert(msg_utf8_valid("\xee\x80\x80", 3));
	ck_assert_uint_eq(msg_utf8_prefix("ab\xc3\xa9\xff", 5), 4);
	ck_assert(msg_id_str_valid(" ~", 2));
	ck_assert(!msg_id_str_valid("\x7f", 1));
	ck_assert(msg_int_valid(MSG_INT_MAX));
	ck_assert(!msg_int_valid(-MSG_INT_MAX - 1));
}
END_TEST

Suite *codec_suite(void);

Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_codec_request_round_trips_every_op);
	tcase_add_test(tc, test_codec_decodes_request_fields);
	tcase_add_test(tc, test_codec_accepts_whitespace_and_reorders_canonically);
	tcase_add_test(tc, test_codec_accepts_negative_zero_as_zero);
	tcase_add_test(tc, test_codec_keeps_extension_args);
	tcase_add_test(tc, test_codec_extension_integers_are_bounded_too);
	tcase_add_test(tc, test_codec_fast_path_agrees_with_full_parser);
	tcase_add_test(tc, test_codec_rejects_truncated_json);
	tcase_add_test(tc, test_codec_recovers_id_only_when_first_and_plain);
	tcase_add_test(tc, test_codec_rejects_non_object);
	tcase_add_test(tc, test_codec_rejects_wrong_types_for_each_field);
	tcase_add_test(tc, test_codec_rejects_real_amounts);
	tcase_add_test(tc, test_codec_enforces_the_2_53_boundary);
	tcase_add_test(tc, test_codec_rejects_duplicate_keys);
	tcase_add_test(tc, test_codec_rejects_deep_nesting);
	tcase_add_test(tc, test_codec_rejects_invalid_utf8);
	tcase_add_test(tc, test_codec_rejects_nul_byte);
	tcase_add_test(tc, test_codec_checks_id);
	tcase_add_test(tc, test_codec_checks_field_lengths);
	tcase_add_test(tc, test_codec_checks_history_ranges);
	tcase_add_test(tc, test_codec_rejects_unknown_field);
	tcase_add_test(tc, test_codec_accepts_login_without_password);
	tcase_add_test(tc, test_codec_rejects_missing_field);
	tcase_add_test(tc, test_codec_rejects_bad_op_syntax);
	tcase_add_test(tc, test_msg_request_clear_wipes_password);
	tcase_add_test(tc, test_codec_escapes_strings_like_jansson);
	tcase_add_test(tc, test_codec_encoder_refuses_invalid_struct);
	tcase_add_test(tc, test_codec_encode_error_sanitizes_message);
	tcase_add_test(tc, test_codec_buf_appends_lines);
	tcase_add_test(tc, test_codec_reply_encoder_refuses_oversize_line);
	tcase_add_test(tc, test_codec_reply_round_trips_every_op);
	tcase_add_test(tc, test_codec_error_reply_round_trips);
	tcase_add_test(tc, test_codec_decodes_reply_fields);
	tcase_add_test(tc, test_codec_rejects_bad_replies);
	tcase_add_test(tc, test_codec_reply_history_is_bounded);
	tcase_add_test(tc, test_codec_hello_round_trips);
	tcase_add_test(tc, test_codec_hello_decoding);
	tcase_add_test(tc, test_msg_error_names_round_trip);
	tcase_add_test(tc, test_msg_op_names_round_trip);
	tcase_add_test(tc, test_msg_time_format_and_parse);
	tcase_add_test(tc, test_msg_validators);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* As secd does: jansson memory is wiped on free from the start. */
	codec_init();
	sr = srunner_create(codec_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
