/*
 * account: "secd account ...", administration of the built-in ledger.
 *
 *	secd account add ACCOUNT [--balance AMOUNT] [--currency CODE] [-c FILE]
 *	secd account passwd ACCOUNT [-c FILE]
 *	secd account list [-c FILE]
 *	secd account show ACCOUNT [-c FILE]
 *	secd account deposit ACCOUNT AMOUNT --reason TEXT [-c FILE]
 *	secd account withdraw ACCOUNT AMOUNT --reason TEXT [-c FILE]
 *	secd account bind-cert ACCOUNT CERT|sha256:HEX [-c FILE]
 *	secd account unbind-cert ACCOUNT sha256:HEX|CERT [-c FILE]
 *
 * The database is the configuration's handler.options.database, relative
 * to the configuration file's directory; new password hashes use its auth
 * section's scrypt parameters.  Passwords are read from the terminal
 * without echo (twice, and must match) or, when standard input is not a
 * terminal, as one line from it; never from the command line.
 *
 * deposit and withdraw are the only ways money enters or leaves the
 * ledger (transfers only move it); each writes a journal entry with its
 * reason.  A withdrawal never takes an account below zero.
 *
 * bind-cert binds a client certificate (a PEM or DER file, or the
 * SHA-256 of its DER as sha256:HEX) to an account, for auth.methods
 * certificate and both; unbind-cert revokes the binding (the row stays,
 * with its revocation time); show lists both kinds.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

/*
 * account_main(argc, argv):
 * Run the account subcommand; ${argv}[0] is "account".  Print results on
 * standard output and errors on standard error, and return the exit
 * status: 0 on success, 1 on any error (usage errors included).  Resets
 * getopt (optind) before parsing.
 */
int account_main(int, char **);

struct conf;

/*
 * account_database(config, who, cp, pathp):
 * Load the configuration file ${config}, check that its handler is the
 * built-in ledger with a database, and set *${pathp} to the database's
 * path (relative paths are taken from the configuration file's directory,
 * as secd itself does; free it) and *${cp} to the configuration
 * (conf_free it).  Errors go to standard error, prefixed "secd ${who}: "
 * where they are not the configuration's own diagnostics.  Return 0 or
 * -1.  Shared by "secd account" and "secd ledger".
 */
int account_database(const char *, const char *, struct conf **, char **);

#endif /* !ACCOUNT_H */
