/*
 * spawn.c - kurird starts one POP3 session process per login.
 *
 * Runs as root.  Input: AP_CTL_SPAWN frames on kurir-auth's control
 * channel, sent only after kurir-auth has checked the user's password
 * (authproto.h); never anything from kurir-pop3d, which parses network
 * input and could name any user.  For each: a socketpair, then
 * `kurir-pop3d -s -u USER -a IP -c 3` with one end as descriptor 3, and
 * the other end to the pre-auth kurir-pop3d as CTL_SESSION (same id).
 * The session process itself opens <mail_dir>/<user>, chroots there and
 * becomes the mail user before it reads a byte.
 *
 * A refused spawn still answers kurir-pop3d, with a CTL_SESSION that
 * carries no descriptor, so its client hears "-ERR [SYS/TEMP]" at once.
 * Session processes are not restarted; they are reaped here and counted
 * against pop3_max_sessions.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "authproto.h"
#include "ctlproto.h"
#include "frame.h"
#include "fsutil.h"
#include "kurird.h"
#include "log.h"
#include "service.h"
#include "table.h"

/* requests taken per wake-up before the event loop has its turn */
#define SPAWN_FRAMES_PER_CB	64

/* Tell kurir-pop3d: a session socket (fd), or none (-1) for a refusal. */
static void
spawn_answer(uint32_t id, const char *user, int fd)
{
	if (!child_running(&D.pop3d))
		return;
	if (frame_write_fd(D.pop3d.ctl, CTL_SESSION, id, user, strlen(user),
	    fd) == -1)
		log_warn("control channel to kurir-pop3d");
}

static int
spawn_session(const char *user, const char *ip)
{
	char prog[4200];
	const char *argv[12];
	int sp[2], n = 0;
	pid_t pid;

	if (path_fmt(prog, sizeof(prog), "%s/kurir-pop3d", D.bindir) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair for a POP3 session");
		return -1;
	}
	argv[n++] = "kurir-pop3d";
	argv[n++] = "-s";
	argv[n++] = "-f";
	argv[n++] = D.conf_path;
	if (D.debug)
		argv[n++] = "-d";
	argv[n++] = "-c";
	argv[n++] = "3";
	argv[n++] = "-u";
	argv[n++] = user;
	argv[n++] = "-a";
	argv[n++] = ip[0] != '\0' ? ip : "-";
	argv[n] = NULL;
	pid = proc_spawn(prog, argv, &sp[1], 1);
	close(sp[1]);
	if (pid == -1) {
		log_warn("fork kurir-pop3d session");
		close(sp[0]);
		return -1;
	}
	D.nsessions++;
	log_debug("POP3 session of user=%s: pid %ld", user, (long)pid);
	return sp[0];
}

/* One AP_CTL_SPAWN: "user\0client-ip". */
static void
spawn_request(const struct frame *f)
{
	char user[AUTH_USER_MAX + 1], ip[AUTH_IP_MAX + 1];
	const char *z;
	size_t ul, il;
	int fd;

	if ((z = memchr(f->data, '\0', f->len)) == NULL ||
	    (ul = (size_t)(z - f->data)) == 0 || ul > AUTH_USER_MAX ||
	    (il = f->len - ul - 1) > AUTH_IP_MAX ||
	    memchr(z + 1, '\0', il) != NULL) {
		log_warnx("kurir-auth sent a bad session request; ignored");
		return;
	}
	memcpy(user, f->data, ul);
	user[ul] = '\0';
	memcpy(ip, z + 1, il);
	ip[il] = '\0';
	/* kurir-auth checked it against the table; we check it is a name */
	if (!users_name_valid(user)) {
		log_warnx("session request for a bad user name; refused");
		spawn_answer(f->id, "", -1);
		return;
	}
	if (!child_running(&D.pop3d))
		return;
	if (D.nsessions >= D.conf.pop3_max_sessions) {
		log_warnx("POP3 session of user=%s refused: %u sessions "
		    "(pop3_max_sessions)", user, D.nsessions);
		spawn_answer(f->id, user, -1);
		return;
	}
	fd = spawn_session(user, ip);
	spawn_answer(f->id, user, fd);
	if (fd != -1)
		close(fd);
}

/* One frame on kurir-auth's control channel. */
static int
spawn_frame(const struct frame *f)
{
	if (f->type == AP_CTL_SPAWN)
		spawn_request(f);
	else
		log_warnx("kurir-auth sent control frame %u; ignored", f->type);
	if (f->fd >= 0)
		close(f->fd);
	return 0;
}

/*
 * Forget a request in part (kurir-auth is gone, or starts anew); the
 * first time, make the buffer (frame_take needs room for a whole frame).
 */
void
spawn_auth_ctl_reset(void)
{
	if (D.auth_ctl_in.max == 0) {
		buf_init(&D.auth_ctl_in, FRAME_HDR + FRAME_MAX);
		D.auth_ctl_infd = -1;
		if (buf_reserve(&D.auth_ctl_in, FRAME_HDR + FRAME_MAX) == -1)
			fatal("kurir-auth's control buffer");
	}
	buf_reset(&D.auth_ctl_in);
	if (D.auth_ctl_infd >= 0)
		close(D.auth_ctl_infd);
	D.auth_ctl_infd = -1;
}

/*
 * kurir-auth's control channel is readable.  Read without blocking,
 * frame by frame, keeping a frame that came in part for the next time:
 * a kurir-auth that sends half a frame and stalls must not freeze the
 * supervisor (nor a flood starve its other work: SPAWN_FRAMES_PER_CB).
 */
void
spawn_auth_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frame f;
	int i, r;

	for (i = 0; i < SPAWN_FRAMES_PER_CB; i++) {
		r = frame_take(fd, &D.auth_ctl_in, &D.auth_ctl_infd, &f);
		if (r == 0)
			return;			/* dry: the rest comes later */
		if (r == 1) {
			D.auth_ctl_infd = -1;	/* spawn_frame closes it */
			(void)spawn_frame(&f);
			buf_reset(&D.auth_ctl_in);
			continue;
		}
		if (r == -2)
			log_warnx("kurir-auth sent a bad control frame; "
			    "no longer reading its channel");
		/* kurir-auth is gone (or broken); its restart makes a new
		 * channel */
		spawn_auth_ctl_reset();
		event_free(D.ev_auth_ctl);
		D.ev_auth_ctl = NULL;
		return;
	}
}

void
spawn_reaped(pid_t pid, int status)
{
	if (D.nsessions > 0)
		D.nsessions--;
	/* the shape of child_reaped's line: a crash reads the same */
	if (WIFSIGNALED(status))
		log_warnx("kurir-pop3d[%ld] killed by signal %d (a POP3 "
		    "session)", (long)pid, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		log_warnx("POP3 session process %ld exited with status %d",
		    (long)pid, WEXITSTATUS(status));
}
