/*
 * frame.h - typed, length-checked messages on pipes and UNIX sockets.
 *
 * Every message between kurir programs is one frame:
 *
 *	uint32 length of payload (network order, <= FRAME_MAX)
 *	uint16 type
 *	uint16 reserved (0)
 *	uint32 id (a transaction or session number chosen by the sender)
 *	payload
 *
 * A receiver checks the length before it reads the payload and the type
 * before it uses it (OpenSMTPD's imsg/mproc idea; libbsd has no imsg).
 * An optional file descriptor travels with a frame as SCM_RIGHTS.
 */
#ifndef KURIR_FRAME_H
#define KURIR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FRAME_HDR	12
#define FRAME_MAX	65536

struct frame {
	uint16_t	 type;
	uint32_t	 id;
	size_t		 len;
	const char	*data;		/* points into the input buffer */
	int		 fd;		/* -1 unless one came with it */
};

/* Append one frame to out.  -1/EMSGSIZE if len > FRAME_MAX. */
int	frame_pack(struct buf *out, uint16_t type, uint32_t id,
	    const void *data, size_t len);
/*
 * Take the first complete frame from in: 1 and *f set (valid until the
 * next frame_consume), 0 if more bytes are needed, -1 if the header is
 * bad (length over FRAME_MAX or reserved bits set): close the peer.
 */
int	frame_peek(const struct buf *in, struct frame *f);
void	frame_consume(struct buf *in, const struct frame *f);

/* Blocking helpers for simple sequential programs (EINTR handled). */
int	frame_write(int fd, uint16_t type, uint32_t id, const void *, size_t);
int	frame_write_fd(int fd, uint16_t type, uint32_t id, const void *,
	    size_t, int passfd);
/*
 * Read one frame into the caller's buffer (reset first).  Returns 1,
 * 0 on a clean EOF before any byte, -1 on error (EPROTO for a bad frame).
 * *f->data points into in.  If a descriptor arrives, f->fd holds it.
 */
int	frame_read(int fd, struct buf *in, struct frame *f);

/*
 * sendmsg(2) of n bytes with descriptor passfd (or -1) attached to the
 * first byte; EINTR retried, SIGPIPE never raised; flags e.g.
 * MSG_DONTWAIT.  Bytes sent, or -1.
 */
ssize_t	frame_send(int fd, const void *p, size_t n, int passfd, int flags);

/*
 * recvmsg(2) of up to n bytes that also takes a passed descriptor into
 * *gotfd (if it is still -1; any further ones are closed).  flags: e.g.
 * MSG_DONTWAIT.  Falls back to read(2) on a non-socket.
 */
#define FRAME_FDS_MAX	4
ssize_t	frame_recv(int fd, void *p, size_t n, int flags, int *gotfd);

/*
 * One frame from a non-blocking socket whose frames may carry
 * descriptors: never more is read than the frame being received needs,
 * so a descriptor always arrives with its own frame (the sender attaches
 * it to the frame's first byte), however the kernel cut the stream.  in
 * must have room for FRAME_HDR + FRAME_MAX; *infd collects the frame's
 * descriptor (start with -1).  1: a frame is complete in *f (f->data
 * points into in; take it, then buf_reset(in) and *infd = -1); 0: the
 * socket is dry; -1: EOF or an error (errno; 0 for EOF); -2: a bad
 * frame header.
 */
int	frame_take(int fd, struct buf *in, int *infd, struct frame *f);

/* Read from a non-blocking fd into in (at most FRAME_MAX+FRAME_HDR at a
 * time); returns bytes read, 0 on EOF, -1 on error (EAGAIN passes). */
ssize_t	frame_fill(int fd, struct buf *in);

/*
 * Send as much of out as the non-blocking socket takes, draining what
 * went.  0: all sent; 1: the socket is full (wait for EV_WRITE);
 * -1: the peer is gone (errno set).
 */
int	buf_send(int fd, struct buf *out);

/* write(2) all of it, retrying on EINTR / partial writes (blocking fds) */
int	write_all(int fd, const void *, size_t);

#endif
