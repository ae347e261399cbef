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
 * once.  Then, in this order, without crypt(3):
 *   - a client network that has reached auth_fail_limit (delay.c) gets
 *     AP_FAIL "4.7.0 too many failures" at once;
 *   - a link over auth_link_rate checks a second (delay.c's rate_take;
 *     it trusts nothing in the request) gets AP_FAIL "4.3.2 busy";
 *   - so does any check when AUTH_QUEUE_MAX checks already wait.
 * Otherwise the user's hash (or the dummy for an unknown user) and the
 * password are copied into a job for a crypt worker (pool.c) and wiped
 * from the input buffer; the event loop goes on.  When the worker
 * answers (req_done), a success is answered at once; a failure (unknown
 * user or wrong password alike: same answer, same crypt(3) cost) only
 * after the delay delay.c computes for its client, on a libevent timer
 * so that nobody else waits.  Refusals are logged at most once a second
 * per link, with a count, so a flood cannot flood the log.
 *
 * AP_CANCEL (empty payload): the session of that id closed.  A check of
 * it still queued is dropped (pool.c logs it), one running is answered
 * to nobody, and a failure answer still being delayed is dropped.  No
 * answer.
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

/* The link is going away: its delayed answers and its checks have
 * nowhere to go. */
void
req_cancel(struct alink *l)
{
	struct pending *p;

	pool_link_gone(l);
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

/* Refused without a check: answer, and log at most once a second. */
static void
req_refuse(struct alink *l, uint32_t id, const char *user, const char *ip,
    const char *why, long long now)
{
	l->refused++;
	if (now - l->refused_at >= 1000) {
		log_info("auth refused user=%s ip=%s: %s (link %u, %u refused "
		    "in the last second)", user, ip, why, l->serial,
		    l->refused);
		l->refused_at = now;
		l->refused = 0;
	}
	link_reply(l, AP_FAIL, id, why);
}

/* The worker's verdict on j (pool.c): 1, 0, -1 (error), -2 (no worker). */
void
req_done(struct job *j, int rc)
{
	struct alink *l = j->link;

	if (l == NULL || j->cancelled) {
		A.n_discarded++;
		log_info("auth check of a closed session discarded (user=%s "
		    "ip=%s)", j->user, j->ip);
		/* a guess is a guess, whether or not its asker stayed */
		if (rc == 0)
			(void)delay_fail(&A.delays, j->ip, delay_now_ms());
	} else if (rc == 1) {
		log_info("auth ok user=%s ip=%s%s", j->user, j->ip,
		    j->type == AP_LOGIN ? " (pop3)" : "");
		if (j->type == AP_LOGIN && req_spawn(j->id, j->user,
		    j->ip) == -1)
			link_reply(l, AP_FAIL, j->id, "temporary");
		else
			link_reply(l, AP_OK, j->id, j->user);
	} else if (rc == -2)
		link_reply(l, AP_FAIL, j->id, "temporary");
	else {
		if (rc == -1)
			log_warnx("password check for user=%s failed (bad hash "
			    "in the users table, or out of memory)", j->user);
		log_info("auth failed user=%s ip=%s", j->user, j->ip);
		req_delay(l, j->id, delay_fail(&A.delays, j->ip,
		    delay_now_ms()));
	}
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static void
req_auth(struct alink *l, const struct frame *f)
{
	const char *user, *pass, *ip, *end = f->data + f->len, *z, *setting;
	char luser[AUTH_USER_MAX + 1], lip[AUTH_IP_MAX + 1];
	char *wipe = l->in.data + FRAME_HDR;	/* pass, in the buffer */
	struct job *j = NULL;
	size_t ul, pl, il, i;
	long long now;
	int known;

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
	wipe += ul + 1;

	now = delay_now_ms();
	if (delay_blocked(&A.delays, lip, now)) {
		explicit_bzero(wipe, pl);
		req_refuse(l, f->id, luser, lip, "4.7.0 too many failures",
		    now);
		return;
	}
	if (A.njobs >= A.queue_max ||
	    !rate_take(&l->rate_tat, now, A.link_rate)) {
		explicit_bzero(wipe, pl);
		req_refuse(l, f->id, luser, lip, "4.3.2 busy", now);
		return;
	}
	setting = users_setting(A.users, luser, &known);
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    strlcpy(j->setting, setting, sizeof(j->setting)) >=
	    sizeof(j->setting)) {
		/* the table bounds hashes to USERS_HASH_MAX: out of memory */
		log_warn("auth check for user=%s", luser);
		explicit_bzero(wipe, pl);
		free(j);
		link_reply(l, AP_FAIL, f->id, "temporary");
		return;
	}
	j->link = l;
	j->id = f->id;
	j->type = f->type;
	j->known = known;
	memcpy(j->user, luser, ul + 1);
	memcpy(j->ip, lip, il + 1);
	/* pass is NUL-terminated in the buffer; l->in.data is its frame */
	memcpy(j->pass, pass, pl + 1);
	explicit_bzero(wipe, pl);
	if (pool_submit(j) == -1) {	/* cannot happen: checked above */
		explicit_bzero(j, sizeof(*j));
		free(j);
		req_refuse(l, f->id, luser, lip, "4.3.2 busy", now);
	}
	return;
malformed:
	log_warnx("client link %u: malformed auth request", l->serial);
	link_reply(l, AP_FAIL, f->id, "malformed");
}

/* AP_CANCEL: the session of that id is gone.  -1: bad request. */
static int
req_cancel_id(struct alink *l, const struct frame *f)
{
	struct pending *p;

	if (f->len != 0)
		return -1;
	if (pool_cancel(l, f->id) != 0)
		return 0;
	/* already checked and failed: its delayed answer can go too */
	TAILQ_FOREACH(p, &l->pending, entry)
		if (p->id == f->id)
			break;
	if (p != NULL) {
		TAILQ_REMOVE(&l->pending, p, entry);
		l->npending--;
		event_free(p->ev);
		free(p);
		link_update(l);
	}
	return 0;
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
	case AP_CANCEL:
		return req_cancel_id(l, f);
	default:
		return -1;
	}
}
