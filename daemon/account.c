/*
 * account.c: "secd account add|passwd|list|show|deposit|withdraw|
 * bind-cert|unbind-cert", the ledger's admin tool.
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
 * Certificates.  bind-cert takes a certificate file (PEM or DER) or its
 * fingerprint, "sha256:" and hex; the fingerprint is the SHA-256 of the
 * certificate's DER, computed here with wolfSSL from the parsed
 * certificate, the same value secd computes from a client's handshake
 * (proto/tls.c, tls_chan_info's peer_sha256).  Not the SPKI pin of
 * "secctl fingerprint": a binding names one certificate, so a renewed
 * certificate with the same key must be bound anew.
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

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "account.h"
#include "audit.h"
#include "conf.h"
#include "ledger_admin.h"
#include "ledger_amount.h"
#include "ledger_db.h"
#include "ledger_hash.h"
#include "secd_build.h"

#define ACCOUNT_DEFAULT_CONF	SECD_SYSCONFDIR "/secd.yaml"
#define ACCOUNT_DEFAULT_CURRENCY "CNY"
#define ACCOUNT_CERT_FILE_MAX	(1024 * 1024)	/* bytes of a certificate file */

/* The command line, parsed. */
struct account_args {
	const char	*verb;		/* add, passwd, list, show, ... */
	const char	*name;		/* the account, or NULL for list */
	const char	*config;
	const char	*balance;	/* as typed, or NULL */
	const char	*currency;	/* or NULL */
	const char	*amount;	/* deposit, withdraw: as typed */
	const char	*reason;	/* deposit, withdraw */
	const char	*cert;		/* bind-cert, unbind-cert: FILE or
					   sha256:HEX, as typed */
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
	    "       secd account bind-cert ACCOUNT CERT|sha256:HEX [-c FILE]\n"
	    "       secd account unbind-cert ACCOUNT sha256:HEX|CERT "
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
	    "never takes an account below zero.\n"
	    "\n"
	    "bind-cert lets the client certificate CERT (a PEM or DER file) "
	    "log in\n"
	    "as ACCOUNT when secd.yaml's auth.methods is certificate or both; "
	    "sha256:HEX\n"
	    "names it by the SHA-256 of its DER (64 hex digits).  A "
	    "certificate is\n"
	    "bound to one account at a time.  unbind-cert revokes a binding; "
	    "show\n"
	    "lists an account's bindings, revoked ones too.  Exit status: 0 "
	    "on\n"
	    "success, 1 on any error.\n",
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
		    "deposit, withdraw, bind-cert or unbind-cert (see --help)");
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
	} else if (strcmp(a->verb, "bind-cert") == 0 ||
	    strcmp(a->verb, "unbind-cert") == 0) {
		if (npos != 3) {
			account_warnx("%s needs an ACCOUNT and a certificate: "
			    "a PEM or DER file, or sha256:HEX", a->verb);
			return -1;
		}
		a->name = pos[1];
		a->cert = pos[2];
	} else {
		account_warnx("unknown command \"%s\": use add, passwd, list, "
		    "show, deposit, withdraw, bind-cert or unbind-cert",
		    a->verb);
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

/* The label of the first PEM block in buf ("CERTIFICATE"), or -1. */
static int
account_pem_label(const char *buf, char *label, size_t labelsz)
{
	const char *p, *e;

	if ((p = strstr(buf, "-----BEGIN ")) == NULL)
		return -1;
	p += strlen("-----BEGIN ");
	if ((e = strstr(p, "-----")) == NULL || (size_t)(e - p) >= labelsz ||
	    memchr(p, '\n', (size_t)(e - p)) != NULL)
		return -1;
	memcpy(label, p, (size_t)(e - p));
	label[e - p] = '\0';
	return 0;
}

/*
 * The length of the DER object at der (len bytes): its tag and length
 * octets and its contents, or 0 if they do not fit in len.
 */
static size_t
account_der_size(const unsigned char *der, size_t len)
{
	size_t hdr = 2, n, body = 0, i;

	if (len < 2)
		return 0;
	if (der[1] < 0x80)
		body = der[1];
	else {
		n = der[1] & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return 0;
		for (i = 0; i < n; i++)
			body = (body << 8) | der[2 + i];
		hdr += n;
	}
	return body <= len - hdr ? hdr + body : 0;
}

/*
 * The SHA-256 of the DER of the certificate in the file path, PEM (its
 * first block must be the certificate) or DER, as 64 lowercase hex digits
 * into hex.  The certificate is parsed first (wolfCrypt's own parser,
 * signature not checked: that is the handshake's business), so that a
 * key, a truncated file or garbage is refused rather than bound.  0, or
 * -1 after a message.
 */
static int
account_cert_file_sha256(const char *path, char *hex)
{
	unsigned char md[WC_SHA256_DIGEST_SIZE], *buf = NULL, *der = NULL;
	DecodedCert dc;
	char label[64];
	size_t len = 0, dersz, i;
	int pem, n, rc = -1;
	FILE *f;

	if ((f = fopen(path, "rbe")) == NULL) {
		account_warnx("cannot read certificate %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((buf = malloc(ACCOUNT_CERT_FILE_MAX + 1)) == NULL ||
	    (der = malloc(ACCOUNT_CERT_FILE_MAX)) == NULL) {
		account_warnx("out of memory");
		goto done;
	}
	len = fread(buf, 1, ACCOUNT_CERT_FILE_MAX + 1, f);
	if (ferror(f)) {
		account_warnx("cannot read certificate %s: %s", path,
		    strerror(errno));
		goto done;
	}
	if (len == 0 || len > ACCOUNT_CERT_FILE_MAX) {
		account_warnx("certificate %s: %s", path, len == 0 ?
		    "the file is empty" : "larger than 1 MiB; not a "
		    "certificate");
		goto done;
	}
	buf[len] = '\0';

	pem = strstr((const char *)buf, "-----BEGIN ") != NULL;
	if (pem) {
		if (account_pem_label((const char *)buf, label,
		    sizeof(label)) != 0) {
			account_warnx("certificate %s: malformed PEM header",
			    path);
			goto done;
		}
		if (strcmp(label, "CERTIFICATE") != 0) {
			account_warnx("certificate %s: the file's first PEM "
			    "block is a %s, not a CERTIFICATE; give the "
			    "client's certificate, not its key", path, label);
			goto done;
		}
		if ((n = wc_CertPemToDer(buf, (int)len, der,
		    ACCOUNT_CERT_FILE_MAX, CERT_TYPE)) <= 0) {
			account_warnx("certificate %s: malformed PEM "
			    "certificate", path);
			goto done;
		}
		dersz = (size_t)n;
	} else {
		/* DER: the file is the certificate, nothing after it. */
		dersz = account_der_size(buf, len);
		if (buf[0] != 0x30 || dersz == 0) {
			account_warnx("certificate %s: neither a PEM nor a "
			    "DER certificate (%s)", path, buf[0] != 0x30 ?
			    "no PEM block, and not DER" : "truncated DER");
			goto done;
		}
		if (dersz != len) {
			account_warnx("certificate %s: %zu bytes after the "
			    "DER certificate; not a certificate file", path,
			    len - dersz);
			goto done;
		}
		memcpy(der, buf, len);
	}
	wc_InitDecodedCert(&dc, der, (word32)dersz, NULL);
	n = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	wc_FreeDecodedCert(&dc);
	if (n != 0) {
		account_warnx("certificate %s: not a well-formed X.509 "
		    "certificate (wolfCrypt: %s)", path,
		    wc_GetErrorString(n));
		goto done;
	}
	if (wc_Sha256Hash(der, (word32)dersz, md) != 0) {
		account_warnx("certificate %s: SHA-256 failed", path);
		goto done;
	}
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = 0;
done:
	free(der);
	free(buf);
	fclose(f);
	return rc;
}

/*
 * The fingerprint a bind-cert or unbind-cert names: text is sha256:HEX
 * or a certificate file.  0, or -1 after a message.
 */
static int
account_cert_arg(const char *text, char *hex)
{
	char err[256];

	if (strncmp(text, "sha256:", 7) == 0) {
		if (ledger_admin_sha256_parse(text, hex, err, sizeof(err))) {
			account_warnx("%s", err);
			return -1;
		}
		return 0;
	}
	return account_cert_file_sha256(text, hex);
}

static int
account_bind(struct ledger_admin *la, const struct account_args *a,
    const char *sha256)
{
	struct ledger_cert_binding b;
	char err[512];
	int rc;

	if (strcmp(a->verb, "bind-cert") == 0)
		rc = ledger_admin_bind_cert(la, a->name, sha256, &b, err,
		    sizeof(err));
	else
		rc = ledger_admin_unbind_cert(la, a->name, sha256, &b, err,
		    sizeof(err));
	if (rc != 0) {
		account_warnx("%s", err);
		return -1;
	}
	if (strcmp(a->verb, "bind-cert") == 0)
		printf("certificate sha256:%s bound to %s; it logs in as %s "
		    "when auth.methods is certificate or both\n", b.sha256,
		    b.account, b.account);
	else
		printf("certificate sha256:%s unbound from %s (revoked; the "
		    "binding stays in its history)\n", b.sha256, b.account);
	return 0;
}

/* One line of show's certificate list. */
static int
account_certs_cb(const struct ledger_cert_binding *b, void *arg)
{
	char bound[64], revoked[64];
	int *n = arg;

	(*n)++;
	account_time(b->bound, bound, sizeof(bound));
	if (b->revoked != 0) {
		account_time(b->revoked, revoked, sizeof(revoked));
		printf("cert      sha256:%s  bound %s, revoked %s\n",
		    b->sha256, bound, revoked);
	} else
		printf("cert      sha256:%s  bound %s, active\n", b->sha256,
		    bound);
	return 0;
}

static int
account_show(struct ledger_admin *la, const struct account_args *a)
{
	struct ledger_account acct;
	char err[512], amount[LEDGER_AMOUNT_BUFSZ], sum[LEDGER_AMOUNT_BUFSZ];
	char when[64];
	int ncerts = 0;

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
	if (ledger_admin_certs(la, acct.name, account_certs_cb, &ncerts, err,
	    sizeof(err)) != 0) {
		account_warnx("%s", err);
		return -1;
	}
	if (ncerts == 0)
		printf("certs     none bound\n");
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

/*
 * Append what a changing command did (rc: its exit status) to the audit
 * log: the command and its arguments but never a password (passwords are
 * not arguments), as "admin" from "local:uid=N".  0, or -1 when the record
 * could not be written; the change itself is made either way, so the
 * message says so.
 */
static int
account_audit(const struct conf *c, const struct account_args *a, int rc)
{
	struct audit_rec r;
	char detail[512], peer[32], err[512];
	int n;

	n = snprintf(detail, sizeof(detail), "secd account %s", a->verb);
	if (a->cert != NULL)
		n += snprintf(detail + n, sizeof(detail) - (size_t)n, " %s",
		    a->cert);
	if (a->balance != NULL)
		n += snprintf(detail + n, sizeof(detail) - (size_t)n,
		    " --balance %s", a->balance);
	if (a->currency != NULL)
		n += snprintf(detail + n, sizeof(detail) - (size_t)n,
		    " --currency %s", a->currency);
	if (a->amount != NULL)
		n += snprintf(detail + n, sizeof(detail) - (size_t)n, " %s",
		    a->amount);
	if (a->reason != NULL)
		(void)snprintf(detail + n, sizeof(detail) - (size_t)n,
		    " --reason %s", a->reason);
	snprintf(peer, sizeof(peer), "local:uid=%u", (unsigned)getuid());
	memset(&r, 0, sizeof(r));
	r.event = "admin";
	r.account = a->name;
	r.peer = peer;
	r.outcome = rc == 0 ? "ok" : "failed";
	r.detail = detail;
	if (audit_append_now(c->audit.file, &r, err, sizeof(err)) != 0) {
		account_warnx("audit log: %s (the command %s, but this record "
		    "of it is missing)", err, rc == 0 ? "took effect" :
		    "failed");
		return -1;
	}
	return 0;
}

int
account_main(int argc, char **argv)
{
	struct account_args a;
	struct conf *c = NULL;
	struct ledger_admin *la = NULL;
	struct secd_auth auth;
	char err[512], *path = NULL, sha256[LEDGER_SHA256_HEX + 1];
	int64_t balance = 0, amount = 0;
	int rc = 1, writes, existed, flags;

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

	/* A bad certificate is told before the configuration is read. */
	if (a.cert != NULL && account_cert_arg(a.cert, sha256))
		return 1;

	if (account_database(a.config, "account", &c, &path))
		goto done;
	auth.scrypt_n = c->auth.scrypt_n;
	auth.scrypt_r = c->auth.scrypt_r;
	auth.scrypt_p = c->auth.scrypt_p;

	/* Reading leaves a missing database missing; so do money and
	   certificates, which need an account to go to.  A binding is
	   written, though: an existing database of an older schema is
	   migrated first, as for add and passwd. */
	writes = strcmp(a.verb, "add") == 0 || strcmp(a.verb, "passwd") == 0;
	existed = access(path, F_OK) == 0;
	flags = writes || (a.cert != NULL && existed) ? LEDGER_DB_CREATE : 0;
	if ((la = ledger_admin_open(path, flags, &auth, err,
	    sizeof(err))) == NULL) {
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
	else if (a.cert != NULL)
		rc = account_bind(la, &a, sha256) == 0 ? 0 : 1;
	else
		rc = account_adjust(la, &a, amount) == 0 ? 0 : 1;
	ledger_admin_free(la);
	if (!existed && access(path, F_OK) == 0)
		account_give_away(path, c);
	if (c->audit.file != NULL && strcmp(a.verb, "list") != 0 &&
	    strcmp(a.verb, "show") != 0 && account_audit(c, &a, rc) != 0)
		rc = 1;

done:
	if (fflush(stdout) != 0 && rc == 0) {
		account_warnx("standard output: %s", strerror(errno));
		rc = 1;
	}
	free(path);
	conf_free(c);
	return rc;
}
