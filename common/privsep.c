/*
 * privsep.c - role accounts and privilege dropping (privsep.h).
 */
#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privsep.h"

static const char *role_keys[ROLE_NROLES] = {
	"smtpd_user", "queue_user", "mail_user", "remote_user", "pop3_user",
	"auth_user",
};
static const char *role_defaults[ROLE_NROLES] = {
	"kurir-smtpd", "kurir-queue", "kurir-mail", "kurir-remote", "kurir-pop3",
	"kurir-auth",
};

static const struct conf_user *
role_user(const struct conf *c, enum role r)
{
	switch (r) {
	case ROLE_SMTPD:	return &c->smtpd_user;
	case ROLE_QUEUE:	return &c->queue_user;
	case ROLE_MAIL:		return &c->mail_user;
	case ROLE_REMOTE:	return &c->remote_user;
	case ROLE_POP3:		return &c->pop3_user;
	default:		return &c->auth_user;
	}
}

const char *
priv_role_key(enum role r)
{
	return role_keys[r];
}

const char *
priv_role_spec(const struct conf *c, enum role r)
{
	const struct conf_user *u = role_user(c, r);

	return u->spec ? u->spec : role_defaults[r];
}

int
priv_role_ids(const struct conf *c, enum role r, uid_t *uid, gid_t *gid,
    char *err, size_t errlen)
{
	struct conf_user u;

	u.spec = (char *)(uintptr_t)priv_role_spec(c, r);
	if (conf_user_resolve(&u, uid, gid) != 0) {
		snprintf(err, errlen, "%s: unknown account \"%s\" (kurirctl "
		    "setup creates it)", role_keys[r], u.spec);
		return -1;
	}
	return 0;
}

int
priv_drop(const struct conf *c, enum role r, const char *root_dir,
    char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (priv_role_ids(c, r, &uid, &gid, err, errlen) == -1)
		return -1;
	if (uid == 0) {
		snprintf(err, errlen, "%s must not be root", role_keys[r]);
		return -1;
	}
	if (root_dir != NULL && (chroot(root_dir) == -1 || chdir("/") == -1)) {
		snprintf(err, errlen, "chroot %s: %s", root_dir, strerror(errno));
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s",
		    priv_role_spec(c, r), strerror(errno));
		return -1;
	}
	/* paranoia: root must be gone for good */
	if (setuid(0) != -1 || geteuid() == 0) {
		snprintf(err, errlen, "still able to regain root");
		return -1;
	}
	return 0;
}
