/*
 * fuzz_conf.c - libFuzzer target for common/conf.c (the config parser).
 *
 * Feeds the input, NUL bytes and all, to conf_load_mem, and a NUL-ended
 * copy to the duration, size and bool parsers.  Beyond memory errors
 * (ASan, UBSan) it aborts when an invariant breaks: an error message that
 * is not "fuzz:..." printable ASCII, a failed load that leaves anything
 * behind, a loaded config with a relative path, an upper-case local
 * domain, retry_min > retry_max or half a TLS pair, or a printed config
 * that does not load again to the same text (a line made too long by
 * canonical IPv6 text excepted, as conf.h documents).  Seeds:
 * tests/fuzz/corpus/conf/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_err(const char *err)
{
	size_t i;

	if (strncmp(err, "fuzz:", 5) != 0)
		abort();
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			abort();
}

static void
check_path(const char *p, int optional)
{
	if (p == NULL ? !optional : p[0] != '/')
		abort();
}

static char *
print(const struct conf *c, size_t *len)
{
	char *text = NULL;
	FILE *fp;

	if ((fp = open_memstream(&text, len)) == NULL)
		abort();
	if (conf_print(c, fp) == -1)
		abort();
	if (fclose(fp) != 0)
		abort();
	return text;
}

static void
check_conf(const struct conf *c)
{
	struct conf c2;
	char err[1024], *t1, *t2;
	size_t i, j, n1, n2;

	check_path(c->state_dir, 0);
	check_path(c->mail_dir, 0);
	check_path(c->users_file, 0);
	check_path(c->aliases_file, 0);
	check_path(c->routes_file, 0);
	check_path(c->tls_cert_file, 1);
	check_path(c->tls_key_file, 1);
	if (c->hostname == NULL || c->retry_min > c->retry_max ||
	    (c->tls_cert_file == NULL) != (c->tls_key_file == NULL) ||
	    (c->n_relay_clients > 0) != (c->relay_clients != NULL) ||
	    c->message_size_limit == 0 || c->smtp_max_recipients == 0)
		abort();
	for (i = 0; i < c->local_domains.n; i++) {
		for (j = 0; c->local_domains.v[i][j] != '\0'; j++)
			if (c->local_domains.v[i][j] >= 'A' &&
			    c->local_domains.v[i][j] <= 'Z')
				abort();
		if (!conf_is_local_domain(c, c->local_domains.v[i]))
			abort();
	}

	/* the printed form loads again, and prints the same */
	t1 = print(c, &n1);
	if (conf_load_mem(&c2, "fuzz", "/fuzz", t1, n1, err,
	    sizeof(err)) == -1) {
		/* canonical IPv6 text may be longer than what was written
		 * (conf.h says so); anything else is a bug */
		if (strstr(err, "line longer than") != NULL) {
			free(t1);
			return;
		}
		fprintf(stderr, "reload failed: %s\n%s", err, t1);
		abort();
	}
	t2 = print(&c2, &n2);
	if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
		fprintf(stderr, "print differs:\n%s\n----\n%s", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	conf_free(&c2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char err[1024], *s;
	long long secs;
	uint64_t bytes;
	int b;

	/* the value parsers on the raw text */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)conf_parse_duration(s, &secs);
	(void)conf_parse_size(s, &bytes);
	(void)conf_parse_bool(s, &b);
	free(s);

	memset(err, 0, sizeof(err));
	if (conf_load_mem(&c, "fuzz", "/fuzz", (const char *)data, size, err,
	    sizeof(err)) == -1) {
		check_err(err);
		if (c.hostname != NULL || c.path != NULL ||
		    c.local_domains.v != NULL || c.relay_clients != NULL)
			abort();
		return 0;
	}
	check_conf(&c);
	conf_free(&c);
	conf_free(&c);
	return 0;
}
