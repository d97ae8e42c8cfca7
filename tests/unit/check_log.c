/*
 * check_log.c: daemon/log.c: what reaches standard error in the text and
 * JSON forms when a message carries bytes that are not UTF-8, control
 * characters, quotes, or more than a line holds.  Every JSON line must
 * parse (jansson refuses malformed UTF-8) and every text line must be
 * well-formed UTF-8, whatever the cut falls on.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define EURO "\xe2\x82\xac"	/* U+20AC, three bytes */

/* Standard error, pointed at a temporary file while a test logs. */
static int saved_stderr = -1;
static FILE *captured;

static void
capture_start(int json)
{
	unsetenv("JOURNAL_STREAM");
	log_init(LOG_L_INFO, json);
	ck_assert_ptr_nonnull(captured = tmpfile());
	ck_assert_int_ge(saved_stderr = dup(STDERR_FILENO), 0);
	ck_assert_int_eq(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
}

/* Stop capturing; the lines written, NUL-terminated, for the caller to free. */
static char *
capture_end(size_t *len)
{
	char *text;
	long n;

	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	ck_assert_int_eq(fseek(captured, 0, SEEK_END), 0);
	ck_assert_int_ge(n = ftell(captured), 0);
	rewind(captured);
	ck_assert_ptr_nonnull(text = malloc((size_t)n + 1));
	ck_assert_uint_eq(fread(text, 1, (size_t)n, captured), (size_t)n);
	text[n] = '\0';
	fclose(captured);
	*len = (size_t)n;
	return text;
}

/* Is s[0..n) well-formed UTF-8?  Written apart from log.c's own check. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;
	unsigned long cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3, cp = s[i] & 0x07, min = 0x10000;
		} else
			return 0;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* The message of the JSON line s (one line, no newline); caller frees. */
static char *
json_msg(const char *s, size_t n)
{
	json_error_t err;
	json_t *o;
	char *msg;

	o = json_loadb(s, n, 0, &err);
	ck_assert_msg(o != NULL, "not JSON (%s): %.*s", err.text, (int)n, s);
	ck_assert(json_is_string(json_object_get(o, "msg")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
	ck_assert_ptr_nonnull(msg =
	    strdup(json_string_value(json_object_get(o, "msg"))));
	json_decref(o);
	return msg;
}

/* The message of the text line s: what follows "info: ". */
static const char *
text_msg(const char *s)
{
	const char *p = strstr(s, " info: ");

	ck_assert_ptr_nonnull(p);
	return p + strlen(" info: ");
}

/* Messages with bytes that must not pass, and what must appear instead. */
static const struct {
	const char *in, *out;
} cases[] = {
	{ "plain", "plain" },
	{ "caf\xc3\xa9 " EURO " \xf0\x9f\x98\x80", "caf\xc3\xa9 " EURO
	    " \xf0\x9f\x98\x80" },
	{ "bad \xff byte", "bad ? byte" },
	{ "lone \x80 continuation", "lone ? continuation" },
	{ "overlong \xc0\xaf slash", "overlong ?? slash" },
	{ "overlong \xe0\x80\xaf three", "overlong ??? three" },
	{ "surrogate \xed\xa0\x80 half", "surrogate ??? half" },
	{ "above \xf4\x90\x80\x80 max", "above ???? max" },
	{ "cut \xe2\x82", "cut ??" },
	{ "tab\there\x7f", "tab?here?" },
	{ "quote \" and \\ back", "quote \" and \\ back" },
};

/* In the text form (_i 0) and in JSON (_i 1): each case's line. */
START_TEST(test_log_lines_are_utf8_with_the_bad_bytes_replaced)
{
	char *text, *line, *save = NULL, *msg;
	size_t len, i, n = sizeof(cases) / sizeof(cases[0]);
	int json = _i;

	capture_start(json);
	for (i = 0; i < n; i++)
		log_info("%s", cases[i].in);
	text = capture_end(&len);
	ck_assert(utf8_ok((unsigned char *)text, len));
	for (i = 0, line = strtok_r(text, "\n", &save); line != NULL;
	    i++, line = strtok_r(NULL, "\n", &save)) {
		ck_assert_uint_lt(i, n);
		msg = json ? json_msg(line, strlen(line)) :
		    strdup(text_msg(line));
		ck_assert_ptr_nonnull(msg);
		ck_assert_str_eq(msg, cases[i].out);
		free(msg);
	}
	ck_assert_uint_eq(i, n);
	free(text);
}
END_TEST

/*
 * A message longer than a line is cut and marked "...".  Cut in the middle
 * of a three-byte character, the piece left is replaced, not passed on.
 */
START_TEST(test_log_long_message_is_cut_on_a_character)
{
	char *big, *text, *msg;
	size_t len, i;
	int json = _i;

	ck_assert_ptr_nonnull(big = malloc(3 * 1000 + 1));
	for (i = 0; i < 1000; i++)
		memcpy(big + 3 * i, EURO, 3);
	big[3 * 1000] = '\0';
	capture_start(json);
	log_info("%s", big);
	text = capture_end(&len);
	ck_assert_uint_gt(len, 2000);
	ck_assert_uint_lt(len, 2300);
	ck_assert_int_eq(text[len - 1], '\n');
	ck_assert(memchr(text, '\n', len) == text + len - 1);
	ck_assert(utf8_ok((unsigned char *)text, len));
	msg = json ? json_msg(text, len - 1) : strdup(text_msg(text));
	ck_assert_ptr_nonnull(msg);
	len = strlen(msg);
	if (json)
		ck_assert_uint_eq(len, 2047);	/* the whole message buffer */
	else
		ck_assert_uint_eq(len, 2047 + 1);	/* with its newline */
	ck_assert(strncmp(msg, big, 3 * 681) == 0);
	/* 2,047 bytes, "..." over the last three: byte 2,043 begins a
	   character whose rest was cut. */
	ck_assert_str_eq(msg + 3 * 681, json ? "?..." : "?...\n");
	free(msg);
	free(text);
	free(big);
}
END_TEST

/*
 * Quotes double in JSON, so a message that fits the text form may not fit
 * the JSON line: it is cut after a whole character, marked "...", and
 * still parses, wherever the quotes put the cut.
 */
START_TEST(test_log_json_escapes_cut_on_a_character)
{
	char msgbuf[2048], *text, *msg;
	size_t len, i, q, off;

	for (q = 990; q < 996; q++) {
		for (i = 0; i < q; i++)
			msgbuf[i] = '"';
		for (off = q; off + 3 < 2000; off += 3)
			memcpy(msgbuf + off, EURO, 3);
		msgbuf[off] = '\0';
		capture_start(1);
		log_info("%s", msgbuf);
		text = capture_end(&len);
		ck_assert(utf8_ok((unsigned char *)text, len));
		msg = json_msg(text, len - 1);
		len = strlen(msg);
		ck_assert_uint_gt(len, q + 3);
		ck_assert_uint_lt(len, off);
		ck_assert_str_eq(msg + len - 3, "...");
		ck_assert(strncmp(msg, msgbuf, len - 3) == 0);
		free(msg);
		free(text);
	}
}
END_TEST

Suite *log_suite(void);

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_loop_test(tc,
	    test_log_lines_are_utf8_with_the_bad_bytes_replaced, 0, 2);
	tcase_add_loop_test(tc, test_log_long_message_is_cut_on_a_character,
	    0, 2);
	tcase_add_test(tc, test_log_json_escapes_cut_on_a_character);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
