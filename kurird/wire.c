/*
 * wire.c - kurird's descriptors: binding the listeners, opening the
 * files that confined services may not open themselves, and linking
 * services to each other with socketpairs passed over control channels.
 * Runs as root; reads no network input (it only binds and passes fds).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "authproto.h"
#include "ctlproto.h"
#include "frame.h"
#include "kurird.h"
#include "log.h"
#include "net.h"
#include "qproto.h"
#include "remoteproto.h"

/* a backlog that never drops a burst of connects (the kernel caps it) */
#define LISTEN_BACKLOG	4096

static int
bind_one(const char *spec, const char *kind)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	int fd, on = 1;

	if (D.nlisteners >= LISTEN_MAX) {
		log_warnx("too many listen addresses; %s ignored", spec);
		return -1;
	}
	if (net_parse_hostport(spec, &ss, &len, &why) == -1) {
		log_warnx("%s: %s", spec, why);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("%s %s", kind, spec);
		close(fd);
		return -1;
	}
	D.listeners[D.nlisteners].fd = fd;
	D.listeners[D.nlisteners].kind = kind;
	D.nlisteners++;
	log_info("listening on %s (%s)", spec, kind);
	return 0;
}

/* Bind smtp_listen, submission_listen and pop3_listen; -1 if any fails. */
int
wire_listen(void)
{
	size_t i;
	int r = 0;

	for (i = 0; i < D.conf.smtp_listen.n; i++)
		r |= bind_one(D.conf.smtp_listen.v[i], "smtp");
	for (i = 0; i < D.conf.submission_listen.n; i++)
		r |= bind_one(D.conf.submission_listen.v[i], "submission");
	for (i = 0; i < D.conf.pop3_listen.n; i++)
		r |= bind_one(D.conf.pop3_listen.v[i], "pop3");
	return r;
}

/* Is there a listener of this kind ("pop3"), or of any other (NULL)? */
int
wire_has_listener(const char *kind)
{
	int i;

	for (i = 0; i < D.nlisteners; i++)
		if (kind != NULL ? strcmp(D.listeners[i].kind, kind) == 0 :
		    strcmp(D.listeners[i].kind, "pop3") != 0)
			return 1;
	return 0;
}

static void
send_fd(struct child *c, uint16_t type, int fd, const char *text)
{
	if (frame_write_fd(c->ctl, type, 0, text, text ? strlen(text) : 0,
	    fd) == -1)
		log_warn("control channel to %s", c->name);
}

static void
send_file(struct child *c, uint16_t type, const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		/*
		 * A missing table is an empty one (a fresh host has none).  A
		 * table we cannot read is not: send nothing, so the service
		 * keeps what it has (or answers "try later" without one).
		 */
		if (errno != ENOENT ||
		    (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
			log_warn("%s (not sent to %s)", path, c->name);
			return;
		}
	}
	send_fd(c, type, fd, path);
	close(fd);
}

/* Link two running services: one socketpair end to each; a's frame
 * carries atext (may be NULL). */
static void
link_pair_text(struct child *a, uint16_t atype, const char *atext,
    struct child *b, uint16_t btype)
{
	int sp[2];

	if (!child_running(a) || !child_running(b))
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return;
	}
	send_fd(a, atype, sp[0], atext);
	send_fd(b, btype, sp[1], NULL);
	close(sp[0]);
	close(sp[1]);
}

static void
link_pair(struct child *a, uint16_t atype, struct child *b, uint16_t btype)
{
	link_pair_text(a, atype, NULL, b, btype);
}

void
wire_queue_started(void)
{
	link_pair(&D.queue, QP_NEWLINK, &D.smtpd, CTL_QUEUE);
	link_pair(&D.queue, QP_SENDLINK, &D.send, CTL_QUEUE);
}

static void
auth_tables(void)
{
	send_file(&D.auth, AP_CTL_USERS, D.conf.users_file);
	send_file(&D.auth, AP_CTL_ALIASES, D.conf.aliases_file);
}

void
wire_auth_started(void)
{
	/* kurir-auth asks us for POP3 sessions on its control channel */
	if (D.ev_auth_ctl != NULL)
		event_free(D.ev_auth_ctl);
	spawn_auth_ctl_reset();
	D.ev_auth_ctl = event_new(D.base, D.auth.ctl, EV_READ | EV_PERSIST,
	    spawn_auth_ctl_cb, NULL);
	if (D.ev_auth_ctl == NULL || event_add(D.ev_auth_ctl, NULL) == -1)
		log_warnx("cannot watch kurir-auth's control channel");
	auth_tables();
	link_pair(&D.auth, AP_CTL_LINK, &D.smtpd, CTL_AUTH);
	link_pair(&D.auth, AP_CTL_LINK, &D.send, CTL_AUTH);
	link_pair_text(&D.auth, AP_CTL_LINK, "pop3", &D.pop3d, CTL_AUTH);
}

/*
 * kurir-local's channel is its link to kurir-send: we made it when we
 * started kurir-local, and hand our end over whole (and keep no copy).
 * When kurir-send dies the link ends, kurir-local exits, and we start a
 * fresh one for the next kurir-send.
 */
static void
local_hand_over(void)
{
	if (!child_running(&D.local) || !child_running(&D.send) ||
	    D.local.ctl < 0)
		return;
	send_fd(&D.send, CTL_LOCAL, D.local.ctl, NULL);
	close(D.local.ctl);
	D.local.ctl = -1;
}

void
wire_local_started(void)
{
	local_hand_over();
}

void
wire_send_started(void)
{
	link_pair(&D.queue, QP_SENDLINK, &D.send, CTL_QUEUE);
	link_pair(&D.auth, AP_CTL_LINK, &D.send, CTL_AUTH);
	link_pair(&D.remote, RP_CTL_LINK, &D.send, CTL_REMOTE);
	local_hand_over();
	send_fd(&D.send, CTL_GO, -1, NULL);
}

/* kurir-remote opens no file: the routes and the CA bundle come from us */
static void
remote_tables(void)
{
	send_file(&D.remote, RP_CTL_ROUTES, D.conf.routes_file);
	if (D.conf.tls_ca_file != NULL && access(D.conf.tls_ca_file, R_OK) == 0)
		send_file(&D.remote, RP_CTL_CA, D.conf.tls_ca_file);
}

void
wire_remote_started(void)
{
	remote_tables();
	link_pair(&D.remote, RP_CTL_LINK, &D.send, CTL_REMOTE);
	send_fd(&D.remote, CTL_GO, -1, NULL);
}

/* kurirctl flush (SIGUSR1 to us): deferred mail is due now. */
void
wire_flush(void)
{
	if (child_running(&D.send))
		send_fd(&D.send, CTL_FLUSH, -1, NULL);
}

/* kurir-smtpd's or kurir-pop3d's certificate and key, if configured */
static void
send_tls(struct child *c)
{
	if (D.conf.tls_cert_file == NULL || D.conf.tls_key_file == NULL)
		return;
	send_file(c, CTL_TLS_CERT, D.conf.tls_cert_file);
	send_file(c, CTL_TLS_KEY, D.conf.tls_key_file);
}

void
wire_smtpd_started(void)
{
	int i;

	for (i = 0; i < D.nlisteners; i++)
		if (strcmp(D.listeners[i].kind, "pop3") != 0)
			send_fd(&D.smtpd, CTL_LISTEN, D.listeners[i].fd,
			    D.listeners[i].kind);
	link_pair(&D.queue, QP_NEWLINK, &D.smtpd, CTL_QUEUE);
	link_pair(&D.auth, AP_CTL_LINK, &D.smtpd, CTL_AUTH);
	send_tls(&D.smtpd);
	send_fd(&D.smtpd, CTL_GO, -1, NULL);
}

void
wire_pop3d_started(void)
{
	int i;

	for (i = 0; i < D.nlisteners; i++)
		if (strcmp(D.listeners[i].kind, "pop3") == 0)
			send_fd(&D.pop3d, CTL_LISTEN, D.listeners[i].fd, "pop3");
	link_pair_text(&D.auth, AP_CTL_LINK, "pop3", &D.pop3d, CTL_AUTH);
	send_tls(&D.pop3d);
	send_fd(&D.pop3d, CTL_GO, -1, NULL);
}

/* SIGHUP: every service gets the new config and tables. */
void
wire_reload(void)
{
	if (child_running(&D.auth)) {
		auth_tables();
		send_file(&D.auth, AP_CTL_CONFIG, D.conf_path);
	}
	if (child_running(&D.smtpd)) {
		send_file(&D.smtpd, CTL_CONFIG, D.conf_path);
		send_tls(&D.smtpd);
	}
	if (child_running(&D.pop3d)) {
		send_file(&D.pop3d, CTL_CONFIG, D.conf_path);
		send_tls(&D.pop3d);
	}
	if (child_running(&D.queue))
		kill(D.queue.pid, SIGHUP);
	if (child_running(&D.send))
		send_file(&D.send, CTL_CONFIG, D.conf_path);
	if (child_running(&D.remote)) {
		send_file(&D.remote, RP_CTL_CONFIG, D.conf_path);
		remote_tables();
	}
}
