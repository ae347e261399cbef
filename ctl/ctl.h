/*
 * ctl.h - kurirctl's commands (admin tool; runs as the invoking admin).
 */
#ifndef KURIR_CTL_H
#define KURIR_CTL_H

#include "conf.h"

int	ctl_queue_list(const struct conf *, int json);
int	ctl_queue_delete(const struct conf *, const char *id);
#define USERS_FILE_MODE	0600	/* password hashes: root's alone */

int	ctl_user_add(const struct conf *, const char *name);
int	ctl_users_mode_warn(const struct conf *);
int	ctl_flush(const struct conf *);

#endif
