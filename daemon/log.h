/*
 * log.h: secd's log.  One line per event on standard error, written with a
 * single write(2) so lines from several threads never interleave.  Under
 * systemd (JOURNAL_STREAM set) each line starts with a "<N>" syslog
 * priority the journal understands; with log.format json each line is one
 * JSON object.  Secrets are never passed here.
 */
#ifndef SECD_LOG_H
#define SECD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_L_ERR = 3,
	LOG_L_WARNING = 4,
	LOG_L_NOTICE = 5,
	LOG_L_INFO = 6,
	LOG_L_DEBUG = 7
};

/*
 * log_init(level, json): set the threshold and format.  Call on the main
 * thread before workers start (and again on reload: the values are read
 * with relaxed atomics, so a change applies from the next line on).
 */
void log_init(enum log_level level, int json);

/* log_level_from_name("info") -> LOG_L_INFO, or -1. */
int log_level_from_name(const char *name);

/* log_enabled(level): would a line at level be written? */
int log_enabled(enum log_level level);

/* log_msg(level, fmt, ...): write one line (no trailing newline in fmt). */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_errx(...) log_msg(LOG_L_ERR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_L_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_L_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_L_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_enabled(LOG_L_DEBUG)) log_msg(LOG_L_DEBUG, __VA_ARGS__); } while (0)

/*
 * log_ratelimited(slot, level, fmt, ...): like log_msg, but at most a few
 * lines a second per slot (a static struct log_rl), so a flood of refused
 * connections cannot flood the log; suppressed lines are counted and
 * reported with the next line that gets through.
 */
struct log_rl {
	long window;		/* current second */
	unsigned count;		/* lines written in it */
	unsigned suppressed;	/* lines dropped since the last written */
};
void log_ratelimited(struct log_rl *rl, enum log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* !SECD_LOG_H */
