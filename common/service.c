/*
 * service.c - shared start-up of kurird's services (service.h).
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctlproto.h"
#include "fsutil.h"
#include "log.h"
#include "service.h"

static void __attribute__((noreturn))
usage(const char *name)
{
	fprintf(stderr, "usage: %s [-d] [-f CONF] -c FD\n", name);
	exit(EX_USAGE);
}

void
service_init(struct service *sv, const char *name, int argc, char *argv[],
    struct conf *c)
{
	const char *errstr;
	char err[1024];
	int ch;

	sv->name = name;
	sv->conf_path = NULL;
	sv->debug = 0;
	sv->ctl_fd = -1;
	sv->was_root = geteuid() == 0;
	while ((ch = getopt(argc, argv, "dc:f:")) != -1) {
		switch (ch) {
		case 'd': sv->debug = 1; break;
		case 'c':
			sv->ctl_fd = (int)strtonum(optarg, 0, 1023, &errstr);
			if (errstr)
				usage(name);
			break;
		case 'f': sv->conf_path = optarg; break;
		default: usage(name);
		}
	}
	if (optind != argc || sv->ctl_fd == -1)
		usage(name);
	log_init(name, sv->debug);
	if (fcntl(sv->ctl_fd, F_GETFD) == -1)
		fatal("control channel fd %d", sv->ctl_fd);
	sv->conf_path = conf_path(sv->conf_path);
	if (conf_load(c, sv->conf_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

void
service_sandbox(const struct service *sv, enum sandbox_profile p)
{
	/* as root the sandbox is part of the contract: no sandbox, no service */
	if (sandbox_enter(p) == 0)
		return;
	if (sv->was_root)
		fatal("sandbox %s not entered", sandbox_name(p));
	log_warn("sandbox %s not entered", sandbox_name(p));
}

/*
 * SIGHUP, the confined way: kurird opened the config for us (CTL_CONFIG);
 * parse it from the descriptor.  A bad file keeps the old config.
 */
int
service_conf_reload(int fd, const char *path, struct conf *c)
{
	struct conf nc;
	struct buf b;
	char err[1024], dir[4096];
	int r = -1;

	buf_init(&b, CONF_FILE_MAX + 16384);
	strlcpy(dir, path, sizeof(dir));
	if (read_fd_all(fd, CONF_FILE_MAX, &b) == -1)
		log_warn("reload: reading %s", path);
	else if (conf_load_mem(&nc, path, dirname(dir), b.data, b.len, err,
	    sizeof(err)) == -1)
		log_warnx("reload: %s (keeping the old config)", err);
	else {
		conf_free(c);
		*c = nc;
		log_info("config reloaded");
		r = 0;
	}
	buf_free(&b);
	return r;
}

int
service_ctl_read(int fd, int (*fn)(const struct frame *))
{
	struct buf in;
	struct frame f;
	int r = -1;

	buf_init(&in, FRAME_HDR + FRAME_MAX);
	if (frame_read(fd, &in, &f) == 1)
		r = fn(&f);
	buf_free(&in);
	return r;
}

void
service_ctl_until_go(int fd, int (*fn)(const struct frame *))
{
	int r;

	while ((r = service_ctl_read(fd, fn)) != CTL_GO)
		if (r == -1)
			fatalx("control channel closed during start-up");
}
