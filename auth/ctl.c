/*
 * ctl.c - kurir-auth's control channel from kurird, and its tables.
 *
 * Runs as the auth user, chrooted: it opens no file itself.  kurird
 * (root) sends, one frame each (authproto.h):
 *   AP_CTL_USERS / AP_CTL_ALIASES  an open table file, payload its path:
 *       read whole (at most TABLE_FILE_MAX), parsed, and swapped in only
 *       if it parses; otherwise "file:line: reason" goes to the log and
 *       the old table stays in use.
 *   AP_CTL_LINK  a client link (link.c).
 *   AP_CTL_CONFIG  the config (SIGHUP), open; payload its path: the
 *       local domains that alias expansion uses are taken from it.
 * EOF on the channel means kurird is gone: the event loop ends, exit 0.
 * Frames are small and kurird writes each whole, so they are read with
 * the blocking frame_read.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth.h"
#include "authproto.h"
#include "conf.h"
#include "log.h"
#include "service.h"

struct auth_ctx A;

int
auth_setup(struct event_base *base, int ctl_fd)
{
	int fl;

	A.base = base;
	A.ctl_fd = ctl_fd;
	A.pending_max = AUTH_PENDING_MAX;
	if (A.queue_max == 0)
		A.queue_max = AUTH_QUEUE_MAX;
	if (A.nworkers == 0)
		TAILQ_INIT(&A.jobs);
	LIST_INIT(&A.links);
	/* frame_read blocks until a whole frame is in */
	if ((fl = fcntl(ctl_fd, F_GETFL)) == -1 ||
	    fcntl(ctl_fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    fcntl(ctl_fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	A.ev_ctl = event_new(base, ctl_fd, EV_READ | EV_PERSIST, ctl_read_cb,
	    NULL);
	if (A.ev_ctl == NULL || event_add(A.ev_ctl, NULL) == -1)
		return -1;
	return 0;
}

/* The limits on password checks, at start and on every reload. */
void
auth_apply_conf(const struct conf *c)
{
	A.delays.limit = c->auth_fail_limit;
	/* conf.c bounds the window to a day: no overflow in ms */
	A.delays.window_ms = c->auth_fail_window * 1000;
	A.delays.v6prefix = c->client_ipv6_prefix;
	A.link_rate = c->auth_link_rate;
}

void
auth_stop(int exit_code)
{
	A.exit_code = exit_code;
	if (A.ev_ctl != NULL)
		event_del(A.ev_ctl);
	event_base_loopexit(A.base, NULL);
}

void
auth_teardown(void)
{
	while (!LIST_EMPTY(&A.links))
		link_close(LIST_FIRST(&A.links));
	pool_stop();
	if (A.ev_ctl != NULL)
		event_free(A.ev_ctl);
	A.ev_ctl = NULL;
	users_free(A.users);
	aliases_free(A.aliases);
	A.users = NULL;
	A.aliases = NULL;
}

/* The whole of a table file into b; -1 with a reason in err. */
static int
ctl_read_table(int fd, const char *path, struct buf *b, char *err,
    size_t errlen)
{
	struct stat st;
	size_t room;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		goto fail;
	/* a FIFO or a socket could block us: only files (and /dev/null) */
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (S_ISREG(st.st_mode) && st.st_size > TABLE_FILE_MAX)
		goto toobig;
	for (;;) {
		if ((room = b->max - b->len) == 0)
			goto toobig;
		if (room > 65536)
			room = 65536;
		if (buf_reserve(b, room) == -1)
			goto fail;
		n = read(fd, b->data + b->len, room);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
toobig:
	snprintf(err, errlen, "%s: larger than %d bytes", path, TABLE_FILE_MAX);
	return -1;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

static void
ctl_table(uint16_t type, int fd, const char *path)
{
	struct buf b;
	struct users *nu = NULL;
	struct aliases *na = NULL;
	char err[PATH_MAX + 512];
	int r;

	/* one byte over the limit tells "too large" from "exactly full" */
	buf_init(&b, (size_t)TABLE_FILE_MAX + 1);
	if (ctl_read_table(fd, path, &b, err, sizeof(err)) == -1)
		r = -1;
	else if (b.len > TABLE_FILE_MAX) {
		snprintf(err, sizeof(err), "%s: larger than %d bytes", path,
		    TABLE_FILE_MAX);
		r = -1;
	} else if (type == AP_CTL_USERS)
		r = users_load_mem(&nu, path, buf_cstr(&b), b.len, err,
		    sizeof(err));
	else
		r = aliases_load_mem(&na, path, buf_cstr(&b), b.len, err,
		    sizeof(err));
	buf_free(&b);		/* wipes: the users file holds hashes */
	if (r == -1) {
		log_warnx("%s (keeping the old %s table)", err,
		    type == AP_CTL_USERS ? "users" : "aliases");
		return;
	}
	if (type == AP_CTL_USERS) {
		users_free(A.users);
		A.users = nu;
		A.users_loaded = 1;
		log_info("loaded %zu users from %s", users_count(nu), path);
	} else {
		aliases_free(A.aliases);
		A.aliases = na;
		A.aliases_loaded = 1;
		log_info("loaded %zu aliases from %s", aliases_count(na), path);
	}
}

static void
ctl_frame(const struct frame *f)
{
	char path[PATH_MAX];

	switch (f->type) {
	case AP_CTL_USERS:
	case AP_CTL_ALIASES:
		if (f->fd < 0 || f->len == 0 || f->len >= sizeof(path) ||
		    memchr(f->data, '\0', f->len) != NULL) {
			log_warnx("control: bad table frame (%zu bytes, %s "
			    "descriptor); ignored", f->len,
			    f->fd < 0 ? "no" : "with");
			break;
		}
		memcpy(path, f->data, f->len);
		path[f->len] = '\0';
		ctl_table(f->type, f->fd, path);
		break;
	case AP_CTL_CONFIG:
		if (f->fd < 0 || f->len == 0 || f->len >= sizeof(path) ||
		    memchr(f->data, '\0', f->len) != NULL) {
			log_warnx("control: bad config frame; ignored");
			break;
		}
		memcpy(path, f->data, f->len);
		path[f->len] = '\0';
		if (A.conf != NULL &&
		    service_conf_reload(f->fd, path, A.conf) == 0)
			auth_apply_conf(A.conf);
		break;
	case AP_CTL_LINK:
		if (f->fd < 0) {
			log_warnx("control: link frame without a descriptor");
			break;
		}
		link_new(f->fd, f->len == 4 && memcmp(f->data, "pop3", 4) == 0);
		return;		/* the link owns the descriptor now */
	default:
		log_warnx("control: unexpected frame type %u; ignored", f->type);
		break;
	}
	if (f->fd >= 0)
		close(f->fd);
}

void
ctl_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct buf in;
	struct frame f;
	int r;

	buf_init(&in, FRAME_HDR + FRAME_MAX);
	r = frame_read(fd, &in, &f);
	if (r == 1)
		ctl_frame(&f);
	else if (r == 0) {
		log_info("control channel closed: kurird is gone; exiting");
		auth_stop(0);
	} else if (errno == EPROTO) {
		log_warnx("control channel: bad frame; exiting");
		auth_stop(EX_PROTOCOL);
	} else {
		log_warn("control channel; exiting");
		auth_stop(0);
	}
	buf_free(&in);
}
