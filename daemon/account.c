/*
 * account.c: "secd account add|passwd|list|show|deposit|withdraw", the
 * ledger's admin tool.
 *
 * It loads the same configuration secd serves with, finds the built-in
 * ledger's database in handler.options.database (relative paths are taken
 * from the configuration file's directory, as secd itself does) and works
 * on it through ledger_admin, synchronously: this is a command-line tool,
 * and it may run while secd serves the same file.
 *
 * Passwords.  Never from argv, where ps(1) and shell history would see
 * them.  From a terminal: read without echo, twice, and the two must
 * match; signals during the prompt restore the terminal first.  From
 * anything else: the first line of standard input, so scripts can pipe
 * one in.  Read with read(2) a byte at a time, so no stdio buffer keeps a
 * copy, and wiped once hashed.
 *
 * The database file is created on first use.  Run as root with a user
 * in the configuration, a newly created file is given to that user, so
 * that secd, once it has dropped privileges, can still open it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "conf.h"
#include "ledger_admin.h"
#include "ledger_amount.h"
#include "ledger_db.h"
#include "ledger_hash.h"
#include "secd_build.h"

#define ACCOUNT_DEFAULT_CONF	SECD_SYSCONFDIR "/secd.yaml"
#define ACCOUNT_DEFAULT_CURRENCY "CNY"

/* The command line, parsed. */
struct account_args {
	const char	*verb;		/* add, passwd, list, show, ... */
	const char	*name;		/* the account, or NULL for list */
	const char	*config;
	const char	*balance;	/* as typed, or NULL */
	const char	*currency;	/* or NULL */
	const char	*amount;	/* deposit, withdraw: as typed */
	const char	*reason;	/* deposit, withdraw */
};

/* A password as read, with room to notice one that is too long. */
struct account_pw {
	char	buf[LEDGER_PASSWORD_MAX + 1];
	size_t	len;
};

/* Set by a signal that arrives while the terminal echoes nothing. */
static volatile sig_atomic_t account_signal;

static void
account_usage(FILE *f)
{

	fprintf(f,
	    "usage: secd account add ACCOUNT [--balance AMOUNT] "
	    "[--currency CODE] [-c FILE]\n"
	    "       secd account passwd ACCOUNT [-c FILE]\n"
	    "       secd account list [-c FILE]\n"
	    "       secd account show ACCOUNT [-c FILE]\n"
	    "       secd account deposit ACCOUNT AMOUNT --reason TEXT "
	    "[-c FILE]\n"
	    "       secd account withdraw ACCOUNT AMOUNT --reason TEXT "
	    "[-c FILE]\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s); the\n"
	    "                      database is its handler.options.database\n"
	    "  -b, --balance AMOUNT  initial balance in major units, at most\n"
	    "                      two decimals: 100, 100.5, 100.00 "
	    "(default 0)\n"
	    "  --currency CODE     three letters A-Z (default %s)\n"
	    "  -r, --reason TEXT   why money is deposited or withdrawn, 1 to "
	    "256\n"
	    "                      bytes, kept in the journal (required)\n"
	    "  -h, --help          this text\n"
	    "\n"
	    "ACCOUNT is 1 to %d of A-Z a-z 0-9 . _ @ -.  add and passwd read "
	    "the\n"
	    "password from the terminal (twice, without echo) or, if standard "
	    "input\n"
	    "is not a terminal, as its first line.  Every currency is shown "
	    "with\n"
	    "two decimals; AMOUNT is in major units like --balance.  A "
	    "withdrawal\n"
	    "never takes an account below zero.  Exit status: 0 on success, "
	    "1 on\n"
	    "any error.\n",
	    ACCOUNT_DEFAULT_CONF, ACCOUNT_DEFAULT_CURRENCY, LEDGER_NAME_MAX);
}

static void
account_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
account_warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("secd account: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Parse argv into a; -1 after a message, 1 for --help, 0 to go on. */
static int
account_parse(int argc, char **argv, struct account_args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "balance", required_argument, NULL, 'b' },
		{ "currency", required_argument, NULL, 'C' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pos[3];
	int ch, npos = 0;

	memset(a, 0, sizeof(*a));
	a->config = ACCOUNT_DEFAULT_CONF;
	/* 0, not 1: makes glibc's getopt start over after main's use. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-c:b:r:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 1:		/* an operand, in order */
			if (npos == 3) {
				account_warnx("unexpected argument \"%s\"",
				    optarg);
				return -1;
			}
			pos[npos++] = optarg;
			break;
		case 'c':
			a->config = optarg;
			break;
		case 'b':
			a->balance = optarg;
			break;
		case 'C':
			a->currency = optarg;
			break;
		case 'r':
			a->reason = optarg;
			break;
		case 'h':
			return 1;
		default:
			account_warnx("unknown option, or one without its "
			    "value: %s (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (npos == 0) {
		account_warnx("missing command: add, passwd, list, show, "
		    "deposit or withdraw (see --help)");
		return -1;
	}
	a->verb = pos[0];
	if (strcmp(a->verb, "list") == 0) {
		if (npos != 1) {
			account_warnx("list takes no account");
			return -1;
		}
	} else if (strcmp(a->verb, "add") == 0 ||
	    strcmp(a->verb, "passwd") == 0 || strcmp(a->verb, "show") == 0) {
		if (npos != 2) {
			account_warnx("%s needs exactly one ACCOUNT",
			    a->verb);
			return -1;
		}
		a->name = pos[1];
	} else if (strcmp(a->verb, "deposit") == 0 ||
	    strcmp(a->verb, "withdraw") == 0) {
		if (npos != 3) {
			account_warnx("%s needs an ACCOUNT and an AMOUNT",
			    a->verb);
			return -1;
		}
		a->name = pos[1];
		a->amount = pos[2];
		if (a->reason == NULL) {
			account_warnx("%s needs --reason TEXT, kept in the "
			    "journal", a->verb);
			return -1;
		}
	} else {
		account_warnx("unknown command \"%s\": use add, passwd, list, "
		    "show, deposit or withdraw", a->verb);
		return -1;
	}
	if (a->reason != NULL && a->amount == NULL) {
		account_warnx("--reason only goes with deposit and withdraw");
		return -1;
	}
	if ((a->balance != NULL || a->currency != NULL) &&
	    strcmp(a->verb, "add") != 0) {
		account_warnx("--balance and --currency only go with add");
		return -1;
	}
	return 0;
}

static void
account_sig(int sig)
{

	account_signal = sig;
}

/*
 * Read one line from fd into pw.  A signal (handled, without SA_RESTART)
 * interrupts the read.  Return 0, or -1 after a message.
 */
static int
account_read_line(int fd, struct account_pw *pw, int tty)
{
	ssize_t n;
	char c;

	pw->len = 0;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR && account_signal == 0)
			continue;
		if (n < 0) {
			if (account_signal == 0)
				account_warnx("reading the password: %s",
				    strerror(errno));
			goto err;
		}
		if (n == 0 || c == '\n')
			break;
		if (pw->len == LEDGER_PASSWORD_MAX) {
			account_warnx("the password is longer than %d bytes",
			    LEDGER_PASSWORD_MAX);
			goto err;
		}
		pw->buf[pw->len++] = c;
	}
	if (n == 0 && pw->len == 0 && !tty) {
		account_warnx("no password on standard input");
		goto err;
	}
	if (pw->len > 0 && pw->buf[pw->len - 1] == '\r')
		pw->len--;
	pw->buf[pw->len] = '\0';
	explicit_bzero(&c, sizeof(c));
	if (pw->len == 0) {
		account_warnx("empty password");
		goto err;
	}
	if (memchr(pw->buf, '\0', pw->len) != NULL) {
		account_warnx("the password contains a NUL byte");
		goto err;
	}
	return 0;

err:
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(pw, sizeof(*pw));
	return -1;
}

/* Prompt on stderr and read from the terminal on stdin, without echo. */
static int
account_read_tty(const char *prompt, struct account_pw *pw)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	    SIGTSTP };
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios term, quiet;
	size_t i;
	int rc;

	if (tcgetattr(STDIN_FILENO, &term) != 0) {
		account_warnx("terminal: %s", strerror(errno));
		return -1;
	}
	/* No SA_RESTART: a signal ends read(2), and we restore the
	   terminal before acting on it. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = account_sig;
	sigemptyset(&sa.sa_mask);
	account_signal = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);

	quiet = term;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ICANON;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		account_warnx("terminal: %s", strerror(errno));
		rc = -1;
	} else {
		rc = account_read_line(STDIN_FILENO, pw, 1);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &term);
	}
	fputc('\n', stderr);

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (account_signal != 0) {
		explicit_bzero(pw, sizeof(*pw));
		/* Now that echo is back, die of it as we would have. */
		raise(account_signal);
		return -1;
	}
	return rc;
}

/* Read the new password for name into pw. */
static int
account_read_password(const char *name, struct account_pw *pw)
{
	struct account_pw again;
	char prompt[LEDGER_NAME_MAX + 32];
	int rc = -1;

	if (!isatty(STDIN_FILENO))
		return account_read_line(STDIN_FILENO, pw, 0);

	snprintf(prompt, sizeof(prompt), "New password for %s: ", name);
	if (account_read_tty(prompt, pw))
		return -1;
	if (account_read_tty("Again: ", &again))
		goto done;
	if (again.len != pw->len ||
	    !ledger_ct_equal(again.buf, pw->buf, pw->len)) {
		account_warnx("the passwords do not match; nothing changed");
		goto done;
	}
	rc = 0;
done:
	explicit_bzero(&again, sizeof(again));
	if (rc != 0)
		explicit_bzero(pw, sizeof(*pw));
	return rc;
}

/*
 * The database path: path, or relative to the directory of the
 * configuration file conf (itself relative to the current directory).
 */
static char *
account_resolve(const char *conf, const char *path)
{
	char *s, cwd[4096];
	const char *slash;
	int n;

	if (path[0] == '/')
		return strdup(path);
	slash = strrchr(conf, '/');
	if (slash != NULL && conf[0] == '/')
		n = asprintf(&s, "%.*s/%s", (int)(slash - conf), conf, path);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return NULL;
		if (slash != NULL)
			n = asprintf(&s, "%s/%.*s/%s", cwd,
			    (int)(slash - conf), conf, path);
		else
			n = asprintf(&s, "%s/%s", cwd, path);
	}
	return n < 0 ? NULL : s;
}

/* Give a database file we just created to the user secd runs as. */
static void
account_give_away(const char *path, const struct conf *c)
{
	const struct passwd *pw;
	const struct group *gr;
	gid_t gid;

	if (geteuid() != 0 || c->user == NULL)
		return;
	if ((pw = getpwnam(c->user)) == NULL) {
		account_warnx("warning: no user %s; %s stays root's", c->user,
		    path);
		return;
	}
	gid = pw->pw_gid;
	if (c->group != NULL) {
		if ((gr = getgrnam(c->group)) == NULL) {
			account_warnx("warning: no group %s; %s keeps group "
			    "%u", c->group, path, (unsigned int)gid);
		} else
			gid = gr->gr_gid;
	}
	if (chown(path, pw->pw_uid, gid) != 0)
		account_warnx("warning: chown %s: %s", path, strerror(errno));
}

static void
account_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%lld ms", (long long)ms);
}

static int
account_add(struct ledger_admin *la, const struct account_args *a,
    int64_t balance)
{
	struct ledger_account acct;
	struct account_pw pw;
	char err[512], amount[LEDGER_AMOUNT_BUFSZ];
	const char *currency = a->currency != NULL ? a->currency :
	    ACCOUNT_DEFAULT_CURRENCY;
	int rc;

	/* Say so before asking for a password that would be wasted. */
	if (a->name[0] == '@') {
		account_warnx("bad account name \"%.80s\": names beginning "
		    "with @ are reserved (history shows deposits as @deposit, "
		    "withdrawals as @withdraw)", a->name);
		return -1;
	}
	if (ledger_admin_show(la, a->name, &acct, err, sizeof(err)) == 0) {
		account_warnx("account %s already exists", a->name);
		return -1;
	}
	if (account_read_password(a->name, &pw))
		return -1;
	rc = ledger_admin_add(la, a->name, pw.buf, pw.len, currency, balance,
	    err, sizeof(err));
	explicit_bzero(&pw, sizeof(pw));
	if (rc != 0) {
		account_warnx("%s", err);
		return -1;
	}
	ledger_amount_format(balance, amount, sizeof(amount));
	printf("account %s added, balance %s %s\n", a->name, amount,
	    currency);
	return 0;
}

static int
account_passwd(struct ledger_admin *la, const struct account_args *a)
{
	struct ledger_account acct;
	struct account_pw pw;
	char err[512];
	int rc;

	if (ledger_admin_show(la, a->name, &acct, err, sizeof(err)) != 0) {
		account_warnx("%s", err);
		return -1;
	}
	if (account_read_password(a->name, &pw))
		return -1;
	rc = ledger_admin_passwd(la, a->name, pw.buf, pw.len, err,
	    sizeof(err));
	explicit_bzero(&pw, sizeof(pw));
	if (rc != 0) {
		account_warnx("%s", err);
		return -1;
	}
	printf("password of %s changed\n", a->name);
	return 0;
}

static int
account_list_cb(const struct ledger_account *acct, void *arg)
{
	char amount[LEDGER_AMOUNT_BUFSZ], notes[96], when[64];
	int *n = arg;

	if ((*n)++ == 0)
		printf("%-24s %20s %s\n", "ACCOUNT", "BALANCE", "CURRENCY");
	ledger_amount_format(acct->balance, amount, sizeof(amount));
	notes[0] = '\0';
	if (acct->locked_until > ledger_db_now_ms()) {
		account_time(acct->locked_until, when, sizeof(when));
		snprintf(notes, sizeof(notes), "  locked until %s", when);
	}
	if (acct->needs_rehash)
		snprintf(notes + strlen(notes), sizeof(notes) - strlen(notes),
		    "  old password hash");
	printf("%-24s %20s %s%s\n", acct->name, amount, acct->currency,
	    notes);
	return 0;
}

static int
account_list(struct ledger_admin *la)
{
	char err[512];
	int n = 0;

	if (ledger_admin_list(la, account_list_cb, &n, err, sizeof(err))) {
		account_warnx("%s", err);
		return -1;
	}
	if (n == 0)
		account_warnx("no accounts yet; add one with secd account "
		    "add");
	return 0;
}

static int
account_show(struct ledger_admin *la, const struct account_args *a)
{
	struct ledger_account acct;
	char err[512], amount[LEDGER_AMOUNT_BUFSZ], sum[LEDGER_AMOUNT_BUFSZ];
	char when[64];

	if (ledger_admin_show(la, a->name, &acct, err, sizeof(err)) != 0) {
		account_warnx("%s", err);
		return -1;
	}
	ledger_amount_format(acct.balance, amount, sizeof(amount));
	ledger_amount_format(acct.journal_sum, sum, sizeof(sum));
	printf("account   %s\n", acct.name);
	printf("balance   %s %s\n", amount, acct.currency);
	account_time(acct.created, when, sizeof(when));
	printf("created   %s\n", when);
	printf("password  %s%s\n", acct.hash_params, acct.needs_rehash ?
	    " (not the configured parameters; set it again to upgrade)" : "");
	printf("journal   %lld %s, summing to %s %s\n",
	    (long long)acct.journal_entries,
	    acct.journal_entries == 1 ? "entry" : "entries", sum,
	    acct.currency);
	if (acct.locked_until > ledger_db_now_ms()) {
		account_time(acct.locked_until, when, sizeof(when));
		printf("locked    until %s\n", when);
	} else
		printf("locked    no\n");
	if (acct.journal_sum != acct.balance) {
		account_warnx("account %s: the balance %s differs from its "
		    "journal's sum %s: the database is inconsistent",
		    acct.name, amount, sum);
		return -1;
	}
	return 0;
}

static int
account_adjust(struct ledger_admin *la, const struct account_args *a,
    int64_t amount)
{
	struct ledger_adjustment adj;
	char err[512], amt[LEDGER_AMOUNT_BUFSZ], bal[LEDGER_AMOUNT_BUFSZ];
	int deposit = strcmp(a->verb, "deposit") == 0;
	int rc;

	if (deposit)
		rc = ledger_admin_deposit(la, a->name, amount, a->reason, &adj,
		    err, sizeof(err));
	else
		rc = ledger_admin_withdraw(la, a->name, amount, a->reason,
		    &adj, err, sizeof(err));
	if (rc != 0) {
		account_warnx("%s", err);
		return -1;
	}
	ledger_amount_format(amount, amt, sizeof(amt));
	ledger_amount_format(adj.balance, bal, sizeof(bal));
	printf("%s %s %s %s %s: balance %s %s (journal entry %lld)\n",
	    deposit ? "deposited" : "withdrew", amt, adj.currency,
	    deposit ? "to" : "from", a->name, bal, adj.currency,
	    (long long)adj.entry);
	return 0;
}

int
account_database(const char *config, const char *who, struct conf **cp,
    char **pathp)
{
	struct conf_diag diag;
	struct conf *c;
	const struct conf_option *opt;
	char *path;

	*cp = NULL;
	*pathp = NULL;
	conf_diag_init(&diag);
	if ((c = conf_load_file(config, &diag)) == NULL) {
		conf_diag_print(&diag, stderr);
		goto fail;
	}
	if (c->handler.kind != CONF_HANDLER_LEDGER) {
		conf_diag_key(&diag, c, "handler", "is the module %s; secd "
		    "%s manages the built-in ledger only", c->handler.module,
		    who);
		conf_diag_print(&diag, stderr);
		goto fail;
	}
	if ((opt = conf_handler_option(c, "database")) == NULL ||
	    opt->value[0] == '\0') {
		conf_diag_key(&diag, c, "handler.options.database",
		    "is required: the path of the ledger's SQLite file");
		conf_diag_print(&diag, stderr);
		goto fail;
	}
	if ((path = account_resolve(config, opt->value)) == NULL) {
		fprintf(stderr, "secd %s: out of memory\n", who);
		goto fail;
	}
	conf_diag_clear(&diag);
	*cp = c;
	*pathp = path;
	return 0;

fail:
	conf_diag_clear(&diag);
	conf_free(c);
	return -1;
}

int
account_main(int argc, char **argv)
{
	struct account_args a;
	struct conf *c = NULL;
	struct ledger_admin *la = NULL;
	struct secd_auth auth;
	char err[512], *path = NULL;
	int64_t balance = 0, amount = 0;
	int rc = 1, writes, existed;

	switch (account_parse(argc, argv, &a)) {
	case 1:
		account_usage(stdout);
		return 0;
	case 0:
		break;
	default:
		return 1;
	}
	if (a.name != NULL && !ledger_db_name_valid(a.name)) {
		account_warnx("bad account name \"%.80s\": use 1 to %d of A-Z "
		    "a-z 0-9 . _ @ -", a.name, LEDGER_NAME_MAX);
		return 1;
	}
	if (a.balance != NULL && ledger_amount_parse(a.balance, &balance)) {
		account_warnx("bad amount \"%.40s\": use major units with at "
		    "most two decimals, such as 100 or 100.50, up to "
		    "90071992547409.91", a.balance);
		return 1;
	}
	if (a.amount != NULL && (ledger_amount_parse(a.amount, &amount) ||
	    amount == 0)) {
		account_warnx("bad amount \"%.40s\": use major units with at "
		    "most two decimals, from 0.01 to 90071992547409.91",
		    a.amount);
		return 1;
	}
	if (a.reason != NULL && (a.reason[0] == '\0' ||
	    !ledger_db_text_valid(a.reason, LEDGER_MEMO_MAX))) {
		account_warnx("bad reason: use 1 to %d bytes of UTF-8 without "
		    "control characters", LEDGER_MEMO_MAX);
		return 1;
	}
	if (a.currency != NULL && !ledger_currency_valid(a.currency)) {
		account_warnx("bad currency \"%.16s\": use three letters A-Z, "
		    "such as CNY", a.currency);
		return 1;
	}

	if (account_database(a.config, "account", &c, &path))
		goto done;
	auth.scrypt_n = c->auth.scrypt_n;
	auth.scrypt_r = c->auth.scrypt_r;
	auth.scrypt_p = c->auth.scrypt_p;

	/* Reading leaves a missing database missing; so does money, which
	   needs an account to go to. */
	writes = strcmp(a.verb, "add") == 0 || strcmp(a.verb, "passwd") == 0;
	existed = access(path, F_OK) == 0;
	if ((la = ledger_admin_open(path, writes ? LEDGER_DB_CREATE : 0,
	    &auth, err, sizeof(err))) == NULL) {
		account_warnx("%s", err);
		goto done;
	}
	if (strcmp(a.verb, "add") == 0)
		rc = account_add(la, &a, balance) == 0 ? 0 : 1;
	else if (strcmp(a.verb, "passwd") == 0)
		rc = account_passwd(la, &a) == 0 ? 0 : 1;
	else if (strcmp(a.verb, "list") == 0)
		rc = account_list(la) == 0 ? 0 : 1;
	else if (strcmp(a.verb, "show") == 0)
		rc = account_show(la, &a) == 0 ? 0 : 1;
	else
		rc = account_adjust(la, &a, amount) == 0 ? 0 : 1;
	ledger_admin_free(la);
	if (!existed && access(path, F_OK) == 0)
		account_give_away(path, c);

done:
	if (fflush(stdout) != 0 && rc == 0) {
		account_warnx("standard output: %s", strerror(errno));
		rc = 1;
	}
	free(path);
	conf_free(c);
	return rc;
}
