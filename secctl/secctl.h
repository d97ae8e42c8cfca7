/*
 * secctl.h: what secctl's command files share: options, exit codes, and the
 * request helpers of main.c that the interactive shell reuses.
 */
#ifndef SECCTL_SECCTL_H
#define SECCTL_SECCTL_H

#include <stdint.h>
#include <stdio.h>

#include "client.h"
#include "msg.h"

/* Exit codes (secctl(1)). */
#define EX_OK 0		/* done */
#define EX_REFUSED 1	/* the server answered with an error */
#define EX_USAGE 2	/* bad command line */
#define EX_CONNECT 3	/* connection, TLS or verification failure */
#define EX_AUTH 4	/* login refused (auth_failed, locked) */
#define EX_LOCAL 5	/* local failure: files, terminal, memory */

struct opts {
	struct client_opts c;
	const char *account;
	const char *password_file;
	int json;
};

/*
 * read_password(o, buf, size): o's password (--password-file, then
 * $SECCTL_PASSWORD, then the terminal without echo) into buf; -1 with a
 * message on stderr.  The caller wipes buf.
 */
int read_password(const struct opts *o, char *buf, size_t size);

/*
 * password_wanted(o): 1 if a login sends a password: when one is given
 * (--password-file, $SECCTL_PASSWORD), or when there is no client
 * certificate (then the terminal is asked).  With --cert and no password
 * given, 0: a certificate login sends none and never prompts, which is
 * what a server with auth.methods "certificate" accepts.
 */
int password_wanted(const struct opts *o);

/* do_login(cl, o): log in as o->account, password from o's sources. */
int do_login(struct client *cl, const struct opts *o);

/* run_simple(cl, o, op): run ping or balance and print the result. */
int run_simple(struct client *cl, const struct opts *o, enum msg_op op);

/* report_error(o, rep): print an error reply; the exit code it maps to. */
int report_error(const struct opts *o, const struct msg_reply *rep);

/* print_json_reply(rep): the reply as a canonical line on stdout. */
void print_json_reply(const struct msg_reply *rep);

/* print_money(f, minor, currency): "100.00 CNY". */
void print_money(FILE *f, int64_t amount, const char *currency);

/* chomp(s): strip one trailing newline (and CR). */
void chomp(char *s);

/* wipe(p, n): zero n bytes in a way the compiler keeps. */
void wipe(void *p, size_t n);

/*
 * run_transfer(cl, o, argc, argv), run_history(...): the transfer and
 * history commands, argv[0] being the command, its options after it.
 */
int run_transfer(struct client *cl, const struct opts *o, int argc,
    char **argv);
int run_history(struct client *cl, const struct opts *o, int argc,
    char **argv);

/* bench_main(o, argc, argv): secctl bench. */
int bench_main(const struct opts *o, int argc, char **argv);

/*
 * stats_main(o, argc, argv): secctl stats: fetch secd's metrics over HTTP
 * (--metrics HOST:PORT, else $SECCTL_METRICS, else 127.0.0.1:9443) and
 * print a summary, or with o->json every sample.  An exit code.
 */
int stats_main(const struct opts *o, int argc, char **argv);

/* shell_run(cl, o): the interactive shell on stdin/stdout. */
int shell_run(struct client *cl, const struct opts *o);

#endif /* !SECCTL_SECCTL_H */
