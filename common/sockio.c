/*
 * sockio.c - accepting and buffered non-blocking I/O for the daemons
 * that face clients (sockio.h).  Runs inside their sandboxes: accept4,
 * send/recv and libtls on descriptors they already hold.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sockio.h"

static void
sockio_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event *lev = arg;

	event_add(lev, NULL);
}

int
sockio_accept(int lfd, struct event *lev, struct event_base *base,
    struct sockaddr_storage *ss, const int *stopping)
{
	socklen_t sslen = sizeof(*ss);
	struct timeval tv = { 1, 0 };
	int fd;

	fd = accept4(lfd, (struct sockaddr *)ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd != -1)
		return fd;
	if (errno == EMFILE || errno == ENFILE) {
		/* out of descriptors: stop accepting a moment, don't spin */
		log_warn("accept (pausing 1s)");
		event_del(lev);
		if (!*stopping)
			event_base_once(base, -1, EV_TIMEOUT, sockio_resume_cb,
			    lev, &tv);
	} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("accept");
	return -1;
}

void
sockio_refuse(int fd, const char *msg)
{
	ssize_t r = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)r;
	close(fd);
}

int
sockio_admit(int fd, const char *ip, const struct sockio_limits *lim,
    int stopping, unsigned n, unsigned n_ip)
{
	if (stopping) {
		sockio_refuse(fd, lim->stopping);
		return 0;
	}
	if (n >= lim->max) {
		log_warnx("refused [%s]: %u sessions (%s)", ip, n, lim->max_key);
		sockio_refuse(fd, lim->busy);
		return 0;
	}
	if (n_ip >= lim->max_ip) {
		log_warnx("refused [%s]: too many sessions from it (%s_per_ip)",
		    ip, lim->max_key);
		sockio_refuse(fd, lim->busy_ip);
		return 0;
	}
	return 1;
}

/*
 * Reads go through one scratch buffer per process and only the bytes
 * that came are added to the session's own buffer: an idle session that
 * has said EHLO holds a few hundred bytes, not a whole read size.
 */
static char sockio_scratch[65536];

ssize_t
sockio_read(int fd, struct tls *tls, struct buf *in, size_t chunk,
    struct event *ev_write)
{
	size_t got;
	ssize_t n;

	if (chunk > sizeof(sockio_scratch))
		chunk = sizeof(sockio_scratch);
	if (in->len > in->max || in->max - in->len < chunk)
		return SOCKIO_FULL;
	if (tls != NULL) {
		n = tls_read(tls, sockio_scratch, chunk);
		if (n == TLS_WANT_POLLIN)
			return SOCKIO_AGAIN;
		if (n == TLS_WANT_POLLOUT) {
			event_add(ev_write, NULL);
			return SOCKIO_AGAIN;
		}
	} else {
		n = recv(fd, sockio_scratch, chunk, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return SOCKIO_AGAIN;
	}
	if (n > 0) {
		got = (size_t)n;
		if (buf_add(in, sockio_scratch, got) == -1)
			n = -1;
		explicit_bzero(sockio_scratch, got);	/* a password, maybe */
	}
	return n;
}

int
sockio_write(int fd, struct tls *tls, struct buf *out, struct event *ev_write)
{
	ssize_t n;

	while (out->len > 0) {
		if (tls != NULL) {
			n = tls_write(tls, out->data, out->len);
			if (n == TLS_WANT_POLLOUT || n == TLS_WANT_POLLIN) {
				event_add(ev_write, NULL);
				return 0;
			}
		} else {
			n = send(fd, out->data, out->len, MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				event_add(ev_write, NULL);
				return 0;
			}
		}
		if (n <= 0) {
			buf_reset(out);
			return -1;
		}
		buf_drain(out, (size_t)n);
	}
	return 0;
}

void
sockio_vline(struct buf *out, const char *ip, const char *fmt, va_list ap)
{
	if (buf_vprintf(out, fmt, ap) == -1 || buf_add(out, "\r\n", 2) == -1)
		log_warn("reply to [%s]", ip);
}
