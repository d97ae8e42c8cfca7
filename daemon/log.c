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

/* Append s to buf[*off..cap) as the inside of a JSON string. */
static void
log_json_escape(char *buf, size_t cap, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char ch;

	for (; (ch = (unsigned char)*s) != '\0'; s++) {
		if (*off + 7 >= cap)
			return;
		if (ch == '"' || ch == '\\') {
			buf[(*off)++] = '\\';
			buf[(*off)++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			buf[(*off)++] = '\\';
			buf[(*off)++] = 'u';
			buf[(*off)++] = '0';
			buf[(*off)++] = '0';
			buf[(*off)++] = hex[ch >> 4];
			buf[(*off)++] = hex[ch & 0xf];
		} else {
			buf[(*off)++] = (char)ch;
		}
	}
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
	/* Control characters from peers never reach the log raw. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	journal = atomic_load_explicit(&log_journal, memory_order_relaxed);
	if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
		    "\"level\":\"%s\",\"msg\":\"", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000000, log_names[level]);
		log_json_escape(line, sizeof(line) - 3, &off, msg);
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
