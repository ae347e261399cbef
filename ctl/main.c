/*
 * kurirctl - the admin's tool.
 *
 * usage: kurirctl [-f CONF] command
 *   queue [--json]   list the queue (id, size, arrival, sender, recipients)
 *   delete ID        remove a message from the queue
 *   flush            deliver deferred messages now (signals kurird)
 *   user add NAME    set NAME's password (first line of standard input)
 *   check [-v]       validate the config and every table; file:line on error;
 *                    -v also prints every key's effective value
 *   setup            create state_dir, mail_dir and, as root, the accounts
 * Runs as the invoking admin; reads the queue and tables directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "setup.h"
#include "table.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kurirctl [-f CONF] queue [--json] | flush | "
	    "delete ID | user add NAME | check [-v] | setup\n");
	exit(EX_USAGE);
}

static int
check_all(const struct conf *c)
{
	struct users *u = NULL;
	struct aliases *a = NULL;
	struct routes *r = NULL;
	char err[1024];
	int rc = 0;

	if (users_load(&u, c->users_file, err, sizeof(err)) == -1 ||
	    aliases_load(&a, c->aliases_file, err, sizeof(err)) == -1 ||
	    routes_load(&r, c->routes_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "kurirctl: %s\n", err);
		rc = 1;
	} else {
		printf("%s: ok (%zu users)\n", c->path, users_count(u));
		ctl_users_mode_warn(c);
	}
	if (u)
		users_free(u);
	if (a)
		aliases_free(a);
	if (r)
		routes_free(r);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct conf c;
	const char *path = NULL;
	char err[1024];
	int ch, rc;

	while ((ch = getopt(argc, argv, "+f:")) != -1) {
		if (ch == 'f')
			path = optarg;
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	log_init("kurirctl", 1);
	path = conf_path(path);
	if (conf_load(&c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "kurirctl: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "queue") == 0 && argc <= 2) {
		if (argc == 2 && strcmp(argv[1], "--json") != 0)
			usage();
		rc = ctl_queue_list(&c, argc == 2);
	} else if (strcmp(argv[0], "flush") == 0 && argc == 1)
		rc = ctl_flush(&c);
	else if (strcmp(argv[0], "delete") == 0 && argc == 2)
		rc = ctl_queue_delete(&c, argv[1]);
	else if (strcmp(argv[0], "user") == 0 && argc == 3 &&
	    strcmp(argv[1], "add") == 0)
		rc = ctl_user_add(&c, argv[2]);
	else if (strcmp(argv[0], "check") == 0 && argc == 1)
		rc = check_all(&c);
	else if (strcmp(argv[0], "check") == 0 && argc == 2 &&
	    strcmp(argv[1], "-v") == 0) {
		/* valid, and every key's effective value (postconf-like) */
		if ((rc = check_all(&c)) == 0 && conf_print(&c, stdout) == -1)
			rc = 1;
	}
	else if (strcmp(argv[0], "setup") == 0 && argc == 1) {
		if ((rc = setup_tree(&c, 1, err, sizeof(err))) == -1) {
			fprintf(stderr, "kurirctl: setup: %s\n", err);
			rc = 1;
		} else {
			printf("%s and %s are ready\n", c.state_dir, c.mail_dir);
			ctl_users_mode_warn(&c);
		}
	} else
		usage();
	conf_free(&c);
	return rc;
}
