/*
 * qclient.h - the client side of the kurir-queue submission protocol.
 *
 * Local programs (kurir-sendmail, as the invoking user) connect to the
 * queue socket <state_dir>/sock/queue; kurir-queue learns their uid from
 * SO_PEERCRED and records it.  A submission is: sender, recipients, the
 * message (LF line ends), commit; the answer is a queue id once the entry
 * is durable (fsync'd file and directory), or an error.
 */
#ifndef KURIR_QCLIENT_H
#define KURIR_QCLIENT_H

#include <stddef.h>

#include "conf.h"

enum qclient_result {
	QCLIENT_OK = 0,		/* queued durably; id filled in */
	QCLIENT_TEMPFAIL = 1,	/* try again later (queue down, disk full) */
	QCLIENT_PERMFAIL = 2,	/* never (too large, bad address) */
};

#define QCLIENT_ID_MAX	64

/*
 * Submit one message.  sender is "local@domain" or "" for the null
 * sender; rcpts are "local@domain" strings.  Connecting is retried for a
 * few seconds (kurir-queue may be restarting).  On failure err holds a
 * one-line reason fit for the user.
 */
enum qclient_result qclient_submit(const struct conf *, const char *sender,
	    const char * const *rcpts, size_t nrcpts, const char *msg,
	    size_t msglen, char id[QCLIENT_ID_MAX], char *err, size_t errlen);

/* The socket path for a config: <state_dir>/sock/queue */
int	qclient_socket_path(const struct conf *, char *out, size_t outlen);

#endif
