/*
 * ctl.c - the pre-auth kurir-pop3d's control channel from kurird:
 * listeners, the link to kurir-auth, the TLS files, config reloads and
 * the sockets of new session processes (CTL_SESSION) arrive here as
 * descriptors (ctlproto.h).  kurir-pop3d opens no file or socket itself.
 */
#include <string.h>
#include <unistd.h>

#include "ctlproto.h"
#include "frame.h"
#include "log.h"
#include "pop3d.h"
#include "service.h"
#include "tlsserver.h"

static struct tls_files tls_files = TLS_FILES_INIT;

/* The certificate or the key from kurird; a new context once both came. */
static void
ctl_tls(int is_key, int fd)
{
	struct tls_config *cfg;
	struct tls *srv;

	/* sessions in TLS keep the older context alive: not freed */
	if ((srv = tls_files_take(&tls_files, is_key, fd, &cfg)) != NULL) {
		P.tls_server = srv;
		P.tls_cfg = cfg;
	}
}

/* CTL_SESSION: the session process of a login in flight, or a refusal. */
static void
ctl_session(const struct frame *f, const char *user)
{
	struct psession *s = conn_find(f->id);

	if (s == NULL || s->state != PS_AWAIT || s->spawned) {
		/* gone meanwhile: the session process sees EOF and exits */
		if (f->fd >= 0)
			close(f->fd);
		return;
	}
	authz_spawned(s, f->fd, user);
}

/* one control frame; CTL_GO when the initial batch is done */
static int
ctl_frame(const struct frame *f)
{
	char text[4096];
	size_t n = f->len < sizeof(text) - 1 ? f->len : sizeof(text) - 1;

	memcpy(text, f->data, n);
	text[n] = '\0';
	switch (f->type) {
	case CTL_LISTEN:
		if (f->fd < 0 || P.nlisteners >= PRE_LISTEN_MAX)
			break;
		P.listeners[P.nlisteners++].fd = f->fd;
		return 0;
	case CTL_AUTH:
		if (f->fd < 0)
			break;
		alink_attach(f->fd);
		return 0;
	case CTL_TLS_CERT:
	case CTL_TLS_KEY:
		ctl_tls(f->type == CTL_TLS_KEY, f->fd);
		return 0;
	case CTL_CONFIG:
		if (f->fd >= 0) {
			service_conf_reload(f->fd, text, &P.conf);
			close(f->fd);
		}
		return 0;
	case CTL_SESSION:
		if (f->len > AUTH_USER_MAX || memchr(f->data, '\0', f->len))
			break;
		ctl_session(f, text);
		return 0;
	case CTL_GO:
		return CTL_GO;
	default:
		break;
	}
	log_warnx("unexpected control frame %u", f->type);
	if (f->fd >= 0)
		close(f->fd);
	return 0;
}

void
ctl_read_initial(void)
{
	service_ctl_until_go(P.ctl_fd, ctl_frame);
}

void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	if (service_ctl_read(P.ctl_fd, ctl_frame) == -1) {
		log_info("kurird is gone; stopping");
		event_del(P.ev_ctl);
		pop3d_stop();
	}
}
