/*
 * ctl.c - kurir-smtpd's control channel from kurird: listeners, links to
 * kurir-queue and kurir-auth, TLS files, and config reloads arrive here
 * as descriptors (see ctlproto.h).  kurir-smtpd never opens a file or a
 * socket by itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlproto.h"
#include "frame.h"
#include "fsutil.h"
#include "log.h"
#include "service.h"
#include "smtpd.h"
#include "tlsserver.h"

static struct tls_files tls_files = TLS_FILES_INIT;

/* The certificate or the key from kurird; a new context once both came. */
static void
ctl_tls(int is_key, int fd)
{
	struct tls_config *cfg;
	struct tls *srv;

	/* sessions still hold connections of an older context: keep it */
	if ((srv = tls_files_take(&tls_files, is_key, fd, &cfg)) != NULL) {
		S.tls_server = srv;
		S.tls_cfg = cfg;
	}
}

/* one control frame; returns CTL_GO when the initial batch is done */
static int
ctl_frame(const struct frame *f)
{
	char text[4096];
	size_t n = f->len < sizeof(text) - 1 ? f->len : sizeof(text) - 1;

	memcpy(text, f->data, n);
	text[n] = '\0';
	switch (f->type) {
	case CTL_LISTEN:
		if (f->fd < 0 || S.nlisteners >= SMTP_LISTEN_MAX)
			break;
		S.listeners[S.nlisteners].fd = f->fd;
		S.listeners[S.nlisteners].kind = strcmp(text, "submission") == 0 ?
		    LISTEN_SUBMISSION : LISTEN_SMTP;
		S.nlisteners++;
		return 0;
	case CTL_QUEUE:
		if (f->fd >= 0)
			peer_attach(&S.queue, f->fd);
		return 0;
	case CTL_AUTH:
		if (f->fd >= 0)
			peer_attach(&S.auth, f->fd);
		return 0;
	case CTL_TLS_CERT:
	case CTL_TLS_KEY:
		ctl_tls(f->type == CTL_TLS_KEY, f->fd);
		return 0;
	case CTL_CONFIG:
		if (f->fd >= 0) {
			service_conf_reload(f->fd, text, &S.conf);
			close(f->fd);
		}
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

/* Before the event loop: take descriptors until kurird says go. */
void
ctl_read_initial(void)
{
	service_ctl_until_go(S.ctl_fd, ctl_frame);
}

void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	if (service_ctl_read(S.ctl_fd, ctl_frame) == -1) {
		log_info("kurird is gone; stopping");
		event_del(S.ev_ctl);
		smtpd_stop();
	}
}
