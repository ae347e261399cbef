/*
 * setup.c - state and mail trees, service accounts (setup.h).
 * Runs as root (kurird, kurirctl setup) or as the one development user.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "privsep.h"
#include "setup.h"

int
queue_path(const struct conf *c, const char *sub, char *out, size_t outlen)
{
	return path_fmt(out, outlen, "%s/queue%s%s", c->state_dir,
	    sub && *sub ? "/" : "", sub ? sub : "");
}

/* Create a system account with its own group; argv, never a shell. */
static int
account_create(const char *name, char *err, size_t errlen)
{
	const char *argv[] = { "useradd", "--system", "--user-group",
	    "--no-create-home", "--home-dir", "/nonexistent", "--shell",
	    "/usr/sbin/nologin", "--comment", "kurir service", name, NULL };
	pid_t pid;
	int st;

	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], (char **)(uintptr_t)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "useradd %s failed", name);
		return -1;
	}
	return 0;
}

static int
ensure(const char *path, mode_t mode, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	if (dir_ensure(path, mode, uid, gid) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
setup_tree(const struct conf *c, int create_accounts, char *err,
    size_t errlen)
{
	static const char *qsubs[] = { "tmp", "msg", "state", "bad" };
	char path[4096];
	uid_t quid = (uid_t)-1, muid = (uid_t)-1, root = (uid_t)-1;
	gid_t qgid = (gid_t)-1, mgid = (gid_t)-1;
	int r, isroot = geteuid() == 0;
	size_t i;
	const char *spec;

	if (isroot) {
		root = 0;
		for (r = 0; r < ROLE_NROLES; r++) {
			spec = priv_role_spec(c, (enum role)r);
			/* numeric uid[:gid] specs name no account to create */
			if (!create_accounts || (spec[0] >= '0' && spec[0] <= '9'))
				continue;
			if (getpwnam(spec) == NULL &&
			    account_create(spec, err, errlen) == -1)
				return -1;
		}
		if (priv_role_ids(c, ROLE_QUEUE, &quid, &qgid, err, errlen) == -1 ||
		    priv_role_ids(c, ROLE_MAIL, &muid, &mgid, err, errlen) == -1)
			return -1;
	}
	if (mkdir_parents(c->state_dir) == -1 || mkdir_parents(c->mail_dir) == -1) {
		snprintf(err, errlen, "creating parents of %s or %s: %s",
		    c->state_dir, c->mail_dir, strerror(errno));
		return -1;
	}
	if (ensure(c->state_dir, 0755, root, 0, err, errlen) == -1 ||
	    queue_path(c, NULL, path, sizeof(path)) == -1 ||
	    ensure(path, 0750, quid, qgid, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(qsubs) / sizeof(qsubs[0]); i++)
		if (queue_path(c, qsubs[i], path, sizeof(path)) == -1 ||
		    ensure(path, 0700, quid, qgid, err, errlen) == -1)
			return -1;
	if (path_fmt(path, sizeof(path), "%s/sock", c->state_dir) == -1 ||
	    ensure(path, 0755, root, 0, err, errlen) == -1 ||
	    path_fmt(path, sizeof(path), "%s/empty", c->state_dir) == -1 ||
	    ensure(path, 0555, root, 0, err, errlen) == -1 ||
	    ensure(c->mail_dir, 0750, muid, mgid, err, errlen) == -1)
		return -1;
	return 0;
}
