/*
 * frame.c - typed, length-checked messages between programs (frame.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

int
frame_pack(struct buf *out, uint16_t type, uint32_t id, const void *data,
    size_t len)
{
	unsigned char h[FRAME_HDR];
	uint32_t n32;
	uint16_t n16;

	if (len > FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	n32 = htonl((uint32_t)len);
	memcpy(h, &n32, 4);
	n16 = htons(type);
	memcpy(h + 4, &n16, 2);
	memset(h + 6, 0, 2);
	n32 = htonl(id);
	memcpy(h + 8, &n32, 4);
	if (buf_reserve(out, FRAME_HDR + len) == -1)
		return -1;
	buf_add(out, h, sizeof(h));
	buf_add(out, data, len);
	return 0;
}

int
frame_peek(const struct buf *in, struct frame *f)
{
	uint32_t n32;
	uint16_t n16, rsv;

	if (in->len < FRAME_HDR)
		return 0;
	memcpy(&n32, in->data, 4);
	memcpy(&n16, in->data + 4, 2);
	memcpy(&rsv, in->data + 6, 2);
	if (ntohl(n32) > FRAME_MAX || rsv != 0) {
		errno = EPROTO;
		return -1;
	}
	f->len = ntohl(n32);
	f->type = ntohs(n16);
	memcpy(&n32, in->data + 8, 4);
	f->id = ntohl(n32);
	if (in->len - FRAME_HDR < f->len)
		return 0;
	f->data = in->data + FRAME_HDR;
	f->fd = -1;
	return 1;
}

void
frame_consume(struct buf *in, const struct frame *f)
{
	buf_drain(in, FRAME_HDR + f->len);
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		/* send(MSG_NOSIGNAL): a vanished peer is an error, not SIGPIPE */
		w = send(fd, s, n, MSG_NOSIGNAL);
		if (w == -1 && errno == ENOTSOCK)
			w = write(fd, s, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
frame_send(int fd, const void *p, size_t n, int passfd, int flags)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	ssize_t w;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (passfd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	do
		w = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	while (w == -1 && errno == EINTR);
	return w;
}

int
frame_write_fd(int fd, uint16_t type, uint32_t id, const void *data,
    size_t len, int passfd)
{
	struct buf b;
	ssize_t w;
	int r;

	buf_init(&b, FRAME_HDR + FRAME_MAX);
	if (frame_pack(&b, type, id, data, len) == -1)
		return -1;
	if (passfd < 0) {
		r = write_all(fd, b.data, b.len);
		buf_free(&b);
		return r;
	}
	/* the descriptor rides on the first byte; the rest follows */
	if ((w = frame_send(fd, b.data, b.len, passfd, 0)) == -1) {
		buf_free(&b);
		return -1;
	}
	r = write_all(fd, b.data + w, b.len - (size_t)w);
	buf_free(&b);
	return r;
}

int
frame_write(int fd, uint16_t type, uint32_t id, const void *data, size_t len)
{
	return frame_write_fd(fd, type, id, data, len, -1);
}

ssize_t
frame_recv(int fd, void *p, size_t n, int flags, int *gotfd)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(FRAME_FDS_MAX * sizeof(int))];
	} cm;
	struct cmsghdr *c;
	size_t i, nfd;
	ssize_t r;
	int got;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags);
	if (r == -1 && errno == ENOTSOCK)
		return read(fd, p, n);
	if (r <= 0)
		return r;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*gotfd >= 0)
				close(got);	/* one per frame; drop extras */
			else
				*gotfd = got;
		}
	}
	/* more descriptors than room: the kernel closed the rest for us */
	return r;
}

int
frame_read(int fd, struct buf *in, struct frame *f)
{
	int r, gotfd = -1;
	ssize_t n;
	size_t want = FRAME_HDR;

	buf_reset(in);
	for (;;) {
		if (in->len >= FRAME_HDR) {
			if ((r = frame_peek(in, f)) == -1)
				goto bad;
			if (r == 1) {
				f->fd = gotfd;
				return 1;
			}
			want = FRAME_HDR + f->len;
		}
		if (buf_reserve(in, want - in->len) == -1)
			goto bad;
		/* read exactly what this frame needs: never into the next */
		n = frame_recv(fd, in->data + in->len, want - in->len, 0, &gotfd);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		if (n == 0) {
			if (in->len == 0 && gotfd < 0)
				return 0;
			errno = EPIPE;
			goto bad;
		}
		in->len += (size_t)n;
	}
bad:
	if (gotfd >= 0)
		close(gotfd);
	return -1;
}

ssize_t
frame_fill(int fd, struct buf *in)
{
	ssize_t n;

	if (buf_reserve(in, FRAME_HDR + FRAME_MAX) == -1)
		return -1;
	do
		n = read(fd, in->data + in->len, FRAME_HDR + FRAME_MAX);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		in->len += (size_t)n;
	return n;
}

int
buf_send(int fd, struct buf *out)
{
	ssize_t n;

	while (out->len > 0) {
		n = send(fd, out->data, out->len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -1;
		}
		buf_drain(out, (size_t)n);
	}
	return 0;
}

int
frame_take(int fd, struct buf *in, int *infd, struct frame *f)
{
	size_t want;
	ssize_t n;
	int r;

	for (;;) {
		want = FRAME_HDR;
		if (in->len >= FRAME_HDR) {
			if ((r = frame_peek(in, f)) == -1)
				return -2;
			if (r == 1) {
				f->fd = *infd;
				return 1;
			}
			want = FRAME_HDR + f->len;
		}
		n = frame_recv(fd, in->data + in->len, want - in->len,
		    MSG_DONTWAIT, infd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		in->len += (size_t)n;
	}
}
