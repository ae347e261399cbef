/*
 * user.c - a kurir-pop3d session process: one logged-in user.
 *
 * usage: kurir-pop3d -s [-d] [-f CONF] -c FD -u USER -a IP
 * Started by kurird (root) only when kurir-auth has checked USER's
 * password.  FD is its socket to the pre-auth process, which copies the
 * client's bytes to and fro.  As root it opens <mail_dir>/<USER> (never
 * through a symlink; created 0700 for the mail user if missing), chroots
 * into exactly that directory, becomes the mail user and enters
 * SANDBOX_POP3_USER before it reads a byte: a bug from here on can
 * reach this one user's mail and nothing else.  Not root (development),
 * it works in the directory as the invoking user.  The pre-auth process
 * then hands over the client's own socket (plain connections: it is out
 * of the path from here on) or keeps proxying (TLS), and txn.c serves the
 * TRANSACTION and UPDATE states.  Exit 0 unless the maildrop could not
 * be opened or a deletion failed (kurird logs the status).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "pop3d.h"
#include "privsep.h"
#include "sandbox.h"
#include "table.h"
#include "txn.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kurir-pop3d -s [-d] [-f CONF] -c FD -u USER "
	    "-a IP\n");
	exit(EX_USAGE);
}

/*
 * <mail_dir>/<user>, created for the mail user when missing; -1 (logged)
 * if it cannot be had, e.g. when a symlink stands in its place.
 */
static int
open_maildir(const struct conf *c, const char *user)
{
	uid_t uid;
	gid_t gid;
	char err[512];
	int mfd, fd = -1;

	if ((mfd = open(c->mail_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("mail_dir %s", c->mail_dir);
		return -1;
	}
	if ((fd = openat(mfd, user, DIR_FLAGS)) == -1 && errno == ENOENT) {
		/* no mail yet: an empty maildrop, owned like kurir-local's */
		if (mkdirat(mfd, user, 0700) == -1 && errno != EEXIST)
			goto fail;
		if (geteuid() == 0) {
			if (priv_role_ids(c, ROLE_MAIL, &uid, &gid, err,
			    sizeof(err)) == -1) {
				log_warnx("%s", err);
				close(mfd);
				return -1;
			}
			if (fchownat(mfd, user, uid, gid,
			    AT_SYMLINK_NOFOLLOW) == -1)
				goto fail;
		}
		if (fsync(mfd) == -1)
			goto fail;
		fd = openat(mfd, user, DIR_FLAGS);
	}
	if (fd == -1)
		goto fail;
	close(mfd);
	return fd;
fail:
	log_warn("maildir %s (a symlink is never followed)", user);
	close(mfd);
	return -1;
}

/* The login's answer when there is no maildrop to serve. */
static void
refuse_session(int fd)
{
	static const char msg[] = "-ERR [SYS/TEMP] Cannot open the maildrop\r\n";

	if (write(fd, msg, sizeof(msg) - 1) == -1)
		log_warn("session socket");
}

/*
 * The pre-auth process's first frame on our socket: SESS_HANDOFF with
 * the client's own socket (a plain connection), or SESS_PROXY (TLS: the
 * bytes keep coming through it); either way with the client bytes that
 * came before us.  The descriptor to serve, or -1 if the pre-auth
 * process closed (its client left before the session came).
 */
static int
session_peer(int fd, struct buf *in, struct txn_limits *lim)
{
	struct frame f;

	buf_init(in, FRAME_HDR + FRAME_MAX);
	if (frame_read(fd, in, &f) != 1)
		return -1;
	lim->pre = f.data;
	lim->prelen = f.len;
	if (f.type == SESS_HANDOFF && f.fd >= 0) {
		lim->watch_fd = fd;	/* when it goes, we go */
		return f.fd;
	}
	if (f.type == SESS_PROXY && f.fd < 0) {
		lim->watch_fd = 0;
		return fd;
	}
	fatalx("bad first frame %u from the pre-auth process", f.type);
}

int
user_main(int argc, char *argv[])
{
	struct conf conf;
	struct txn_limits lim;
	const char *conf_file = NULL, *user = NULL, *ip = NULL, *errstr;
	char err[1024];
	struct buf in;
	int ch, debug = 0, fd = -1, cfd, mdfd, ok, was_root = geteuid() == 0;
	enum txn_end end;

	while ((ch = getopt(argc, argv, "sdf:c:u:a:")) != -1) {
		switch (ch) {
		case 's': break;
		case 'd': debug = 1; break;
		case 'f': conf_file = optarg; break;
		case 'c':
			fd = (int)strtonum(optarg, 0, 1023, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 'u': user = optarg; break;
		case 'a': ip = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || fd < 0 || user == NULL || ip == NULL)
		usage();
	log_init("kurir-pop3d", debug);
	signal(SIGPIPE, SIG_IGN);
	tzset();			/* log time stamps, before the chroot */
	umask(077);
	if (fcntl(fd, F_GETFD) == -1)
		fatal("session socket fd %d", fd);
	if (!users_name_valid(user))
		fatalx("bad user name");
	if (conf_load(&conf, conf_path(conf_file), err, sizeof(err)) == -1)
		fatalx("%s", err);

	/* chrooted into the Maildir when there is one; without, the session
	 * only says -ERR and ends */
	mdfd = open_maildir(&conf, user);
	ok = mdfd != -1 && fchdir(mdfd) == 0;
	if (priv_drop(&conf, ROLE_MAIL, ok ? "." : NULL, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	lim.idle_timeout = conf.pop3_idle_timeout;
	lim.max_errors = conf.pop3_max_errors;
	conf_free(&conf);
	if (ok && sandbox_enter(SANDBOX_POP3_USER) == -1) {
		if (was_root)
			fatal("sandbox %s not entered",
			    sandbox_name(SANDBOX_POP3_USER));
		log_warn("sandbox %s not entered",
		    sandbox_name(SANDBOX_POP3_USER));
	}
	if ((cfd = session_peer(fd, &in, &lim)) == -1)
		return 0;	/* the pre-auth process let go: no client */
	if (!ok) {
		refuse_session(cfd);
		return EX_TEMPFAIL;
	}
	log_debug("session of user=%s [%s]%s", user, ip,
	    cfd != fd ? " (socket handed over)" : "");
	end = txn_serve(cfd, mdfd, user, &lim);
	buf_free(&in);
	if (cfd != fd)
		close(cfd);
	close(fd);
	close(mdfd);
	return end == TXN_UPDATE_FAILED || end == TXN_OPEN_FAILED ? 1 : 0;
}
