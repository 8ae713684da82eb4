/*
 * sshcmd_line.c - prints the remote command line sshcmd_build() makes, for
 * the integration tests that send it through a real sshd.
 *
 *   sshcmd_line [-d DIR] [-e NAME=VALUE]... [-g GRACE_MS] [-s SHELL_CMD]
 *               [--] [ARGV...]
 *
 * The line goes to stdout without a trailing newline.  Exits 1 when
 * sshcmd_build() refuses the spec (the reason on stderr), 2 on bad usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "distcron/buf.h"
#include "distcron/dur.h"
#include "distcron/err.h"
#include "distcron/exec.h"
#include "distcron/sshcmd.h"

#define MAX_ENV		64
#define LINE_CAP	(1024 * 1024)

static int
usage(void)
{
	fprintf(stderr, "usage: sshcmd_line [-d DIR] [-e NAME=VALUE]... "
	    "[-g GRACE_MS] [-s SHELL_CMD] [--] [ARGV...]\n");
	return 2;
}

/* Fills spec from the options; returns 0 or the exit status. */
static int
parse(int argc, char **argv, struct exec_spec *spec, char **env)
{
	int64_t grace;
	size_t nenv = 0;
	int c;

	while ((c = getopt(argc, argv, "d:e:g:s:")) != -1) {
		switch (c) {
		case 'd': spec->working_dir = optarg; break;
		case 's': spec->shell = optarg; break;
		case 'e':
			if (nenv == MAX_ENV)
				return usage();
			env[nenv++] = optarg;
			break;
		case 'g':
			if (dur_parse_int(optarg, 0, INT64_MAX, &grace) != 0)
				return usage();
			spec->kill_grace_ms = grace;
			break;
		default:
			return usage();
		}
	}
	env[nenv] = NULL;
	spec->env = env;
	if (optind < argc)
		spec->argv = argv + optind;
	return 0;
}

int
main(int argc, char **argv)
{
	struct exec_spec spec = { .kill_grace_ms = 10000 };
	char *env[MAX_ENV + 1];
	const char *errstr = "";
	struct buf line;
	int r;

	if ((r = parse(argc, argv, &spec, env)) != 0)
		return r;
	buf_init(&line, LINE_CAP);
	if ((r = sshcmd_build(&spec, &line, NULL, &errstr)) != 0) {
		fprintf(stderr, "sshcmd_line: %s: %s\n", err_str(r), errstr);
		buf_free(&line);
		return 1;
	}
	r = fwrite(line.data, 1, line.len, stdout) == line.len &&
	    fflush(stdout) == 0 ? 0 : 1;
	buf_free(&line);
	return r;
}
