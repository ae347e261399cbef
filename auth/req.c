/*
 * req.c - kurir-auth's requests: password checks (AP_AUTH) and mailbox
 * lookups (AP_RCPT).  See authproto.h for the protocol.
 *
 * Runs as the auth user.  Input: one length-checked frame from a client
 * link; output: its answer on the same link, with the same id.
 *
 * AP_AUTH "user\0password\0client-ip": exactly three fields, user
 * 1..AUTH_USER_MAX bytes, password 1..AUTH_PASS_MAX, client-ip 0..
 * AUTH_IP_MAX printable bytes; anything else gets AP_FAIL "malformed" at
 * once.  The password is checked in place in the input buffer and wiped
 * there right after.  A success is answered at once; a failure (unknown
 * user or wrong password alike: same answer, same crypt(3) cost) only
 * after the delay delay.c computes for its client, on a libevent timer
 * so that nobody else waits.
 *
 * AP_LOGIN is AP_AUTH for kurir-pop3d's link alone: on success kurird
 * is asked first (AP_CTL_SPAWN, a small blocking write on the control
 * channel) to start the session process for the user, so the process
 * exists only for a password checked here.  If kurird cannot be told,
 * the answer is AP_FAIL "temporary".
 *
 * AP_RCPT "local-part": answered at once.  Until both tables have loaded
 * once, a name found in neither gets AP_FAIL "tables not loaded" (a
 * temporary answer) rather than AP_NOUSER, so that a bad table at start
 * never makes kurir-smtpd refuse mail for good.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "auth.h"
#include "authproto.h"
#include "frame.h"
#include "log.h"
#include "resolve.h"

static void
req_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct alink *l = p->link;

	TAILQ_REMOVE(&l->pending, p, entry);
	l->npending--;
	link_reply(l, AP_FAIL, p->id, "authentication failed");
	event_free(p->ev);
	free(p);
	link_update(l);
}

/* Answer AP_FAIL after ms milliseconds. */
static void
req_delay(struct alink *l, uint32_t id, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->ev = evtimer_new(A.base, req_delay_cb, p)) == NULL ||
	    evtimer_add(p->ev, &tv) == -1) {
		/* never answer a failure early: the client times out instead */
		log_warn("client link %u: cannot delay an answer", l->serial);
		if (p != NULL && p->ev != NULL)
			event_free(p->ev);
		free(p);
		return;
	}
	p->link = l;
	p->id = id;
	TAILQ_INSERT_TAIL(&l->pending, p, entry);
	l->npending++;
}

/* The link is going away: its delayed answers have nowhere to go. */
void
req_cancel(struct alink *l)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&l->pending)) != NULL) {
		TAILQ_REMOVE(&l->pending, p, entry);
		event_free(p->ev);
		free(p);
	}
	l->npending = 0;
}

/* AP_LOGIN succeeded: have kurird start the session.  0 or -1. */
static int
req_spawn(uint32_t id, const char *user, const char *ip)
{
	char msg[AUTH_USER_MAX + 1 + AUTH_IP_MAX + 1];
	size_t ul = strlen(user), il = strlen(ip);

	memcpy(msg, user, ul + 1);
	memcpy(msg + ul + 1, ip, il);
	if (frame_write(A.ctl_fd, AP_CTL_SPAWN, id, msg, ul + 1 + il) == -1) {
		log_warn("cannot ask kurird for a POP3 session of user=%s",
		    user);
		return -1;
	}
	return 0;
}

static void
req_auth(struct alink *l, const struct frame *f)
{
	const char *user, *pass, *ip, *end = f->data + f->len, *z;
	char luser[AUTH_USER_MAX + 1], lip[AUTH_IP_MAX + 1];
	size_t ul, pl, il, i;
	int rc;

	if (f->len > AUTH_REQ_MAX)
		goto malformed;
	user = f->data;
	if ((z = memchr(user, '\0', (size_t)(end - user))) == NULL)
		goto malformed;
	ul = (size_t)(z - user);
	pass = z + 1;
	if ((z = memchr(pass, '\0', (size_t)(end - pass))) == NULL)
		goto malformed;
	pl = (size_t)(z - pass);
	ip = z + 1;
	il = (size_t)(end - ip);
	if (ul == 0 || ul > AUTH_USER_MAX || pl == 0 || pl > AUTH_PASS_MAX ||
	    il > AUTH_IP_MAX || memchr(ip, '\0', il) != NULL)
		goto malformed;
	for (i = 0; i < il; i++)
		if (ip[i] <= ' ' || ip[i] >= 0x7f)
			goto malformed;
	memcpy(lip, ip, il);
	lip[il] = '\0';
	for (i = 0; i < ul; i++)
		luser[i] = (char)tolower((unsigned char)user[i]);
	luser[ul] = '\0';

	/* pass is NUL-terminated in the buffer; l->in.data is its frame */
	rc = users_check_password(A.users, luser, pass);
	explicit_bzero(l->in.data + FRAME_HDR + ul + 1, pl);
	if (rc == 1) {
		log_info("auth ok user=%s ip=%s%s", luser, lip,
		    f->type == AP_LOGIN ? " (pop3)" : "");
		if (f->type == AP_LOGIN && req_spawn(f->id, luser, lip) == -1)
			link_reply(l, AP_FAIL, f->id, "temporary");
		else
			link_reply(l, AP_OK, f->id, luser);
		return;
	}
	if (rc == -1)
		log_warnx("password check for user=%s failed (bad hash in the "
		    "users table, or out of memory)", luser);
	log_info("auth failed user=%s ip=%s", luser, lip);
	req_delay(l, f->id, delay_fail(&A.delays, lip, delay_now_ms()));
	return;
malformed:
	log_warnx("client link %u: malformed auth request", l->serial);
	link_reply(l, AP_FAIL, f->id, "malformed");
}

/* -1: bad request, close the link */
static int
req_rcpt(struct alink *l, const struct frame *f)
{
	char local[ADDR_LOCAL_MAX + 1];
	size_t i, n;

	if (f->len == 0 || f->len > ADDR_LOCAL_MAX ||
	    memchr(f->data, '\0', f->len) != NULL)
		return -1;
	for (i = 0; i < f->len; i++)
		local[i] = (char)tolower((unsigned char)f->data[i]);
	local[f->len] = '\0';
	if (users_lookup(A.users, local) != NULL)
		link_reply(l, AP_OK, f->id, "user");
	else if (aliases_lookup(A.aliases, local, &n) != NULL)
		link_reply(l, AP_OK, f->id, "alias");
	else if (strcmp(local, "postmaster") == 0)
		link_reply(l, AP_OK, f->id, "postmaster");
	else if (!A.users_loaded || !A.aliases_loaded)
		link_reply(l, AP_FAIL, f->id, "tables not loaded");
	else
		link_reply(l, AP_NOUSER, f->id, "");
	return 0;
}

/* AP_RESOLVE: the final targets of a local part.  -1: bad request. */
static int
req_resolve(struct alink *l, const struct frame *f)
{
	char local[ADDR_LOCAL_MAX + 1];
	const char *why = NULL;
	struct buf out;

	if (f->len == 0 || f->len > ADDR_LOCAL_MAX ||
	    memchr(f->data, '\0', f->len) != NULL)
		return -1;
	memcpy(local, f->data, f->len);
	local[f->len] = '\0';
	if (!A.users_loaded || !A.aliases_loaded) {
		link_reply(l, AP_FAIL, f->id, "4.3.0 tables not loaded");
		return 0;
	}
	/* the answer fits one frame: RESOLVE_TARGETS_MAX short lines */
	buf_init(&out, FRAME_MAX);
	switch (resolve_local(A.users, A.aliases, A.conf, local, &out, &why)) {
	case RESOLVE_OK:
		link_reply(l, AP_OK, f->id, buf_cstr(&out));
		break;
	case RESOLVE_NOUSER:
		link_reply(l, AP_NOUSER, f->id, "");
		break;
	default:
		log_info("resolve %s: %s", local, why);
		link_reply(l, AP_FAIL, f->id, why);
		break;
	}
	buf_free(&out);
	return 0;
}

/* One frame from a client.  -1: protocol violation, close the link. */
int
req_frame(struct alink *l, const struct frame *f)
{
	switch (f->type) {
	case AP_AUTH:
		req_auth(l, f);
		return 0;
	case AP_LOGIN:
		if (!l->pop3)
			return -1;
		req_auth(l, f);
		return 0;
	case AP_RCPT:
		return req_rcpt(l, f);
	case AP_RESOLVE:
		return req_resolve(l, f);
	default:
		return -1;
	}
}
