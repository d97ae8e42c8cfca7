/*
 * main.c: secd's entry point.  This first version checks configuration
 * files (-t); serving arrives with the TLS channel and the workers.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "secd_build.h"

#define MAIN_DEFAULT_CONF SECD_SYSCONFDIR "/secd.yaml"

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: secd -t [-c FILE]       check the configuration and exit\n"
	    "       secd -h | --help\n"
	    "       secd -V | --version\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check FILE and the files it names; print\n"
	    "                     'configuration ok' or every error; exit 0 or 1\n",
	    MAIN_DEFAULT_CONF);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = MAIN_DEFAULT_CONF;
	struct conf_diag diag;
	struct conf *conf;
	int ch, test = 0;

	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("secd %s\n", SECD_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !test) {
		main_usage(stderr);
		return 2;
	}
	conf_diag_init(&diag);
	if ((conf = conf_load_file(path, &diag)) == NULL ||
	    conf_check_files(conf, &diag) != 0) {
		conf_diag_print(&diag, stderr);
		conf_diag_clear(&diag);
		conf_free(conf);
		return 1;
	}
	conf_diag_clear(&diag);
	conf_free(conf);
	printf("configuration ok\n");
	return 0;
}
