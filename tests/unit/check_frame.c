/*
 * check_frame.c: the line framer (proto/frame.c).
 *
 * Each test feeds bytes in a particular chunking and checks exactly which
 * lines come out, when FRAME_TOO_LARGE is reported, and that the buffer never
 * holds more than max + FRAME_SLACK bytes.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"

/*
 * For loops that run millions of times: ck_assert records its location on
 * every call, which dominates the run time; this reports only failures.
 */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);	\
} while (0)

/* Collected output of a framer run. */
struct lines {
	char	*text[1024];
	size_t	 len[1024];
	size_t	 n;
	int	 too_large;
	size_t	 maxbuf;	/* most bytes ever buffered */
};

static void
lines_free(struct lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		free(ls->text[i]);
	memset(ls, 0, sizeof(*ls));
}

/* Drain f into ls; returns the status that ended the drain. */
static enum frame_status
drain(struct frame *f, struct lines *ls)
{
	enum frame_status st;
	const char *line;
	size_t len;

	while ((st = frame_next(f, &line, &len)) == FRAME_LINE) {
		EXPECT(ls->n < 1024);
		EXPECT(line[len] == '\0');
		EXPECT(memchr(line, '\n', len) == NULL);
		ls->text[ls->n] = malloc(len + 1);
		EXPECT(ls->text[ls->n] != NULL);
		memcpy(ls->text[ls->n], line, len + 1);
		ls->len[ls->n++] = len;
	}
	if (st == FRAME_TOO_LARGE)
		ls->too_large = 1;
	return (st);
}

/*
 * Feed len bytes of data in chunks of chunk bytes (0: pseudo-random sizes
 * from seed), the way the contract in frame.h says a caller should.
 */
static void
feed(struct frame *f, const char *data, size_t len, size_t chunk,
    unsigned seed, struct lines *ls)
{
	size_t off = 0, n, want, took;

	while (off < len && !ls->too_large) {
		if (chunk == 0) {
			seed = seed * 1103515245u + 12345u;
			want = 1 + (seed >> 16) % 97;
		} else
			want = chunk;
		if (want > len - off)
			want = len - off;
		n = 0;
		while (n < want) {
			/* After a drain to NEED_MORE, a push always takes. */
			took = frame_push(f, data + off + n, want - n);
			EXPECT(took > 0);
			n += took;
			if (frame_buffered(f) > ls->maxbuf)
				ls->maxbuf = frame_buffered(f);
			if (drain(f, ls) == FRAME_TOO_LARGE)
				return;
		}
		off += want;
	}
}

static void
run(size_t max, const char *data, size_t chunk, struct lines *ls)
{
	struct frame f;

	memset(ls, 0, sizeof(*ls));
	ck_assert_int_eq(frame_init(&f, max), 0);
	feed(&f, data, strlen(data), chunk, 7, ls);
	ck_assert_uint_le(ls->maxbuf, max + FRAME_SLACK);
	frame_free(&f);
}

START_TEST(test_frame_returns_line_pushed_byte_at_a_time)
{
	struct lines ls;

	run(100, "{\"id\":1,\"op\":\"ping\"}\r\n{\"op\":\"logout\"}\n", 1, &ls);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_str_eq(ls.text[0], "{\"id\":1,\"op\":\"ping\"}");
	ck_assert_str_eq(ls.text[1], "{\"op\":\"logout\"}");
	ck_assert_int_eq(ls.too_large, 0);
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_splits_many_lines_in_one_chunk)
{
	struct lines ls;

	run(100, "a\nbb\r\nccc\nd\r\n", 1000, &ls);
	ck_assert_uint_eq(ls.n, 4);
	ck_assert_str_eq(ls.text[0], "a");
	ck_assert_str_eq(ls.text[1], "bb");
	ck_assert_str_eq(ls.text[2], "ccc");
	ck_assert_str_eq(ls.text[3], "d");
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_joins_line_split_across_chunks)
{
	struct frame f;
	const char *line;
	size_t len;

	ck_assert_int_eq(frame_init(&f, 100), 0);
	ck_assert_uint_eq(frame_push(&f, "hel", 3), 3);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_push(&f, "lo wor", 6), 6);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_push(&f, "ld\nnext", 7), 7);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 11);
	ck_assert_str_eq(line, "hello world");
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_buffered(&f), 4);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_strips_crlf_split_across_chunks)
{
	struct frame f;
	const char *line;
	size_t len;

	ck_assert_int_eq(frame_init(&f, 100), 0);
	ck_assert_uint_eq(frame_push(&f, "abc\r", 4), 4);
	/* The CR may be a terminator or content: wait. */
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_push(&f, "\n", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(line, "abc");
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_keeps_bare_cr_inside_line)
{
	struct lines ls;

	run(100, "a\rb\r\r\n", 1, &ls);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_uint_eq(ls.len[0], 4);
	ck_assert_mem_eq(ls.text[0], "a\rb\r", 4);
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_skips_empty_lines)
{
	struct lines ls;

	run(100, "\n\r\n\nx\n\n\r\ny\n", 1, &ls);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_str_eq(ls.text[0], "x");
	ck_assert_str_eq(ls.text[1], "y");
	lines_free(&ls);
	run(100, "\n\r\n\nx\n\n\r\ny\n", 1000, &ls);
	ck_assert_uint_eq(ls.n, 2);
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_accepts_line_of_exactly_max)
{
	char data[40];
	struct lines ls;

	memset(data, 'x', 16);
	strcpy(data + 16, "\n");
	run(16, data, 1, &ls);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_uint_eq(ls.len[0], 16);
	ck_assert_int_eq(ls.too_large, 0);
	lines_free(&ls);
	/* The same with CR LF, in one chunk and byte by byte. */
	strcpy(data + 16, "\r\n");
	run(16, data, 100, &ls);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_uint_eq(ls.len[0], 16);
	ck_assert_int_eq(ls.too_large, 0);
	lines_free(&ls);
	run(16, data, 1, &ls);
	ck_assert_uint_eq(ls.n, 1);
	ck_assert_uint_eq(ls.len[0], 16);
	ck_assert_int_eq(ls.too_large, 0);
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_rejects_oversize_line)
{
	char data[40];
	struct lines ls;
	size_t chunk;

	for (chunk = 1; chunk <= 40; chunk += 39) {
		memset(data, 'x', 17);
		strcpy(data + 17, "\n");
		run(16, data, chunk, &ls);
		ck_assert_uint_eq(ls.n, 0);
		ck_assert_int_eq(ls.too_large, 1);
		lines_free(&ls);
		strcpy(data + 17, "\r\n");
		run(16, data, chunk, &ls);
		ck_assert_uint_eq(ls.n, 0);
		ck_assert_int_eq(ls.too_large, 1);
		lines_free(&ls);
	}
}
END_TEST

START_TEST(test_frame_rejects_oversize_line_before_its_lf)
{
	struct frame f;
	const char *line;
	size_t len;
	char big[17];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(frame_init(&f, 16), 0);
	ck_assert_uint_eq(frame_push(&f, big, 16), 16);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	/* The 17th byte cannot belong to a line of 16: no LF needed. */
	ck_assert_uint_eq(frame_push(&f, big, 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_TOO_LARGE);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_waits_when_max_bytes_end_in_cr)
{
	struct frame f;
	const char *line;
	size_t len;
	char big[16];

	memset(big, 'x', sizeof(big));
	/* max bytes then CR: could still be a max-byte line. */
	ck_assert_int_eq(frame_init(&f, 16), 0);
	ck_assert_uint_eq(frame_push(&f, big, 16), 16);
	ck_assert_uint_eq(frame_push(&f, "\r", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_push(&f, "\n", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 16);
	frame_free(&f);
	/* ... but a byte other than LF after that CR makes max + 2. */
	ck_assert_int_eq(frame_init(&f, 16), 0);
	ck_assert_uint_eq(frame_push(&f, big, 16), 16);
	ck_assert_uint_eq(frame_push(&f, "\r", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	ck_assert_uint_eq(frame_push(&f, "y", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_TOO_LARGE);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_stays_broken_after_too_large)
{
	struct frame f;
	const char *line;
	size_t len;
	char big[40];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(frame_init(&f, 16), 0);
	ck_assert_uint_eq(frame_push(&f, big, 18), 18);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_TOO_LARGE);
	/* Nothing more is taken and no line ever comes out again. */
	ck_assert_uint_eq(frame_push(&f, "\nok\n", 4), 0);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_TOO_LARGE);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_TOO_LARGE);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_delivers_lines_before_oversize_line)
{
	char data[64];
	struct lines ls;

	strcpy(data, "one\ntwo\r\n");
	memset(data + 9, 'z', 30);
	strcpy(data + 39, "\nthree\n");
	run(16, data, 100, &ls);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_str_eq(ls.text[0], "one");
	ck_assert_str_eq(ls.text[1], "two");
	ck_assert_int_eq(ls.too_large, 1);
	lines_free(&ls);
}
END_TEST

START_TEST(test_frame_push_takes_partial_chunk_when_full)
{
	struct frame f;
	const char *line;
	size_t len, took;
	const char *data = "0123456789\n0123456789\n0123456789\n";

	ck_assert_int_eq(frame_init(&f, 10), 0);
	took = frame_push(&f, data, strlen(data));
	ck_assert_uint_eq(took, 10 + FRAME_SLACK);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_str_eq(line, "0123456789");
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	took += frame_push(&f, data + took, strlen(data) - took);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_str_eq(line, "0123456789");
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_push_takes_whole_room_after_need_more)
{
	struct frame f;
	const char *line;
	size_t len, room, i;
	char data[64];

	/* Whatever is pending, a push of the advertised room is taken. */
	for (i = 0; i <= 17; i++) {
		ck_assert_int_eq(frame_init(&f, 16), 0);
		memset(data, 'x', sizeof(data));
		if (i == 17)
			data[16] = '\r';	/* max bytes + CR pending */
		ck_assert_uint_eq(frame_push(&f, data, i), i);
		ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
		room = 16 + FRAME_SLACK - frame_buffered(&f);
		ck_assert_uint_eq(frame_push(&f, "\nyyyyyyyyyyyyyyyyyyyyyy", room),
		    room);
		frame_free(&f);
	}
	/* Also after lines were consumed ahead of a partial one. */
	ck_assert_int_eq(frame_init(&f, 16), 0);
	ck_assert_uint_eq(frame_push(&f, "a\nbb\nccccccccccccc", 18), 18);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	room = 16 + FRAME_SLACK - frame_buffered(&f);
	ck_assert_uint_eq(room, 5);
	ck_assert_uint_eq(frame_push(&f, "ddd\n\n", room), room);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_str_eq(line, "cccccccccccccddd");
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_buffer_stays_bounded)
{
	struct frame f;
	struct lines ls;
	char *data;
	size_t i, len = 1 << 20, nl = 0, lines_out = 0;
	unsigned seed = 12345;

	/* 1 MiB of lines of 0..200 bytes, max 200, random chunking. */
	data = malloc(len + 1);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		if (i - nl >= 200 || (seed >> 16) % 50 == 0) {
			data[i] = '\n';
			nl = i + 1;
		} else
			data[i] = (char)('a' + (seed >> 16) % 26);
	}
	data[len - 1] = '\n';
	data[len] = '\0';
	ck_assert_int_eq(frame_init(&f, 200), 0);
	for (i = 0; i < len; i += 4096) {
		memset(&ls, 0, sizeof(ls));
		feed(&f, data + i, len - i < 4096 ? len - i : 4096, 0,
		    (unsigned)i, &ls);
		EXPECT(ls.too_large == 0);
		EXPECT(ls.maxbuf <= 200 + FRAME_SLACK);
		EXPECT(f.cap <= 200 + FRAME_SLACK);
		lines_out += ls.n;
		lines_free(&ls);
	}
	for (i = 0, nl = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\n'))
			nl++;
	ck_assert_uint_eq(lines_out, nl);
	ck_assert_uint_eq(frame_buffered(&f), 0);
	frame_free(&f);
	free(data);
}
END_TEST

START_TEST(test_frame_scan_is_linear_byte_at_a_time)
{
	struct frame f;
	const char *line;
	size_t i, len, n = 2 << 20;
	clock_t t0;
	double secs;

	/*
	 * A 2 MiB line one byte at a time, asking for a line after each
	 * byte.  Rescanning from the line start would be ~2e12 steps;
	 * linear is a few milliseconds (generous bound for sanitizers).
	 */
	ck_assert_int_eq(frame_init(&f, n), 0);
	t0 = clock();
	for (i = 0; i < n; i++) {
		EXPECT(frame_push(&f, "x", 1) == 1);
		EXPECT(frame_next(&f, &line, &len) == FRAME_NEED_MORE);
	}
	ck_assert_uint_eq(frame_push(&f, "\n", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_uint_eq(len, n);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ck_assert_msg(secs < 3.0, "byte-at-a-time framing took %.1f s", secs);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_wipes_consumed_line)
{
	struct frame f;
	const char *line;
	size_t len, i;
	const char *secret = "{\"password\":\"hunter2\"}\npartial";

	ck_assert_int_eq(frame_init(&f, 100), 0);
	ck_assert_uint_eq(frame_push(&f, secret, strlen(secret)),
	    strlen(secret));
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_NEED_MORE);
	/* The handed-out line and its LF are zero now; the rest is intact. */
	for (i = 0; i < 23; i++)
		ck_assert_int_eq(f.buf[i], 0);
	ck_assert_mem_eq(f.buf + 23, "partial", 7);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_trim_releases_idle_buffer)
{
	struct frame f;
	const char *line;
	size_t len;

	ck_assert_int_eq(frame_init(&f, 100), 0);
	ck_assert_ptr_null(f.buf);
	ck_assert_uint_eq(frame_push(&f, "a\nb", 3), 3);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	/* "b" is pending: trim must keep it. */
	frame_trim(&f);
	ck_assert_ptr_nonnull(f.buf);
	ck_assert_uint_eq(frame_push(&f, "\n", 1), 1);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_str_eq(line, "b");
	frame_trim(&f);
	ck_assert_ptr_null(f.buf);
	ck_assert_uint_eq(f.cap, 0);
	/* And it works again afterwards. */
	ck_assert_uint_eq(frame_push(&f, "c\n", 2), 2);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_str_eq(line, "c");
	frame_free(&f);
	frame_free(&f);
	frame_free(NULL);
}
END_TEST

START_TEST(test_frame_init_rejects_bad_max)
{
	struct frame f;

	ck_assert_int_eq(frame_init(&f, 0), -1);
	ck_assert_int_eq(frame_init(&f, FRAME_MAX_LIMIT + 1), -1);
	ck_assert_int_eq(frame_init(&f, FRAME_MAX_LIMIT), 0);
	frame_free(&f);
}
END_TEST

START_TEST(test_frame_line_may_contain_nul)
{
	struct frame f;
	const char *line;
	size_t len;

	ck_assert_int_eq(frame_init(&f, 100), 0);
	ck_assert_uint_eq(frame_push(&f, "a\0b\n", 4), 4);
	ck_assert_int_eq(frame_next(&f, &line, &len), FRAME_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(line, "a\0b", 4);
	frame_free(&f);
}
END_TEST

Suite *frame_suite(void);

Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_frame_returns_line_pushed_byte_at_a_time);
	tcase_add_test(tc, test_frame_splits_many_lines_in_one_chunk);
	tcase_add_test(tc, test_frame_joins_line_split_across_chunks);
	tcase_add_test(tc, test_frame_strips_crlf_split_across_chunks);
	tcase_add_test(tc, test_frame_keeps_bare_cr_inside_line);
	tcase_add_test(tc, test_frame_skips_empty_lines);
	tcase_add_test(tc, test_frame_accepts_line_of_exactly_max);
	tcase_add_test(tc, test_frame_rejects_oversize_line);
	tcase_add_test(tc, test_frame_rejects_oversize_line_before_its_lf);
	tcase_add_test(tc, test_frame_waits_when_max_bytes_end_in_cr);
	tcase_add_test(tc, test_frame_stays_broken_after_too_large);
	tcase_add_test(tc, test_frame_delivers_lines_before_oversize_line);
	tcase_add_test(tc, test_frame_push_takes_partial_chunk_when_full);
	tcase_add_test(tc, test_frame_push_takes_whole_room_after_need_more);
	tcase_add_test(tc, test_frame_buffer_stays_bounded);
	tcase_add_test(tc, test_frame_scan_is_linear_byte_at_a_time);
	tcase_add_test(tc, test_frame_wipes_consumed_line);
	tcase_add_test(tc, test_frame_trim_releases_idle_buffer);
	tcase_add_test(tc, test_frame_init_rejects_bad_max);
	tcase_add_test(tc, test_frame_line_may_contain_nul);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
