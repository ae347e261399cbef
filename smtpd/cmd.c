/*
 * cmd.c - kurir-smtpd's SMTP commands and their replies.
 *
 * Runs as the smtpd user, chrooted and sandboxed.  Each command line has
 * been length-checked and freed of NUL and bare CR by session.c and is
 * parsed by smtp_parse(); this file applies the policy (RFC 5321 order of
 * commands, relay rules, AUTH rules) and asks kurir-auth about local
 * mailboxes and passwords.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authproto.h"
#include "base64.h"
#include "log.h"
#include "sasl.h"
#include "smtp_parse.h"
#include "smtpd.h"

void
cmd_greet(struct session *s)
{
	s->state = S_CMD;
	session_reply(s, "220 %s ESMTP kurir", S.conf.hostname);
	session_flush(s);
	/* from here the client has smtp_command_timeout for a command */
	clock_next(s);
}

static int
auth_allowed(const struct session *s)
{
	return s->tls != NULL || s->loopback || S.conf.plaintext_auth;
}

static void
cmd_ehlo(struct session *s, const struct smtp_cmd *c)
{
	strlcpy(s->helo, c->helo, sizeof(s->helo));
	s->esmtp = c->verb == SMTP_EHLO;
	session_reset_txn(s);
	if (!s->esmtp) {
		session_reply(s, "250 %s", S.conf.hostname);
		return;
	}
	session_reply(s, "250-%s", S.conf.hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu",
	    (unsigned long long)S.conf.message_size_limit);
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250-CHUNKING");
	if (S.tls_server != NULL && s->tls == NULL)
		session_reply(s, "250-STARTTLS");
	if (auth_allowed(s) && s->auth_user[0] == '\0')
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	if (s->helo[0] == '\0') {
		session_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->has_mail) {
		session_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->kind == LISTEN_SUBMISSION && s->auth_user[0] == '\0') {
		session_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if ((c->smtputf8 || c->body != SMTP_BODY_UNSET) && !s->esmtp) {
		session_error(s, "503 5.5.1 Error: send EHLO for extensions");
		return;
	}
	if (c->has_size && c->size > S.conf.message_size_limit) {
		session_error(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (c->addr.null)
		s->sender[0] = '\0';
	else if (addr_format(&c->addr, s->sender, sizeof(s->sender)) == -1) {
		session_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	s->has_mail = 1;
	s->smtputf8 = c->smtputf8;
	s->body8 = c->body == SMTP_BODY_8BITMIME;
	s->declared_size = c->has_size ? c->size : 0;
	s->n_mail++;
	session_reply(s, "250 2.1.0 Ok");
}

static void
rcpt_accept(struct session *s, const char *rcpt)
{
	char **nr, *copy;

	if ((copy = strdup(rcpt)) == NULL ||
	    (nr = reallocarray(s->rcpts, s->nrcpts + 1, sizeof(*nr))) == NULL) {
		free(copy);
		session_reply(s, "451 4.3.0 Error: out of memory");
		return;
	}
	s->rcpts = nr;
	s->rcpts[s->nrcpts++] = copy;
	s->n_rcpt++;
	session_reply(s, "250 2.1.5 Ok");
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct addr a = c->addr;
	char text[ADDR_TEXT_MAX + 2];
	int local;

	if (!s->has_mail) {
		session_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	/* the envelope went to the queue with the first chunk */
	if (s->bdat_used) {
		session_error(s, "503 5.5.1 Error: RCPT not allowed after BDAT");
		return;
	}
	if (s->nrcpts >= S.conf.smtp_max_recipients) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	/* <postmaster> without a domain is ours, always (RFC 5321 4.5.1) */
	if (a.domain[0] == '\0') {
		strlcpy(a.domain, S.conf.local_domains.n > 0 ?
		    S.conf.local_domains.v[0] : S.conf.hostname, sizeof(a.domain));
		if (addr_format(&a, text, sizeof(text)) == -1)
			session_error(s, "501 5.1.3 Bad recipient address syntax");
		else
			rcpt_accept(s, text);
		return;
	}
	local = conf_is_local_domain(&S.conf, a.domain);
	/* user%host@us: only when enabled, and then relay rules apply */
	if (local && S.conf.percent_hack && strchr(a.local, '%') != NULL &&
	    addr_percent_hack(&a) == 1)
		local = conf_is_local_domain(&S.conf, a.domain);
	if (addr_format(&a, text, sizeof(text)) == -1) {
		session_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (!local) {
		if (s->relay_client || s->auth_user[0] != '\0')
			rcpt_accept(s, text);
		else {
			log_info("[%s] relay denied: from=<%s> to=<%s>", s->ip,
			    s->sender, text);
			session_error(s, "554 5.7.1 <%s>: Relay access denied",
			    text);
		}
		return;
	}
	if (strcasecmp(a.local, "postmaster") == 0) {
		rcpt_accept(s, text);
		return;
	}
	/* does the mailbox exist?  Only kurir-auth can say */
	strlcpy(s->pending_rcpt, text, sizeof(s->pending_rcpt));
	if (peer_send(&S.auth, AP_RCPT, s->id, a.local, strlen(a.local)) == -1) {
		session_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
		    text);
		return;
	}
	session_await(s, AWAIT_RCPT);
}

/*
 * A refused BDAT still has its octets on the way (RFC 3030 2): they are
 * read and thrown away, never taken as commands - else a chunk could
 * smuggle a whole transaction past us.
 */
static void
bdat_skip(struct session *s, const struct smtp_cmd *c)
{
	if (c->verb != SMTP_BDAT || c->chunk == 0)
		return;
	/* more than any message may be: not worth the time to read */
	if (c->chunk > S.conf.message_size_limit) {
		if (s->state != S_CLOSING)
			session_reply(s, "421 4.7.0 %s Error: refused BDAT "
			    "chunk larger than the message size limit, closing",
			    S.conf.hostname);
		s->state = S_CLOSING;
		return;
	}
	s->skip_left = c->chunk;
	s->state = S_SKIP;
}

static void
cmd_data(struct session *s, const struct smtp_cmd *c)
{
	if (!s->has_mail || s->nrcpts == 0) {
		session_error(s, "503 5.5.1 Error: need %s command",
		    s->has_mail ? "RCPT" : "MAIL");
		bdat_skip(s, c);
		return;
	}
	if (c->verb == SMTP_DATA && s->bdat_used) {
		session_error(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	/* the first DATA or BDAT opens the queue transaction; a later BDAT
	 * never reopens one that an earlier chunk's error has closed */
	if ((c->verb == SMTP_DATA || !s->bdat_used) && data_begin(s) == -1) {
		session_reply(s, "451 4.3.0 Error: queue unavailable, try later");
		bdat_skip(s, c);
		return;
	}
	if (c->verb == SMTP_DATA) {
		s->n_data++;
		s->state = S_DATA;
		session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
		return;
	}
	if (!s->bdat_used)
		s->n_data++;
	s->bdat_used = 1;
	s->bdat_left = s->bdat_size = c->chunk;
	s->bdat_last = c->last;
	s->state = S_BDAT;
	/* an empty chunk: nothing to read (RFC 3030 allows it, LAST or not) */
	if (c->chunk == 0) {
		if (c->last)
			data_end(s);
		else {
			s->state = S_CMD;
			session_reply(s, "250 2.0.0 0 octets received");
		}
	}
}

/* Hand a user name and password to kurir-auth; wipe our copy. */
static void
auth_submit(struct session *s, const char *user, char *pass)
{
	char req[AUTH_USER_MAX + AUTH_PASS_MAX + 80];
	size_t ul = strlen(user), pl = strlen(pass), il = strlen(s->ip);
	int r;

	if (ul > AUTH_USER_MAX || pl > AUTH_PASS_MAX || ul == 0 || pl == 0) {
		explicit_bzero(pass, pl);
		s->state = S_CMD;
		session_error(s, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	memcpy(req, user, ul + 1);
	memcpy(req + ul + 1, pass, pl + 1);
	memcpy(req + ul + pl + 2, s->ip, il);
	r = peer_send(&S.auth, AP_AUTH, s->id, req, ul + pl + 2 + il);
	explicit_bzero(req, sizeof(req));
	explicit_bzero(pass, pl);
	if (r == -1) {
		s->state = S_CMD;
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	strlcpy(s->auth_login_user, user, sizeof(s->auth_login_user));
	s->state = S_AUTH;
	s->auth_step = 3;	/* answer pending */
	session_await(s, AWAIT_AUTH);
}

/* a user name goes into log lines: no control characters */
static int
printable(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

/* PLAIN message or LOGIN step, base64 already checked by the caller */
static void
auth_step(struct session *s, const unsigned char *msg, size_t len)
{
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	const char *why;

	if (s->auth_step == 0) {		/* PLAIN */
		if (sasl_plain_parse(msg, len, user, sizeof(user), pass,
		    sizeof(pass), &why) == -1) {
			s->state = S_CMD;
			session_error(s, "501 5.5.2 Bad AUTH PLAIN message: %s", why);
			return;
		}
		auth_submit(s, user, pass);
		explicit_bzero(pass, sizeof(pass));
		return;
	}
	if (len == 0 || memchr(msg, '\0', len) != NULL ||
	    len > (s->auth_step == 1 ? AUTH_USER_MAX : AUTH_PASS_MAX) ||
	    (s->auth_step == 1 && !printable(msg, len))) {
		s->state = S_CMD;
		session_error(s, "501 5.5.2 Bad AUTH LOGIN response");
		return;
	}
	if (s->auth_step == 1) {
		memcpy(s->auth_login_user, msg, len);
		s->auth_login_user[len] = '\0';
		s->auth_step = 2;
		s->state = S_AUTH;
		session_reply(s, "334 UGFzc3dvcmQ6");
		return;
	}
	memcpy(pass, msg, len);
	pass[len] = '\0';
	strlcpy(user, s->auth_login_user, sizeof(user));
	auth_submit(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
}

static void
auth_decode_step(struct session *s, const char *text, size_t len)
{
	unsigned char msg[2048];
	size_t mlen = 0;

	if (len == 1 && text[0] == '=')
		len = 0;
	else if (base64_decode(text, len, msg, sizeof(msg), &mlen) == -1) {
		s->state = S_CMD;
		session_error(s, "501 5.5.2 Cannot decode AUTH response");
		return;
	}
	auth_step(s, msg, mlen);
	explicit_bzero(msg, sizeof(msg));
}

static void
cmd_auth(struct session *s, const struct smtp_cmd *c)
{
	if (!auth_allowed(s)) {
		session_error(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (s->auth_user[0] != '\0') {
		session_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->has_mail) {
		session_error(s, "503 5.5.1 Error: AUTH not permitted during a "
		    "mail transaction");
		return;
	}
	if (strcmp(c->mech, "PLAIN") == 0)
		s->auth_step = 0;
	else if (strcmp(c->mech, "LOGIN") == 0)
		s->auth_step = 1;
	else {
		session_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (c->has_initial) {
		auth_decode_step(s, c->initial, c->initial_len);
		return;
	}
	s->state = S_AUTH;
	session_reply(s, s->auth_step == 0 ? "334 " : "334 VXNlcm5hbWU6");
}

/* A line while an AUTH exchange waits for the client's response. */
void
cmd_auth_line(struct session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		s->state = S_CMD;
		session_error(s, "501 5.7.0 Authentication cancelled");
		return;
	}
	auth_decode_step(s, line, len);
}

void
cmd_line(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd c;
	const char *reply;

	if (smtp_parse(line, len, s->smtputf8 ? SMTP_PARSE_UTF8 : 0, &c,
	    &reply) == -1) {
		session_error(s, "%s", reply);
		/* a BDAT whose size we cannot read: where its octets end is
		 * unknowable, so nothing after it can be trusted as a command */
		if (c.verb == SMTP_BDAT && s->state != S_CLOSING) {
			session_reply(s, "421 4.5.0 %s Error: cannot find the end "
			    "of the BDAT chunk, closing", S.conf.hostname);
			s->state = S_CLOSING;
		}
		return;
	}
	switch (c.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		cmd_ehlo(s, &c);
		break;
	case SMTP_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_DATA:
	case SMTP_BDAT:
		cmd_data(s, &c);
		break;
	case SMTP_RSET:
		session_reset_txn(s);
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_NOOP:
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_QUIT:
		s->n_quit++;
		session_reply(s, "221 2.0.0 Bye");
		s->state = S_CLOSING;
		break;
	case SMTP_HELP:
		session_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
		    "BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH");
		break;
	case SMTP_VRFY:
		session_reply(s, "252 2.0.0 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		break;
	case SMTP_EXPN:
		session_error(s, "502 5.5.1 Error: EXPN not available");
		break;
	case SMTP_STARTTLS:
		if (S.tls_server == NULL)
			session_error(s, "502 5.5.1 Error: STARTTLS not available");
		else if (s->tls != NULL)
			session_error(s, "503 5.5.1 Error: TLS already active");
		else {
			session_reply(s, "220 2.0.0 Ready to start TLS");
			session_start_tls(s);
		}
		break;
	case SMTP_AUTH:
		cmd_auth(s, &c);
		break;
	default:
		session_error(s, "500 5.5.2 Error: command not recognized");
		break;
	}
}

/* kurir-auth answered (type 0: the link went down). */
void
peer_auth_reply(uint16_t type, uint32_t id, const char *data, size_t len)
{
	struct session *s = session_find(id);

	if (s == NULL ||
	    (s->awaiting != AWAIT_RCPT && s->awaiting != AWAIT_AUTH))
		return;
	if (s->awaiting == AWAIT_AUTH) {
		s->state = S_CMD;
		if (type == AP_OK && len > 0 && len < sizeof(s->auth_user)) {
			memcpy(s->auth_user, data, len);
			s->auth_user[len] = '\0';
			log_info("[%s] authenticated as %s", s->ip, s->auth_user);
			session_reply(s, "235 2.7.0 Authentication successful");
		} else if (type == AP_FAIL && ((len >= 2 &&
		    memcmp(data, "4.", 2) == 0) || (len == 9 &&
		    memcmp(data, "temporary", 9) == 0))) {
			/* refused without a check (authproto.h): busy, or too
			 * many failures from this network */
			log_info("[%s] authentication refused for %s: %.*s",
			    s->ip, s->auth_login_user,
			    (int)(len > 64 ? 64 : len), data);
			session_reply(s, "454 4.7.0 Temporary authentication "
			    "failure");
		} else if (type == AP_FAIL) {
			log_info("[%s] authentication failed for %s", s->ip,
			    s->auth_login_user);
			session_error(s, "535 5.7.8 Authentication credentials "
			    "invalid");
		} else
			session_reply(s, "454 4.7.0 Temporary authentication "
			    "failure");
	} else if (type == AP_OK)
		rcpt_accept(s, s->pending_rcpt);
	else if (type == AP_NOUSER)
		session_error(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", s->pending_rcpt);
	else
		session_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
		    s->pending_rcpt);
	session_resume(s);
}
