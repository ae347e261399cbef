/*
 * qclient.c - submit one message to kurir-queue over its local socket.
 *
 * Runs as the invoking user (kurir-sendmail).  The message is already in
 * memory; connecting is retried for a few seconds because kurir-queue
 * may be restarting after a crash.  Once the commit frame has been sent
 * we never resubmit: a lost answer is reported as a temporary failure
 * rather than risking a duplicate.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "frame.h"
#include "qclient.h"
#include "qproto.h"

#define QCLIENT_CONNECT_TRIES	100	/* x 100 ms: ten seconds */

int
qclient_socket_path(const struct conf *c, char *out, size_t outlen)
{
	return path_fmt(out, outlen, "%s/sock/%s", c->state_dir, QP_SOCKET_NAME);
}

static int
qclient_connect(const struct conf *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int fd, tries, saved = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (qclient_socket_path(c, sun.sun_path, sizeof(sun.sun_path)) == -1) {
		snprintf(err, errlen, "queue socket path too long");
		return -1;
	}
	for (tries = 0; tries < QCLIENT_CONNECT_TRIES; tries++) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		saved = errno;
		close(fd);
		/* only a missing or not-yet-listening socket is worth waiting for */
		if (saved != ENOENT && saved != ECONNREFUSED && saved != EAGAIN)
			break;
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "cannot reach the mail queue at %s: %s "
	    "(is kurird running?)", sun.sun_path, strerror(saved ? saved : errno));
	return -1;
}

enum qclient_result
qclient_submit(const struct conf *c, const char *sender,
    const char * const *rcpts, size_t nrcpts, const char *msg, size_t msglen,
    char id[QCLIENT_ID_MAX], char *err, size_t errlen)
{
	struct buf in;
	struct frame f;
	size_t i, chunk;
	int fd, r;
	enum qclient_result res = QCLIENT_TEMPFAIL;

	if ((fd = qclient_connect(c, err, errlen)) == -1)
		return QCLIENT_TEMPFAIL;
	buf_init(&in, FRAME_HDR + FRAME_MAX);
	if (frame_write(fd, QP_MAIL, 1, sender, strlen(sender)) == -1)
		goto ioerr;
	for (i = 0; i < nrcpts; i++)
		if (frame_write(fd, QP_RCPT, 1, rcpts[i], strlen(rcpts[i])) == -1)
			goto ioerr;
	for (i = 0; i < msglen; i += chunk) {
		chunk = msglen - i < FRAME_MAX ? msglen - i : FRAME_MAX;
		if (frame_write(fd, QP_DATA, 1, msg + i, chunk) == -1)
			goto ioerr;
	}
	if (frame_write(fd, QP_COMMIT, 1, NULL, 0) == -1)
		goto ioerr;
	if ((r = frame_read(fd, &in, &f)) != 1) {
		if (r == 0)
			errno = EPIPE;
		goto ioerr;
	}
	if (f.fd >= 0)
		close(f.fd);
	switch (f.type) {
	case QP_OK:
		if (f.len == 0 || f.len >= QCLIENT_ID_MAX)
			goto proto;
		memcpy(id, f.data, f.len);
		id[f.len] = '\0';
		res = QCLIENT_OK;
		break;
	case QP_TEMPFAIL:
	case QP_PERMFAIL:
		snprintf(err, errlen, "%.*s", (int)(f.len > 512 ? 512 : f.len),
		    f.data);
		res = f.type == QP_PERMFAIL ? QCLIENT_PERMFAIL : QCLIENT_TEMPFAIL;
		break;
	default:
		goto proto;
	}
	goto out;
ioerr:
	/* the queue may have refused early (e.g. too large) and closed */
	if (frame_read(fd, &in, &f) == 1 &&
	    (f.type == QP_PERMFAIL || f.type == QP_TEMPFAIL)) {
		snprintf(err, errlen, "%.*s", (int)(f.len > 512 ? 512 : f.len),
		    f.data);
		res = f.type == QP_PERMFAIL ? QCLIENT_PERMFAIL : QCLIENT_TEMPFAIL;
		goto out;
	}
	snprintf(err, errlen, "lost the connection to the mail queue: %s",
	    strerror(errno));
	goto out;
proto:
	snprintf(err, errlen, "bad answer from the mail queue");
out:
	buf_free(&in);
	close(fd);
	return res;
}
