/*
 * frame.c: cut a byte stream into LF-terminated lines, in bounded memory.
 *
 * The buffer is one array; [start, end) holds bytes not yet handed out.
 * Three facts keep the work linear however the bytes are chunked:
 *
 *  - scan remembers how far the search for LF has got, so bytes that
 *    arrive one at a time are each looked at once;
 *  - compaction (moving the unconsumed tail to the front) happens only when
 *    a push does not fit, and under the documented use the tail then holds
 *    part of a single line, which is never moved again once completed;
 *  - the buffer grows by doubling up to max + FRAME_SLACK and never beyond,
 *    so a peer cannot make it hold more than one maximal line.
 *
 * Lines are handed out in place and NUL-terminated over their terminator.
 * Bytes behind start have been handed out; they are wiped (explicit_bzero)
 * on the next call, so a password in a login line does not linger.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Smallest allocation; most requests are far shorter. */
#define FRAME_INITIAL_CAP	256

int
frame_init(struct frame *f, size_t max)
{

	memset(f, 0, sizeof(*f));
	if (max == 0 || max > FRAME_MAX_LIMIT) {
		errno = EINVAL;
		return (-1);
	}
	f->max = max;
	return (0);
}

/* Wipe what has been handed out since the last call; reset if empty. */
static void
frame_wipe_consumed(struct frame *f)
{

	if (f->start > f->wiped) {
		explicit_bzero(f->buf + f->wiped, f->start - f->wiped);
		f->wiped = f->start;
	}
	if (f->start == f->end)
		f->start = f->end = f->scan = f->wiped = 0;
}

/* Move [start, end) to the front and wipe the stale copy behind it. */
static void
frame_compact(struct frame *f)
{
	size_t n = f->end - f->start;

	memmove(f->buf, f->buf + f->start, n);
	explicit_bzero(f->buf + n, f->end - n);
	f->scan -= f->start;
	f->end = n;
	f->start = f->wiped = 0;
}

/*
 * Grow the buffer (start is 0 here) to hold at least want bytes, bounded
 * by max + FRAME_SLACK.  Not realloc(): the old block must be wiped.
 */
static int
frame_grow(struct frame *f, size_t want)
{
	size_t limit = f->max + FRAME_SLACK;
	size_t ncap;
	char *nbuf;

	ncap = f->cap > 0 ? f->cap : FRAME_INITIAL_CAP;
	while (ncap < want && ncap < limit)
		ncap *= 2;
	if (ncap > limit)
		ncap = limit;
	if (ncap <= f->cap)
		return (0);
	if ((nbuf = malloc(ncap)) == NULL)
		return (-1);
	if (f->buf != NULL) {
		memcpy(nbuf, f->buf, f->end);
		explicit_bzero(f->buf, f->cap);
		free(f->buf);
	}
	f->buf = nbuf;
	f->cap = ncap;
	return (0);
}

size_t
frame_push(struct frame *f, const void *data, size_t len)
{
	size_t n;

	if (f->broken || len == 0)
		return (0);
	frame_wipe_consumed(f);
	if (f->cap - f->end < len) {
		if (f->start > 0)
			frame_compact(f);
		/* A failed grow still leaves any room there is to use. */
		if (f->cap - f->end < len &&
		    frame_grow(f, f->end + len) == -1 && f->cap == f->end)
			return (0);
	}
	n = f->cap - f->end;
	if (n > len)
		n = len;
	memcpy(f->buf + f->end, data, n);
	f->end += n;
	return (n);
}

enum frame_status
frame_next(struct frame *f, const char **line, size_t *len)
{
	char *lf;
	size_t at, n;

	if (f->broken)
		return (FRAME_TOO_LARGE);
	frame_wipe_consumed(f);
	for (;;) {
		lf = NULL;
		if (f->end > f->scan)
			lf = memchr(f->buf + f->scan, '\n', f->end - f->scan);
		if (lf == NULL) {
			f->scan = f->end;
			/*
			 * No LF yet.  max bytes plus a CR may still become a
			 * line of max bytes; anything longer cannot.
			 */
			n = f->end - f->start;
			if (n > f->max + 1 ||
			    (n == f->max + 1 && f->buf[f->end - 1] != '\r')) {
				f->broken = 1;
				return (FRAME_TOO_LARGE);
			}
			return (FRAME_NEED_MORE);
		}
		at = f->start;
		n = (size_t)(lf - (f->buf + at));
		if (n > 0 && f->buf[at + n - 1] == '\r')
			n--;
		if (n > f->max) {
			f->broken = 1;
			return (FRAME_TOO_LARGE);
		}
		f->start = f->scan = (size_t)(lf - f->buf) + 1;
		if (n == 0)
			continue;	/* empty lines are skipped */
		f->buf[at + n] = '\0';
		*line = f->buf + at;
		*len = n;
		return (FRAME_LINE);
	}
}

size_t
frame_buffered(const struct frame *f)
{

	return (f->end - f->start);
}

void
frame_trim(struct frame *f)
{

	frame_wipe_consumed(f);
	if (f->start != f->end || f->buf == NULL)
		return;
	explicit_bzero(f->buf, f->cap);
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
}

void
frame_free(struct frame *f)
{

	if (f == NULL)
		return;
	if (f->buf != NULL) {
		explicit_bzero(f->buf, f->cap);
		free(f->buf);
	}
	f->buf = NULL;
	f->cap = f->start = f->scan = f->end = f->wiped = 0;
}
