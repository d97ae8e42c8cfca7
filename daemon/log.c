/*
 * log.c: one line per event on stderr.  Each line is formatted into a stack
 * buffer and written with one write(2): stderr is shared by every worker
 * thread, and a single write of less than PIPE_BUF bytes reaches a pipe (the
 * journal's stream) whole.  Lines longer than the buffer are cut, marked
 * with "...", never split.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static atomic_int log_threshold = LOG_L_INFO;
static atomic_int log_json;
static atomic_int log_journal = -1;	/* -1: not yet looked at */
static pthread_mutex_t log_rl_mtx = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = {
	[LOG_L_ERR] = "error",
	[LOG_L_WARNING] = "warning",
	[LOG_L_NOTICE] = "notice",
	[LOG_L_INFO] = "info",
	[LOG_L_DEBUG] = "debug",
};

void
log_init(enum log_level level, int json)
{
	atomic_store_explicit(&log_threshold, level, memory_order_relaxed);
	atomic_store_explicit(&log_json, json != 0, memory_order_relaxed);
	atomic_store_explicit(&log_journal, getenv("JOURNAL_STREAM") != NULL,
	    memory_order_relaxed);
}

int
log_level_from_name(const char *name)
{
	int i;

	for (i = LOG_L_ERR; i <= LOG_L_DEBUG; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return -1;
}

int
log_enabled(enum log_level level)
{
	return (int)level <=
	    atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
 */
static size_t
log_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	/* The first continuation byte has the narrowed range. */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Make msg safe for every form of the log: a control character, or a byte
 * that does not begin a well-formed UTF-8 sequence (a peer's binary, or a
 * character the length cut split), becomes '?'.
 */
static void
log_sanitize(char *msg)
{
	unsigned char *p = (unsigned char *)msg;
	size_t n;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		n = log_utf8_len(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

/*
 * Append s (sanitized) to buf[*off..cap) as the inside of a JSON string;
 * 0, or -1 if it did not all fit (what fits ends on a character boundary).
 */
static int
log_json_escape(char *buf, size_t cap, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		n = log_utf8_len(p);
		if (n == 0)
			n = 1;	/* not after log_sanitize */
		if (*p == '"' || *p == '\\') {
			if (*off + 2 > cap)
				return -1;
			buf[(*off)++] = '\\';
			buf[(*off)++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			if (*off + 6 > cap)
				return -1;
			buf[(*off)++] = '\\';
			buf[(*off)++] = 'u';
			buf[(*off)++] = '0';
			buf[(*off)++] = '0';
			buf[(*off)++] = hex[*p >> 4];
			buf[(*off)++] = hex[*p & 0xf];
		} else {
			if (*off + n > cap)
				return -1;
			memcpy(buf + *off, p, n);
			*off += n;
		}
		p += n;
	}
	return 0;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
	size_t off = 0;
	int n, journal, saved_errno = errno;
	struct timespec ts;
	struct tm tm;

	if (!log_enabled(level))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	/* Control characters and broken UTF-8 never reach the log raw. */
	log_sanitize(msg);

	journal = atomic_load_explicit(&log_journal, memory_order_relaxed);
	if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
		    "\"level\":\"%s\",\"msg\":\"", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000000, log_names[level]);
		/* Room is kept for "...", the closing "} and the newline. */
		if (log_json_escape(line, sizeof(line) - 6, &off, msg) != 0) {
			memcpy(line + off, "...", 3);
			off += 3;
		}
		line[off++] = '"';
		line[off++] = '}';
	} else if (journal == 1) {
		/* The journal stamps time and unit itself. */
		off = (size_t)snprintf(line, sizeof(line), "<%d>%s", (int)level,
		    msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = (size_t)snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02dZ secd[%d] %s: %s",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)getpid(), log_names[level], msg);
	}
	if (off > sizeof(line) - 1)
		off = sizeof(line) - 1;
	line[off++] = '\n';
	/* Nothing useful can be done if stderr is gone. */
	if (write(STDERR_FILENO, line, off) < 0)
		(void)0;
	errno = saved_errno;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define LOG_RL_PER_SECOND 5

void
log_ratelimited(struct log_rl *rl, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	long now = (long)time(NULL);
	unsigned suppressed = 0;
	int emit;
	char msg[LOG_LINE_MAX];

	if (!log_enabled(level))
		return;
	pthread_mutex_lock(&log_rl_mtx);
	if (rl->window != now) {
		rl->window = now;
		rl->count = 0;
	}
	emit = rl->count < LOG_RL_PER_SECOND;
	if (emit) {
		rl->count++;
		suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&log_rl_mtx);
	if (!emit)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		log_msg(level, "%s (%u similar lines suppressed)", msg,
		    suppressed);
	else
		log_msg(level, "%s", msg);
}
