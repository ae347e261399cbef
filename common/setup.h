/*
 * setup.h - create the state and mail trees with the right owners and
 * modes (and, as root, the service accounts).  Idempotent: kurirctl
 * setup, kurird at start, make run and make install all call it.
 *
 *   <state_dir>            0755 root
 *   <state_dir>/queue      0750 queue user, and tmp/ msg/ state/ bad/ 0700
 *   <state_dir>/sock       0755 root (sockets inside carry their own modes)
 *   <state_dir>/empty      0555 root (chroot for network-facing programs)
 *   <mail_dir>             0750 mail user
 */
#ifndef KURIR_SETUP_H
#define KURIR_SETUP_H

#include <stddef.h>

#include "conf.h"

int	setup_tree(const struct conf *, int create_accounts, char *err,
	    size_t errlen);
/* <state_dir>/queue/<sub> into out */
int	queue_path(const struct conf *, const char *sub, char *out, size_t);

#endif
