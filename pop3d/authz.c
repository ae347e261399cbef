/*
 * authz.c - the AUTHORIZATION state in the pre-auth kurir-pop3d:
 * greeting, CAPA, STLS, USER/PASS, AUTH PLAIN, QUIT; and the login's two
 * answers (kurir-auth's verdict, kurird's session socket).
 *
 * Runs as pop3_user, chrooted, sandboxed.  Commands come parsed by
 * cmd.c; a password is copied only into the AP_LOGIN frame and wiped
 * from every buffer of ours once sent.  Plaintext passwords (USER/PASS,
 * PLAIN) are taken only over TLS, from loopback, or with plaintext_auth.
 * APOP is not offered: it needs the plaintext password on the server,
 * and users_file holds crypt(3) hashes only.
 */
#include <string.h>

#include "base64.h"
#include "log.h"
#include "pop3d.h"
#include "sasl.h"

#define PLAIN_MSG_MAX	(1 + SASL_AUTHCID_MAX + 1 + SASL_AUTHCID_MAX + 1 + \
			    SASL_PASSWD_MAX)

void
authz_greet(struct psession *s)
{
	conn_reply(s, "+OK kurir POP3 server ready");
}

static int
plaintext_ok(const struct psession *s)
{
	return s->tls != NULL || s->loopback || P.conf.plaintext_auth;
}

static void
authz_capa(struct psession *s)
{
	conn_reply(s, "+OK Capability list follows");
	conn_reply(s, "TOP");
	conn_reply(s, "UIDL");
	conn_reply(s, "RESP-CODES");
	conn_reply(s, "AUTH-RESP-CODE");
	conn_reply(s, "PIPELINING");
	if (plaintext_ok(s)) {
		conn_reply(s, "USER");
		conn_reply(s, "SASL PLAIN");
	}
	if (P.tls_server != NULL && s->tls == NULL)
		conn_reply(s, "STLS");
	conn_reply(s, "IMPLEMENTATION kurir");
	conn_reply(s, ".");
}

/* Hand user and password to kurir-auth as AP_LOGIN; wipe our copy. */
static void
authz_submit(struct psession *s, const char *user, char *pass)
{
	char req[AUTH_USER_MAX + 1 + AUTH_PASS_MAX + 1 + AUTH_IP_MAX];
	size_t ul = strlen(user), pl = strlen(pass), il = strlen(s->ip);
	int r;

	if (ul == 0 || ul > AUTH_USER_MAX || pl == 0 || pl > AUTH_PASS_MAX ||
	    il > AUTH_IP_MAX) {
		explicit_bzero(pass, pl);
		conn_error(s, "-ERR [AUTH] Authentication failed");
		return;
	}
	memcpy(req, user, ul + 1);
	memcpy(req + ul + 1, pass, pl + 1);
	memcpy(req + ul + pl + 2, s->ip, il);
	explicit_bzero(pass, pl);
	r = alink_send(AP_LOGIN, s->id, req, ul + pl + 2 + il);
	explicit_bzero(req, sizeof(req));
	if (r == -1) {
		conn_reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
		return;
	}
	s->auth_ok = s->spawned = 0;
	s->login[0] = s->spawn_user[0] = '\0';
	s->state = PS_AWAIT;
	conn_arm_timer(s);
}

/* A decoded SASL PLAIN message: check its form, then log in. */
static void
authz_plain(struct psession *s, const char *b64, size_t len)
{
	unsigned char msg[PLAIN_MSG_MAX + 4];
	char user[SASL_AUTHCID_MAX + 1], pass[SASL_PASSWD_MAX + 1];
	const char *why;
	size_t mlen;

	if (base64_decode(b64, len, msg, sizeof(msg), &mlen) == -1 ||
	    sasl_plain_parse(msg, mlen, user, sizeof(user), pass,
	    sizeof(pass), &why) == -1) {
		explicit_bzero(msg, sizeof(msg));
		conn_error(s, "-ERR [AUTH] Malformed SASL PLAIN response");
		return;
	}
	explicit_bzero(msg, sizeof(msg));
	authz_submit(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
}

/* The line after our "+ " to AUTH PLAIN: a response or "*". */
static void
authz_auth_cont(struct psession *s, char *line, size_t len)
{
	s->state = PS_AUTHZ;
	if (len == 1 && line[0] == '*') {
		conn_error(s, "-ERR [AUTH] Authentication cancelled");
		return;
	}
	authz_plain(s, line, len);
}

static void
authz_auth(struct psession *s, const struct pop3_req *r)
{
	if (strcmp(r->arg, "PLAIN") != 0) {
		conn_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (!plaintext_ok(s)) {
		conn_error(s, "-ERR [AUTH] Plaintext authentication "
		    "disallowed without TLS (use STLS)");
		return;
	}
	if (r->arg2 == NULL) {
		conn_reply(s, "+ ");
		s->state = PS_AUTH_CONT;
		return;
	}
	/* "=" is an empty initial response: PLAIN cannot be empty */
	authz_plain(s, r->arg2, strlen(r->arg2));
}

static void
authz_command(struct psession *s, const struct pop3_req *r)
{
	switch (r->cmd) {
	case P3_CAPA:
		authz_capa(s);
		break;
	case P3_QUIT:
		conn_reply(s, "+OK kurir POP3 server signing off");
		s->state = PS_CLOSING;
		break;
	case P3_STLS:
		if (P.tls_server == NULL)
			conn_error(s, "-ERR STLS not available");
		else if (s->tls != NULL)
			conn_error(s, "-ERR Already in TLS");
		else {
			conn_reply(s, "+OK Begin TLS negotiation");
			s->state = PS_TLS;	/* conn_start_tls takes over */
		}
		break;
	case P3_USER:
		if (!plaintext_ok(s)) {
			conn_error(s, "-ERR [AUTH] Plaintext authentication "
			    "disallowed without TLS (use STLS)");
			break;
		}
		strlcpy(s->user, r->arg, sizeof(s->user));
		/* the same answer for every name: no user enumeration */
		conn_reply(s, "+OK send PASS");
		break;
	case P3_PASS:
		if (!plaintext_ok(s))
			conn_error(s, "-ERR [AUTH] Plaintext authentication "
			    "disallowed without TLS (use STLS)");
		else if (s->user[0] == '\0')
			conn_error(s, "-ERR USER first");
		else
			/* arg points into the line buffer: wiped there */
			authz_submit(s, s->user, (char *)(uintptr_t)r->arg);
		break;
	case P3_AUTH:
		authz_auth(s, r);
		break;
	case P3_APOP:
		conn_error(s, "-ERR APOP not supported");
		break;
	default:
		conn_error(s, "-ERR Command not valid in this state");
		break;
	}
}

void
authz_line(struct psession *s, char *line, size_t len)
{
	struct pop3_req r;
	const char *err;

	if (s->state == PS_AUTH_CONT) {
		authz_auth_cont(s, line, len);
		return;
	}
	if (pop3_parse(line, len, &r, &err) == -1) {
		conn_error(s, "-ERR %s", err);
		return;
	}
	if (!pop3_allowed(P3_AUTHORIZATION, r.cmd)) {
		conn_error(s, "-ERR Command not valid in this state");
		return;
	}
	authz_command(s, &r);
}

/* Both answers in: start the session, if they agree. */
static void
authz_try_start(struct psession *s)
{
	if (!s->auth_ok || !s->spawned)
		return;
	if (s->sfd == -1 || strcmp(s->login, s->spawn_user) != 0) {
		if (s->sfd != -1)
			log_warnx("[%s] session socket for user=%s does not "
			    "match the login of user=%s; refused", s->ip,
			    s->spawn_user, s->login);
		conn_reply(s, "-ERR [SYS/TEMP] Cannot start the session, "
		    "try again later");
		proxy_close(s);
		s->state = PS_AUTHZ;
		s->login[0] = '\0';
		conn_resume(s);
		return;
	}
	log_info("[%s] login user=%s%s", s->ip, s->login,
	    s->tls != NULL ? " (TLS)" : "");
	proxy_start(s);
	conn_resume(s);
}

/*
 * kurir-auth's answer to AP_LOGIN: AP_OK "user", AP_FAIL "temporary"
 * (kurird could not be asked), AP_FAIL "4.x.x ..." (refused without a
 * check: busy or rate-limited), AP_FAIL (bad credentials), or type 0 when
 * the link to kurir-auth went down.
 */
void
authz_answer(struct psession *s, uint16_t type, const char *data,
    size_t len)
{
	if (s->state != PS_AWAIT)
		return;
	if (type == AP_OK && len > 0 && len <= AUTH_USER_MAX &&
	    memchr(data, '\0', len) == NULL) {
		memcpy(s->login, data, len);
		s->login[len] = '\0';
		s->auth_ok = 1;
		authz_try_start(s);
		return;
	}
	s->state = PS_AUTHZ;
	s->user[0] = '\0';
	/* a session process already started for a login that did not come
	 * through (the link broke between the two answers) must not keep
	 * the maildrop locked: it sees EOF and exits */
	proxy_close(s);
	s->spawned = 0;
	if (type == AP_FAIL && len == 9 && memcmp(data, "temporary", 9) == 0)
		conn_reply(s, "-ERR [SYS/TEMP] Cannot start the session, try "
		    "again later");
	else if (type == AP_FAIL && len >= 2 && memcmp(data, "4.", 2) == 0) {
		/* refused without a check: busy, or too many failures from
		 * this network (authproto.h); not a verdict on the password */
		log_info("[%s] login refused by kurir-auth: %.*s", s->ip,
		    (int)(len > 64 ? 64 : len), data);
		conn_error(s, "-ERR [SYS/TEMP] Authentication temporarily "
		    "unavailable, try again later");
	}
	else if (type == AP_FAIL || type == AP_NOUSER) {
		log_info("[%s] login failed", s->ip);
		conn_error(s, "-ERR [AUTH] Authentication failed");
	} else
		conn_reply(s, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later");
	conn_resume(s);
}

/* kurird's CTL_SESSION for this session: fd -1 means refused. */
void
authz_spawned(struct psession *s, int fd, const char *user)
{
	s->spawned = 1;
	s->sfd = fd;
	strlcpy(s->spawn_user, user, sizeof(s->spawn_user));
	authz_try_start(s);
}
