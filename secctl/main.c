/*
 * main.c: secctl, the client for people and scripts.
 *
 *	secctl [options] COMMAND [ARGS]
 *
 * Network commands open one TLS session to secd (verification always on),
 * log in when an account is given (or the command needs it), run, and
 * close.  Output is for people by default and one JSON object per line
 * with --json.  Exit codes are documented in secctl(1) and usage below.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <sys/random.h>
#include <unistd.h>

#include "certgen.h"
#include "cryptocost.h"
#include "tlsmem.h"
#include "ledger_amount.h"
#include "client.h"
#include "secctl.h"
#include "codec.h"
#include "msg.h"
#include "secd_build.h"
#include "tls.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: secctl [options] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  ping                      check that secd answers\n"
"  login                     log in as -a ACCOUNT and report\n"
"  balance                   log in as -a ACCOUNT and print the balance\n"
"  transfer TO AMOUNT [--memo TEXT] [--key KEY]\n"
"                            log in as -a ACCOUNT and pay AMOUNT (major\n"
"                            units, e.g. 12.50) to TO; a fresh idempotency\n"
"                            key is made unless --key is given, and printed\n"
"                            so that a retry can reuse it\n"
"  history [--limit N] [--before ID]\n"
"                            log in as -a ACCOUNT and list transfers,\n"
"                            newest first\n"
"  send [JSON ...]           send raw protocol lines (arguments, or stdin\n"
"                            lines), print every reply line as received\n"
"  shell                     interactive session (help inside)\n"
"  certs --out DIR [--key-type ed25519|p256|rsa] [--days N]\n"
"                            write a development CA, server and client\n"
"                            certificates and keys into DIR\n"
"  fingerprint FILE          print the sha256 pin of a certificate or key\n"
"  crypto-cost [--time MS]   time this wolfCrypt's signatures and key\n"
"                            exchanges, and the handshake rate they allow\n"
"  tls-memory [N]           memory wolfSSL holds per idle TLS 1.3 server\n"
"                            session, from N in-process sessions (default\n"
"                            10000): the floor under secd's per session\n"
"  bench [--mode handshake|ping|balance|transfer|hold] [--connections N]\n"
"        [--inflight N] [--duration S] [--count N] [--accounts PREFIX:N]\n"
"        [--threads N] [--sources N | --source-range FIRST-LAST]\n"
"        [--resume] [--hold N] [--ping-interval S] [--json]\n"
"                            load generator: throughput, latency\n"
"                            percentiles and errors by code (secctl(1))\n"
"  stats [--metrics HOST:PORT]\n"
"                            summarise secd's metrics, read over HTTP from\n"
"                            its metrics.listen (default 127.0.0.1:9443,\n"
"                            or $SECCTL_METRICS)\n"
"\n"
"Options:\n"
"  -s, --server HOST:PORT    secd to talk to (default 127.0.0.1:7443,\n"
"                            or $SECCTL_SERVER)\n"
"      --ca FILE             CA certificate(s) to verify secd with\n"
"                            (or $SECCTL_CA); verification is always on\n"
"      --name NAME           name to check in secd's certificate\n"
"                            (default: the HOST part of --server)\n"
"      --pin sha256:HEX      also require this server key pin (repeatable)\n"
"      --cert FILE --key FILE  present a client certificate\n"
"  -a, --account ACCOUNT     log in as ACCOUNT\n"
"      --password-file FILE  read the password from FILE's first line\n"
"                            (else $SECCTL_PASSWORD, else the terminal;\n"
"                            with --cert and neither of the first two,\n"
"                            log in by the certificate, without one)\n"
"      --trace               show each step of the TLS conversation\n"
"      --json                machine-readable output\n"
"      --timeout SECONDS     network timeout (default 10)\n"
"  -h, --help                this text\n"
"  -V, --version             secctl's version\n"
"\n"
"Exit codes: 0 ok, 1 the server answered with an error, 2 usage,\n"
"3 connection/TLS/verification failure, 4 login refused, 5 local failure.\n");
}

void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* Strip one trailing "\n" or "\r\n". */
void
chomp(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	if (n > 0 && s[n - 1] == '\r')
		s[--n] = '\0';
}

int
password_wanted(const struct opts *o)
{

	return o->password_file != NULL || getenv("SECCTL_PASSWORD") != NULL ||
	    o->c.cert_file == NULL;
}

/*
 * Read the password: --password-file, $SECCTL_PASSWORD, or the terminal
 * without echo.  Never from argv.  buf holds MSG_PASSWORD_MAX + 2 bytes.
 */
int
read_password(const struct opts *o, char *buf, size_t size)
{
	const char *env;
	struct termios old, noecho;
	FILE *f;
	int tty;

	buf[0] = '\0';
	if (o->password_file != NULL) {
		if ((f = fopen(o->password_file, "r")) == NULL) {
			fprintf(stderr, "secctl: %s: %s\n", o->password_file,
			    strerror(errno));
			return -1;
		}
		if (fgets(buf, (int)size, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	} else if ((env = getenv("SECCTL_PASSWORD")) != NULL) {
		snprintf(buf, size, "%s", env);
	} else {
		if ((f = fopen("/dev/tty", "r+")) == NULL) {
			fprintf(stderr, "secctl: no terminal to ask for the "
			    "password: use --password-file or "
			    "SECCTL_PASSWORD\n");
			return -1;
		}
		tty = fileno(f);
		fprintf(f, "password for %s: ", o->account);
		fflush(f);
		tcgetattr(tty, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(tty, TCSAFLUSH, &noecho);
		if (fgets(buf, (int)size, f) == NULL)
			buf[0] = '\0';
		tcsetattr(tty, TCSAFLUSH, &old);
		fprintf(f, "\n");
		fclose(f);
	}
	chomp(buf);
	if (!msg_password_valid(buf, strlen(buf))) {
		fprintf(stderr, "secctl: the password must be 1 to %d bytes of "
		    "UTF-8\n", MSG_PASSWORD_MAX);
		wipe(buf, size);
		return -1;
	}
	return 0;
}

/* Print "100.00 CNY" from minor units. */
void
print_money(FILE *f, int64_t amount, const char *currency)
{
	uint64_t a = amount < 0 ? (uint64_t)-amount : (uint64_t)amount;

	fprintf(f, "%s%llu.%02llu %s", amount < 0 ? "-" : "",
	    (unsigned long long)(a / 100), (unsigned long long)(a % 100),
	    currency);
}

/* Report an error reply; returns the exit code it maps to. */
int
report_error(const struct opts *o, const struct msg_reply *rep)
{
	const char *code = msg_err_name(rep->error.code);

	if (!o->json) {
		fprintf(stderr, "secctl: %s: %s", code, rep->error.message);
		if (rep->error.retry_after > 0)
			fprintf(stderr, " (retry after %llds)",
			    (long long)rep->error.retry_after);
		fprintf(stderr, "\n");
	}
	return rep->error.code == MSG_ERR_AUTH_FAILED ||
	    rep->error.code == MSG_ERR_LOCKED ? EX_AUTH : EX_REFUSED;
}

/* In --json mode, print the reply line as the server would. */
void
print_json_reply(const struct msg_reply *rep)
{
	struct codec_buf b;

	codec_buf_init(&b);
	if (codec_encode_reply(&b, rep) == 0)
		fwrite(b.data, 1, b.len, stdout);
	codec_buf_free(&b);
}

int
do_login(struct client *cl, const struct opts *o)
{
	struct msg_request req;
	struct msg_reply rep;
	char err[512];
	int rc;

	msg_request_init(&req);
	msg_request_set_op(&req, "login");
	snprintf(req.u.login.account, sizeof(req.u.login.account), "%s",
	    o->account);
	/* A certificate login sends no password: see password_wanted. */
	if (password_wanted(o)) {
		if (read_password(o, req.u.login.password,
		    sizeof(req.u.login.password)) != 0) {
			msg_request_clear(&req);
			return EX_LOCAL;
		}
		req.u.login.password_len = strlen(req.u.login.password);
	}
	rc = client_request(cl, &req, &rep, err, sizeof(err));
	msg_request_clear(&req);
	if (rc != 0) {
		fprintf(stderr, "secctl: login: %s\n", err);
		return EX_CONNECT;
	}
	if (rep.error.code != MSG_ERR_NONE) {
		rc = report_error(o, &rep);
		if (o->json)
			print_json_reply(&rep);
		msg_reply_clear(&rep);
		return rc;
	}
	msg_reply_clear(&rep);
	return EX_OK;
}

static int
need_account(const struct opts *o, const char *cmd)
{
	if (o->account == NULL) {
		fprintf(stderr, "secctl: %s needs an account: -a ACCOUNT\n", cmd);
		return -1;
	}
	if (!msg_account_valid(o->account, strlen(o->account))) {
		fprintf(stderr, "secctl: '%s' is not an account name (1-64 of "
		    "A-Z a-z 0-9 . _ @ -)\n", o->account);
		return -1;
	}
	return 0;
}

/* Run one simple op (ping, balance) and print its result. */
int
run_simple(struct client *cl, const struct opts *o, enum msg_op op)
{
	struct msg_request req;
	struct msg_reply rep;
	char err[512];
	int rc = EX_OK;

	msg_request_init(&req);
	msg_request_set_op(&req, msg_op_name(op));
	if (client_request(cl, &req, &rep, err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl: %s: %s\n", msg_op_name(op), err);
		msg_request_clear(&req);
		return EX_CONNECT;
	}
	msg_request_clear(&req);
	if (o->json)
		print_json_reply(&rep);
	if (rep.error.code != MSG_ERR_NONE) {
		rc = report_error(o, &rep);
	} else if (!o->json) {
		switch (op) {
		case MSG_OP_PING:
			printf("pong\n");
			break;
		case MSG_OP_BALANCE:
			printf("balance: ");
			print_money(stdout, rep.u.balance.balance,
			    rep.u.balance.currency);
			printf("\n");
			break;
		default:
			break;
		}
	}
	msg_reply_clear(&rep);
	return rc;
}

/* send: raw lines out, every line in printed as received. */
static int
run_send(struct client *cl, int argc, char **argv)
{
	char err[512], *line = NULL;
	const char *in;
	size_t cap = 0, inlen;
	ssize_t n;
	int i, sent = 0, rc = EX_OK;

	for (i = 0; i < argc; i++) {
		if (client_send_line(cl, argv[i], strlen(argv[i]), err,
		    sizeof(err)) != 0)
			goto fail;
		sent++;
	}
	if (argc == 0) {
		while ((n = getline(&line, &cap, stdin)) > 0) {
			chomp(line);
			if (line[0] == '\0')
				continue;
			if (client_send_line(cl, line, strlen(line), err,
			    sizeof(err)) != 0)
				goto fail;
			sent++;
		}
		if (line != NULL)
			wipe(line, cap);
		free(line);
		line = NULL;
	}
	/* Every line gets exactly one answer, in order. */
	for (i = 0; i < sent; i++) {
		if (client_recv_line(cl, &in, &inlen, err, sizeof(err)) != 0)
			goto fail;
		fwrite(in, 1, inlen, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		if (strstr(in, "\"ok\":false") != NULL)
			rc = EX_REFUSED;
	}
	return rc;
fail:
	free(line);
	fprintf(stderr, "secctl: send: %s\n", err);
	return EX_CONNECT;
}

/* A fresh idempotency key: 128 random bits in hex. */
static int
make_key(char *buf, size_t size)
{
	unsigned char r[16];
	size_t i;

	if (size < 2 * sizeof(r) + 1 ||
	    getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++)
		snprintf(buf + 2 * i, 3, "%02x", r[i]);
	return 0;
}

int
run_transfer(struct client *cl, const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "memo", required_argument, NULL, 'm' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	struct msg_request req;
	struct msg_reply rep;
	struct msg_transfer *t = &req.u.transfer;
	const char *memo = "", *key = NULL;
	char keybuf[64], err[512], amt[LEDGER_AMOUNT_BUFSZ];
	int64_t amount;
	int ch, rc;

	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'm')
			memo = optarg;
		else if (ch == 'k')
			key = optarg;
		else
			return EX_USAGE;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: secctl -a ACCOUNT transfer TO AMOUNT "
		    "[--memo TEXT] [--key KEY]\n");
		return EX_USAGE;
	}
	if (!msg_account_valid(argv[optind], strlen(argv[optind]))) {
		fprintf(stderr, "secctl: '%s' is not an account name\n",
		    argv[optind]);
		return EX_USAGE;
	}
	if (ledger_amount_parse(argv[optind + 1], &amount) != 0 ||
	    amount == 0) {
		fprintf(stderr, "secctl: '%s' is not an amount: a positive "
		    "number of major units with at most two decimals, like "
		    "12.50\n", argv[optind + 1]);
		return EX_USAGE;
	}
	if (!msg_memo_valid(memo, strlen(memo))) {
		fprintf(stderr, "secctl: the memo must be at most %d bytes of "
		    "text without control characters\n", MSG_MEMO_MAX);
		return EX_USAGE;
	}
	if (key == NULL) {
		if (make_key(keybuf, sizeof(keybuf)) != 0) {
			fprintf(stderr, "secctl: no randomness for a key\n");
			return EX_LOCAL;
		}
		key = keybuf;
	} else if (!msg_idem_key_valid(key, strlen(key))) {
		fprintf(stderr, "secctl: --key must be 1 to %d of A-Z a-z 0-9 "
		    ". _ : -\n", MSG_IDEM_KEY_MAX);
		return EX_USAGE;
	}
	/* Said before sending: if the reply is lost, this is what to retry. */
	if (!o->json)
		fprintf(stderr, "idempotency key: %s\n", key);

	msg_request_init(&req);
	msg_request_set_op(&req, "transfer");
	snprintf(t->to, sizeof(t->to), "%s", argv[optind]);
	t->amount = amount;
	snprintf(t->idempotency_key, sizeof(t->idempotency_key), "%s", key);
	snprintf(t->memo, sizeof(t->memo), "%s", memo);
	rc = client_request(cl, &req, &rep, err, sizeof(err));
	msg_request_clear(&req);
	if (rc != 0) {
		fprintf(stderr, "secctl: transfer: %s (retry with --key %s)\n",
		    err, key);
		return EX_CONNECT;
	}
	if (o->json)
		print_json_reply(&rep);
	if (rep.error.code != MSG_ERR_NONE) {
		rc = report_error(o, &rep);
	} else {
		if (!o->json) {
			ledger_amount_format(amount, amt, sizeof(amt));
			printf("transfer %lld: %s %s to %s; balance ",
			    (long long)rep.u.transfer.transfer_id, amt,
			    rep.u.transfer.currency, argv[optind]);
			print_money(stdout, rep.u.transfer.balance,
			    rep.u.transfer.currency);
			printf("\n");
		}
		rc = EX_OK;
	}
	msg_reply_clear(&rep);
	return rc;
}

int
run_history(struct client *cl, const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "before", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	struct msg_request req;
	struct msg_reply rep;
	const struct msg_history_entry *e;
	char err[512], when[MSG_TIME_LEN + 1], *end;
	long long v;
	unsigned limit = 0;
	int64_t before = 0;
	size_t i;
	int ch, rc;

	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'l' && ch != 'b')
			return EX_USAGE;
		errno = 0;
		v = strtoll(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 ||
		    (ch == 'l' && v > MSG_HISTORY_LIMIT_MAX)) {
			fprintf(stderr, "secctl: --%s takes %s\n", ch == 'l' ?
			    "limit" : "before", ch == 'l' ? "1 to 100" :
			    "a positive entry id");
			return EX_USAGE;
		}
		if (ch == 'l')
			limit = (unsigned)v;
		else
			before = v;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: secctl -a ACCOUNT history [--limit N] "
		    "[--before ID]\n");
		return EX_USAGE;
	}
	msg_request_init(&req);
	msg_request_set_op(&req, "history");
	req.u.history.limit = limit;
	req.u.history.before = before;
	rc = client_request(cl, &req, &rep, err, sizeof(err));
	msg_request_clear(&req);
	if (rc != 0) {
		fprintf(stderr, "secctl: history: %s\n", err);
		return EX_CONNECT;
	}
	if (o->json)
		print_json_reply(&rep);
	if (rep.error.code != MSG_ERR_NONE) {
		rc = report_error(o, &rep);
		msg_reply_clear(&rep);
		return rc;
	}
	if (!o->json) {
		for (i = 0; i < rep.u.history.nentries; i++) {
			e = &rep.u.history.entries[i];
			if (msg_time_format(e->time, when) != 0)
				snprintf(when, sizeof(when), "?");
			printf("%8lld  %s  %-12s  ", (long long)e->transfer_id,
			    when, e->counterparty[0] != '\0' ?
			    e->counterparty : "-");
			print_money(stdout, e->amount, rep.u.history.currency);
			printf("  balance ");
			print_money(stdout, e->balance, rep.u.history.currency);
			printf("%s%s\n", e->memo[0] != '\0' ? "  " : "", e->memo);
		}
		if (rep.u.history.nentries == 0)
			printf("no entries\n");
		if (rep.u.history.next_before != 0)
			printf("more: secctl -a %s history --before %lld\n",
			    o->account, (long long)rep.u.history.next_before);
	}
	msg_reply_clear(&rep);
	return EX_OK;
}

static int
run_certs(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL;
	enum certgen_key_type kt = CERTGEN_ED25519;
	unsigned long days = 365;
	char err[512], *end;
	int ch;

	optind = 0;	/* glibc: 0 restarts getopt from scratch */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'k':
			if (strcmp(optarg, "ed25519") == 0)
				kt = CERTGEN_ED25519;
			else if (strcmp(optarg, "p256") == 0)
				kt = CERTGEN_P256;
			else if (strcmp(optarg, "rsa") == 0)
				kt = CERTGEN_RSA;
			else {
				fprintf(stderr, "secctl certs: --key-type is "
				    "ed25519, p256 or rsa, not '%s'\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'd':
			errno = 0;
			days = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || days < 1 ||
			    days > 3650) {
				fprintf(stderr, "secctl certs: --days is 1 to "
				    "3650\n");
				return EX_USAGE;
			}
			break;
		default:
			return EX_USAGE;
		}
	}
	if (out == NULL || optind != argc) {
		fprintf(stderr, "usage: secctl certs --out DIR [--key-type "
		    "ed25519|p256|rsa] [--days N]\n");
		return EX_USAGE;
	}
	/* The directory holds private keys: made for the owner only. */
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "secctl certs: %s: %s\n", out, strerror(errno));
		return EX_LOCAL;
	}
	if (certgen_make_dev(out, kt, (unsigned)days, err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl certs: %s\n", err);
		return EX_LOCAL;
	}
	printf("wrote %s/ca.pem, server.pem, server.key, client.pem, "
	    "client.key (valid %lu days)\n", out, days);
	return EX_OK;
}

static int
run_fingerprint(int argc, char **argv, const struct opts *o)
{
	char spki[65], cert[65], err[512];

	if (argc != 2) {
		fprintf(stderr, "usage: secctl fingerprint FILE\n");
		return EX_USAGE;
	}
	if (tls_fingerprint_file(argv[1], spki, cert, err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl fingerprint: %s\n", err);
		return EX_LOCAL;
	}
	if (o->json) {
		printf("{\"pin\":\"sha256:%s\"", spki);
		if (cert[0] != '\0')
			printf(",\"certificate_sha256\":\"%s\"", cert);
		printf("}\n");
	} else {
		printf("pin: sha256:%s\n", spki);
		if (cert[0] != '\0')
			printf("certificate sha256: %s\n", cert);
	}
	return EX_OK;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'N' },
		{ "pin", required_argument, NULL, 'P' },
		{ "cert", required_argument, NULL, 'E' },
		{ "key", required_argument, NULL, 'K' },
		{ "account", required_argument, NULL, 'a' },
		{ "password-file", required_argument, NULL, 'F' },
		{ "trace", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	struct client *cl;
	const char *cmd;
	char err[1024], *end;
	long secs;
	int ch, rc;

	codec_init();	/* wipe freed jansson memory: it held passwords */
	memset(&o, 0, sizeof(o));
	o.c.server = getenv("SECCTL_SERVER") != NULL ?
	    getenv("SECCTL_SERVER") : "127.0.0.1:7443";
	o.c.ca_file = getenv("SECCTL_CA");
	o.c.timeout_ms = 10000;
	/* '+': stop at the command, whose own options follow it. */
	while ((ch = getopt_long(argc, argv, "+s:a:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.c.server = optarg;
			break;
		case 'C':
			o.c.ca_file = optarg;
			break;
		case 'N':
			o.c.servername = optarg;
			break;
		case 'P':
			if (o.c.npins == CLIENT_MAX_PINS) {
				fprintf(stderr, "secctl: at most %d --pin\n",
				    CLIENT_MAX_PINS);
				return EX_USAGE;
			}
			o.c.pins[o.c.npins++] = optarg;
			break;
		case 'E':
			o.c.cert_file = optarg;
			break;
		case 'K':
			o.c.key_file = optarg;
			break;
		case 'a':
			o.account = optarg;
			break;
		case 'F':
			o.password_file = optarg;
			break;
		case 'T':
			o.c.trace = 1;
			break;
		case 'J':
			o.json = 1;
			break;
		case 'W':
			errno = 0;
			secs = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || secs < 1 ||
			    secs > 3600) {
				fprintf(stderr, "secctl: --timeout is 1 to 3600 "
				    "seconds\n");
				return EX_USAGE;
			}
			o.c.timeout_ms = (int)secs * 1000;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("secctl %s\n", SECD_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "certs") == 0)
		return run_certs(argc, argv);
	tls_global_init();
	if (strcmp(cmd, "fingerprint") == 0) {
		rc = run_fingerprint(argc, argv, &o);
		goto out;
	}
	if (strcmp(cmd, "crypto-cost") == 0) {
		rc = cryptocost_main(&o, argc, argv);
		goto out;
	}
	if (strcmp(cmd, "tls-memory") == 0) {
		rc = tlsmem_main(&o, argc, argv);
		goto out;
	}
	if (strcmp(cmd, "bench") == 0) {
		rc = bench_main(&o, argc, argv);
		goto out;
	}
	if (strcmp(cmd, "stats") == 0) {
		rc = stats_main(&o, argc, argv);
		goto out;
	}
	if (strcmp(cmd, "ping") != 0 && strcmp(cmd, "login") != 0 &&
	    strcmp(cmd, "balance") != 0 && strcmp(cmd, "send") != 0 &&
	    strcmp(cmd, "shell") != 0 && strcmp(cmd, "transfer") != 0 &&
	    strcmp(cmd, "history") != 0) {
		fprintf(stderr, "secctl: unknown command '%s' (secctl --help)\n",
		    cmd);
		rc = EX_USAGE;
		goto out;
	}
	if ((strcmp(cmd, "ping") == 0 || strcmp(cmd, "login") == 0 ||
	    strcmp(cmd, "balance") == 0) && argc != 1) {
		fprintf(stderr, "secctl: %s takes no arguments\n", cmd);
		rc = EX_USAGE;
		goto out;
	}
	if ((strcmp(cmd, "login") == 0 || strcmp(cmd, "balance") == 0 ||
	    strcmp(cmd, "transfer") == 0 || strcmp(cmd, "history") == 0) &&
	    need_account(&o, cmd) != 0) {
		rc = EX_USAGE;
		goto out;
	}
	if (o.account != NULL && need_account(&o, cmd) != 0) {
		rc = EX_USAGE;
		goto out;
	}
	if (o.c.ca_file == NULL) {
		fprintf(stderr, "secctl: --ca FILE is required: secctl always "
		    "verifies secd's certificate\n");
		rc = EX_USAGE;
		goto out;
	}
	if ((o.c.cert_file == NULL) != (o.c.key_file == NULL)) {
		fprintf(stderr, "secctl: --cert and --key go together\n");
		rc = EX_USAGE;
		goto out;
	}
	if ((cl = client_open(&o.c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "secctl: %s\n", err);
		rc = EX_CONNECT;
		goto out;
	}
	rc = EX_OK;
	if (strcmp(cmd, "send") == 0) {
		rc = run_send(cl, argc - 1, argv + 1);
	} else if (strcmp(cmd, "shell") == 0) {
		rc = shell_run(cl, &o);
	} else {
		if (o.account != NULL)
			rc = do_login(cl, &o);
		if (rc == EX_OK) {
			if (strcmp(cmd, "ping") == 0)
				rc = run_simple(cl, &o, MSG_OP_PING);
			else if (strcmp(cmd, "transfer") == 0)
				rc = run_transfer(cl, &o, argc, argv);
			else if (strcmp(cmd, "history") == 0)
				rc = run_history(cl, &o, argc, argv);
			else if (strcmp(cmd, "balance") == 0)
				rc = run_simple(cl, &o, MSG_OP_BALANCE);
			else if (o.json)
				printf("{\"ok\":true,\"account\":\"%s\"}\n",
				    o.account);
			else
				printf("logged in as %s\n", o.account);
		}
	}
	client_close(cl);
out:
	tls_global_cleanup();
	return rc;
}
