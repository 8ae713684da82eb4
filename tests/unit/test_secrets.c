/*
 * test_secrets.c - encrypted secrets: sealing and opening (round trip, a
 * wrong key, a tampered value, a value moved to another name), the store's
 * table with rotation (a wrong current key changes nothing), the daemon's
 * secrets loaded under a key that does not open them (refused), and a
 * run's use of them: job references resolved into the environment, headers
 * and body, a missing secret named, and the output masked (with the
 * pieces of a value an output's cap split).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/secbox.h"
#include "distcron/secrets.h"
#include "distcron/store.h"
#include "distcron/storesec.h"
#include "cluster/cluster_int.h"

#define KEY_A	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"
#define KEY_B	"ff0102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"
#define KEY_C	"ee0102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
	struct secbox_key a, b;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *why = NULL;

	assert_non_null(f);
	assert_int_equal(secbox_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_secrets.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/distcron.db", f->dir);
	assert_int_equal(store_open(f->path, false, &f->st, &why), 0);
	assert_int_equal(secbox_key_parse(KEY_A, &f->a, &why), 0);
	assert_int_equal(secbox_key_parse(KEY_B "\n", &f->b, &why), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[256];
	static const char *const files[] = { "distcron.db", "distcron.db-wal",
	    "distcron.db-shm", "key" };
	size_t i;

	store_close(f->st);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Seals value under name with k; the caller frees *out. */
static size_t
seal(const struct secbox_key *k, const char *name, const char *value,
    unsigned char **out)
{
	size_t len = 0;

	assert_int_equal(secbox_seal(k, name, value, strlen(value), out,
	    &len), 0);
	return len;
}

/* ---- sealing ---- */

static void
test_round_trip(void **state)
{
	struct fixture *f = *state;
	unsigned char *b1, *b2;
	size_t n1 = seal(&f->a, "db", "hunter22", &b1);
	size_t n2 = seal(&f->a, "db", "hunter22", &b2);
	char *v = NULL;

	assert_null(memmem(b1, n1, "hunter22", 8));	/* not in the clear */
	assert_true(n1 == n2 && memcmp(b1, b2, n1) != 0);	/* nonces */
	assert_int_equal(secbox_open(&f->a, "db", b1, n1, &v), 0);
	assert_string_equal(v, "hunter22");
	secbox_value_free(v);
	free(b1);
	free(b2);
}

static void
test_wrong_key_tamper_swap(void **state)
{
	struct fixture *f = *state;
	unsigned char *b;
	size_t n = seal(&f->a, "db", "hunter22", &b);
	char *v = NULL;

	assert_int_equal(secbox_open(&f->b, "db", b, n, &v), ERR_AUTH);
	assert_null(v);
	b[n - 1] ^= 1;					/* tampered */
	assert_int_equal(secbox_open(&f->a, "db", b, n, &v), ERR_AUTH);
	assert_null(v);
	b[n - 1] ^= 1;
	assert_int_equal(secbox_open(&f->a, "api", b, n, &v), ERR_INVALID);
	assert_null(v);					/* name swapped */
	assert_int_equal(secbox_open(&f->a, "db", b, 10, &v), ERR_PARSE);
	free(b);
}

static void
test_key_parse(void **state)
{
	struct secbox_key k;
	const char *why = NULL;

	(void)state;
	assert_int_equal(secbox_key_parse("abcd", &k, &why), ERR_INVALID);
	assert_non_null(strstr(why, "64 hexadecimal digits"));
	assert_int_equal(secbox_key_parse(KEY_A "00", &k, &why), ERR_INVALID);
	assert_int_equal(secbox_key_parse("zz02030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f", &k, &why), ERR_INVALID);
	assert_int_equal(secbox_key_parse(" " KEY_A " x", &k, &why),
	    ERR_INVALID);
}

/* Writes key A into the fixture's file "key" (its path in path), of
 * mode. */
static void
key_file(struct fixture *f, char *path, size_t len, mode_t mode)
{
	FILE *fp;

	snprintf(path, len, "%s/key", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(KEY_A "\n", fp);
	fclose(fp);
	chmod(path, mode);
}

/* A key file group may read is refused, naming it and its mode. */
static void
test_key_file_mode(void **state)
{
	struct fixture *f = *state;
	struct secbox_key k;
	char path[128], err[512];

	key_file(f, path, sizeof(path), 0640);
	assert_int_equal(secbox_key_load(path, false, &k, err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "mode 0640"));
	chmod(path, 0600);
	assert_int_equal(secbox_key_load(path, false, &k, err, sizeof(err)),
	    0);
	assert_memory_equal(k.k, f->a.k, SECBOX_KEY_LEN);
}

/* ---- the store's table and rotation ---- */

/* name's sealed value in the store, opened with k, or NULL. */
static char *
stored(struct fixture *f, const struct secbox_key *k, const char *name)
{
	struct storesec_row *rows = NULL;
	size_t n = 0, i;
	char *v = NULL;

	assert_int_equal(storesec_list(f->st, &rows, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			(void)secbox_open(k, name, rows[i].sealed, rows[i].len,
			    &v);
	storesec_rows_free(rows, n);
	return v;
}

static void
put(struct fixture *f, const struct secbox_key *k, const char *name,
    const char *value)
{
	unsigned char *b;
	size_t n = seal(k, name, value, &b);

	assert_int_equal(storesec_put(f->st, name, b, n, 1000), 0);
	free(b);
}

static void
test_rotate(void **state)
{
	struct fixture *f = *state;
	size_t count = 9;
	char err[256] = "", *v;

	put(f, &f->a, "db", "hunter22");
	put(f, &f->a, "token", "t0k3n-value");
	/* The wrong current key: refused, naming the secret; nothing
	 * changed. */
	assert_int_equal(storesec_rekey(f->st, &f->b, &f->a, &count, err,
	    sizeof(err)), ERR_AUTH);
	assert_int_equal(count, 0);
	assert_non_null(strstr(err, "secret db: wrong key"));
	assert_non_null(v = stored(f, &f->a, "token"));
	secbox_value_free(v);
	/* The right one: every value under the new key, none under the old. */
	assert_int_equal(storesec_rekey(f->st, &f->a, &f->b, &count, err,
	    sizeof(err)), 0);
	assert_int_equal(count, 2);
	assert_null(stored(f, &f->a, "db"));
	assert_non_null(v = stored(f, &f->b, "db"));
	assert_string_equal(v, "hunter22");
	secbox_value_free(v);
	assert_non_null(v = stored(f, &f->b, "token"));
	assert_string_equal(v, "t0k3n-value");
	secbox_value_free(v);
	assert_int_equal(storesec_delete(f->st, "db"), 0);
	assert_int_equal(storesec_delete(f->st, "db"), ERR_NOTFOUND);
}

/* A row whose value was sealed for another name (copied in the file) is
 * refused at the daemon's start, as is a key that opens nothing. */
static void
test_daemon_key_check(void **state)
{
	struct fixture *f = *state;
	struct secrets *s = NULL;
	unsigned char *b;
	size_t n;
	char err[256] = "";

	put(f, &f->a, "db", "hunter22");
	assert_int_equal(secrets_new(f->st, &f->b, &s, err, sizeof(err)),
	    ERR_AUTH);
	assert_null(s);
	assert_non_null(strstr(err, "secret db: the secrets key does not "
	    "open it"));
	n = seal(&f->a, "db", "hunter22", &b);
	assert_int_equal(storesec_put(f->st, "api", b, n, 1000), 0);
	free(b);
	assert_int_equal(secrets_new(f->st, &f->a, &s, err, sizeof(err)),
	    ERR_AUTH);
	assert_non_null(strstr(err, "secret api:"));
}

/* ---- a previous key, and rotation with it ---- */

/* The previous key's file is checked as the current one's; its variable
 * is named in what is wrong with it. */
static void
test_previous_key_source(void **state)
{
	struct fixture *f = *state;
	struct secbox_key k;
	char path[128], err[512] = "";

	key_file(f, path, sizeof(path), 0644);
	assert_int_equal(secbox_key_get_env(path,
	    "DISTCRON_SECRETS_PREVIOUS_KEY", false, &k, err, sizeof(err)),
	    ERR_CONFIG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "mode 0644"));
	setenv("DISTCRON_SECRETS_PREVIOUS_KEY", "abc", 1);
	assert_int_equal(secbox_key_get_env("", "DISTCRON_SECRETS_PREVIOUS_KEY",
	    false, &k, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "DISTCRON_SECRETS_PREVIOUS_KEY: "));
	unsetenv("DISTCRON_SECRETS_PREVIOUS_KEY");
	assert_int_equal(secbox_key_get_env("", "DISTCRON_SECRETS_PREVIOUS_KEY",
	    false, &k, err, sizeof(err)), 1);
}

/* With current key B and previous key A, values sealed with either are
 * used; new values are sealed with B; rotation seals the A ones with B in
 * the store, after which B alone opens everything. */
static void
test_previous_key_store(void **state)
{
	struct fixture *f = *state;
	struct secrets_rotation res = { 9, 9 };
	struct secrets *s = NULL;
	char err[256] = "", *v = NULL;

	put(f, &f->a, "db", "hunter22");
	put(f, &f->b, "token", "t0k3n-value");
	assert_int_equal(secrets_new(f->st, &f->b, &s, err, sizeof(err)),
	    ERR_AUTH);
	assert_int_equal(secrets_new_keys(f->st, &f->b, &f->a, &s, err,
	    sizeof(err)), 0);
	assert_int_equal(secrets_value(s, "db", &v), 0);
	assert_string_equal(v, "hunter22");
	secbox_value_free(v);
	assert_int_equal(secrets_set(s, "new", "n3w-value", 9, err,
	    sizeof(err)), 0);
	assert_null(stored(f, &f->a, "new"));
	assert_int_equal(secrets_rotate(s, &res, err, sizeof(err)), 0);
	assert_int_equal(res.resealed, 1);
	assert_int_equal(res.current, 2);
	assert_null(stored(f, &f->a, "db"));
	assert_non_null(v = stored(f, &f->b, "db"));
	assert_string_equal(v, "hunter22");
	secbox_value_free(v);
	assert_int_equal(secrets_value(s, "db", &v), 0);	/* in memory */
	secbox_value_free(v);
	assert_int_equal(secrets_rotate(s, &res, err, sizeof(err)), 0);
	assert_int_equal(res.resealed, 0);
	assert_int_equal(res.current, 3);
	secrets_free(s);
	assert_int_equal(secrets_new(f->st, &f->b, &s, err, sizeof(err)), 0);
	secrets_free(s);
}

/* An etcd key as a range returns it: "UPDATED_MS SEALED". */
static void
kv_make(struct etcd_kv *kv, const char *key, const struct secbox_key *k,
    const char *value, int64_t mod)
{
	const char *name = strrchr(key, '/') + 1;
	unsigned char *b;
	size_t n = seal(k, name, value, &b);

	memset(kv, 0, sizeof(*kv));
	kv->key = (char *)key;
	kv->key_len = strlen(key);
	assert_non_null(kv->value = malloc(n + 6));
	memcpy(kv->value, "1234 ", 5);
	memcpy(kv->value + 5, b, n);
	kv->value[n + 5] = '\0';
	kv->value_len = n + 5;
	kv->mod_revision = mod;
	free(b);
}

/* Cluster mode's transaction: only the values the previous key opens are
 * put, each guarded by its mod_revision as read; a value neither key opens
 * makes no transaction, naming it. */
static void
test_rotation_txn(void **state)
{
	struct fixture *f = *state;
	static const char prefix[] = "/distcron/t/secrets/";
	struct secbox_key c;
	struct cl_rotation rot;
	struct etcd_kv kvs[3];
	struct secrets *s = NULL;
	const char *why;
	char err[256] = "", *v = NULL;
	size_t i;

	assert_int_equal(secrets_new_keys(f->st, &f->b, &f->a, &s, err,
	    sizeof(err)), 0);
	kv_make(&kvs[0], "/distcron/t/secrets/db", &f->a, "hunter22", 41);
	kv_make(&kvs[1], "/distcron/t/secrets/token", &f->b, "t0k3n", 42);
	assert_int_equal(cl_secrets_rotation(prefix, s, kvs, 2, &rot, err,
	    sizeof(err)), 0);
	assert_int_equal(rot.n, 1);
	assert_int_equal(rot.current, 1);
	assert_string_equal(rot.cmps[0].key, kvs[0].key);
	assert_int_equal(rot.cmps[0].target, ETCD_CMP_MOD);
	assert_int_equal(rot.cmps[0].result, ETCD_EQUAL);
	assert_int_equal(rot.cmps[0].number, 41);
	assert_int_equal(rot.ops[0].type, ETCD_OP_PUT);
	assert_string_equal(rot.ops[0].key, kvs[0].key);
	assert_memory_equal(rot.ops[0].value, "1234 ", 5);	/* kept */
	assert_int_equal(secbox_open(&f->a, "db", (const unsigned char *)
	    rot.ops[0].value + 5, rot.ops[0].value_len - 5, &v), ERR_AUTH);
	assert_int_equal(secbox_open(&f->b, "db", (const unsigned char *)
	    rot.ops[0].value + 5, rot.ops[0].value_len - 5, &v), 0);
	assert_string_equal(v, "hunter22");
	secbox_value_free(v);
	cl_secrets_rotation_free(&rot);
	assert_int_equal(secbox_key_parse(KEY_C, &c, &why), 0);
	kv_make(&kvs[2], "/distcron/t/secrets/zz", &c, "other", 43);
	assert_int_equal(cl_secrets_rotation(prefix, s, kvs, 3, &rot, err,
	    sizeof(err)), ERR_INVALID);
	assert_int_equal(rot.n, 0);
	assert_non_null(strstr(err, "secret zz: neither the current nor the "
	    "previous key opens it"));
	for (i = 0; i < 3; i++)
		free(kvs[i].value);
	secrets_free(s);
}

/* ---- runs ---- */

static struct job_def *
job(const char *text)
{
	struct job_def *j = NULL;
	char err[256] = "";

	if (defs_job_parse("j", text, strlen(text), NULL, &j, err,
	    sizeof(err), NULL, NULL) != 0)
		fail_msg("%s", err);
	return j;
}

static void
test_apply_and_mask(void **state)
{
	struct fixture *f = *state;
	struct secrets *s = NULL;
	struct secrets_use u;
	const struct job_http *h = NULL;
	struct job_def *j;
	char err[256] = "", *env[3], *v, out[] = "pw=hunter22 tok=t0k3n-value "
	    "hunter22 ab";
	size_t len = strlen(out);

	assert_int_equal(secrets_new(f->st, &f->a, &s, err, sizeof(err)), 0);
	assert_int_equal(secrets_set(s, "db", "hunter22", 8, err,
	    sizeof(err)), 0);
	assert_int_equal(secrets_set(s, "tok", "t0k3n-value", 11, err,
	    sizeof(err)), 0);
	assert_int_equal(secrets_set(s, "short", "ab", 2, err, sizeof(err)),
	    0);
	assert_true(secrets_exists(s, "db") && !secrets_exists(s, "nope"));
	j = job("{\"schedule\": \"@daily\", \"http\": {\"url\": "
	    "\"http://127.0.0.1:9/\", \"headers\": {\"X-Key\": {\"secret\": "
	    "\"tok\"}}, \"body\": {\"secret\": \"db\"}}, \"environment\": "
	    "{\"A\": \"1\", \"PW\": {\"secret\": \"db\"}}}");
	env[0] = j->env[0];
	env[1] = j->env[1];
	env[2] = NULL;
	assert_int_equal(secrets_apply(s, j, env, &h, &u, err, sizeof(err)),
	    0);
	assert_string_equal(env[0], "A=1");
	assert_string_equal(env[1], "PW=hunter22");
	assert_string_equal(h->headers[0], "X-Key: t0k3n-value");
	assert_string_equal(h->body, "hunter22");
	assert_string_equal(j->http->headers[0], "X-Key: ");	/* untouched */
	secrets_use_free(&u);
	secrets_mask(&u, out, &len);
	assert_string_equal(out, "pw=*** tok=*** *** ab");
	assert_int_equal(len, strlen(out));
	secrets_use_values_free(&u);
	/* A value with a NUL byte is refused, the old one kept. */
	assert_int_equal(secrets_set(s, "tok", "a\0b", 3, err, sizeof(err)),
	    ERR_INVALID);
	assert_string_equal(err, "value: contains a NUL byte");
	assert_int_equal(secrets_value(s, "tok", &v), 0);
	assert_string_equal(v, "t0k3n-value");
	secbox_value_free(v);
	/* A value with a line break cannot go into a header. */
	assert_int_equal(secrets_set(s, "tok", "a\r\nX-Evil: 1", 12, err,
	    sizeof(err)), 0);
	assert_int_equal(secrets_apply(s, j, env, &h, &u, err, sizeof(err)),
	    ERR_INVALID);
	assert_string_equal(err, "http.headers.X-Key: secret \"tok\" contains "
	    "a line break (not allowed in a header)");
	secrets_use_free(&u);
	secrets_use_values_free(&u);
	/* Gone since the job was loaded: the run is refused, naming both. */
	assert_int_equal(secrets_delete(s, "tok"), 0);
	assert_int_not_equal(secrets_apply(s, j, env, &h, &u, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "http.headers.X-Key: secret \"tok\" not "
	    "found");
	secrets_use_free(&u);
	secrets_use_values_free(&u);
	defs_job_unref(j);
	secrets_free(s);
}

/* An AMQP job's password by reference: the run gets a copy of the
 * message holding it, the job keeps "". */
static void
test_apply_amqp(void **state)
{
	struct fixture *f = *state;
	struct secrets *s = NULL;
	struct secrets_use u = { 0 };
	const struct job_http *h = NULL;
	struct job_def *j;
	char err[256] = "", *env[1] = { NULL };

	assert_int_equal(secrets_new(f->st, &f->a, &s, err, sizeof(err)), 0);
	assert_int_equal(secrets_set(s, "mq", "mq-pw-1", 7, err, sizeof(err)),
	    0);
	j = job("{\"schedule\": \"@daily\", \"amqp\": {\"url\": "
	    "\"amqp://127.0.0.1:9/\", \"username\": \"pub\", \"password\": "
	    "{\"secret\": \"mq\"}}}");
	assert_ptr_equal(secrets_amqp(&u, j), j->amqp);
	assert_int_equal(secrets_apply(s, j, env, &h, &u, err, sizeof(err)),
	    0);
	assert_string_equal(secrets_amqp(&u, j)->password, "mq-pw-1");
	assert_string_equal(secrets_amqp(&u, j)->username, "pub");
	assert_string_equal(j->amqp->password, "");
	secrets_use_free(&u);
	assert_ptr_equal(secrets_amqp(&u, j), j->amqp);
	secrets_use_values_free(&u);
	assert_int_equal(secrets_delete(s, "mq"), 0);
	assert_int_not_equal(secrets_apply(s, j, env, &h, &u, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "amqp.password: secret \"mq\" not found");
	secrets_use_free(&u);
	secrets_use_values_free(&u);
	defs_job_unref(j);
	secrets_free(s);
}

/* A job naming a secret that does not exist is refused like any bad
 * field: the field and the secret's name. */
static void
test_missing_at_parse(void **state)
{
	struct fixture *f = *state;
	struct secrets *s = NULL;
	struct job_def *j = NULL;
	char err[256] = "";
	const char *text = "{\"schedule\": \"@daily\", \"command\": [\"true\"], "
	    "\"policy\": {\"roles\": [\"w\"]},"
	    " \"environment\": {\"PW\": {\"secret\": \"nope\"}}}";

	assert_int_equal(secrets_new(f->st, &f->a, &s, err, sizeof(err)), 0);
	defs_secrets_hook(secrets_check, s);
	assert_int_equal(defs_job_parse("j", text, strlen(text), NULL, &j,
	    err, sizeof(err), NULL, NULL), ERR_INVALID);
	assert_string_equal(err, "environment.PW: secret \"nope\" not found "
	    "(set it with distcronctl secret set)");
	defs_secrets_hook(secrets_check, NULL);		/* no key */
	assert_int_equal(defs_job_parse("j", text, strlen(text), NULL, &j,
	    err, sizeof(err), NULL, NULL), ERR_INVALID);
	defs_secrets_hook(NULL, NULL);
	assert_string_equal(err, "environment.PW: secret \"nope\" cannot be "
	    "read: no secrets key (secrets_key_file or DISTCRON_SECRETS_KEY)");
	text = "{\"schedule\": \"@daily\", \"command\": [\"true\"], "
	    "\"policy\": {\"roles\": [\"w\"]},"
	    " \"environment\": {\"PW\": {\"secret\": \"a\", \"x\": 1}}}";
	assert_int_equal(defs_job_parse("j", text, strlen(text), NULL, &j,
	    err, sizeof(err), NULL, NULL), ERR_INVALID);
	assert_non_null(strstr(err, "expected a string or {\"secret\": NAME}"));
	secrets_free(s);
}

/* Masks text (a copy) as the output of a running command. */
static void
check_live(const struct secrets_use *u, const char *text, const char *want)
{
	char buf[128];
	size_t len = strlen(text);

	snprintf(buf, sizeof(buf), "%s", text);
	secrets_mask_live(u, buf, &len);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
}

/* The output of a command still running: values masked, and the start of
 * a value at the end held back until the rest comes. */
static void
test_mask_live(void **state)
{
	char *values[] = { "hunter22", "abab-abc", "xy" };
	struct secrets_use u = { .values = values, .nvalues = 3 };

	(void)state;
	check_live(&u, "pw=hunter22 ok\n", "pw=*** ok\n");
	check_live(&u, "pw=hunter22 then pw=hunt", "pw=*** then pw=");
	check_live(&u, "pw=h", "pw=");
	check_live(&u, "pw=hunter2", "pw=");
	check_live(&u, "x abab-ab", "x ");		/* overlapping starts */
	check_live(&u, "x abab", "x ");
	check_live(&u, "x ababab", "x ab");
	check_live(&u, "hunter", "");
	check_live(&u, "hunter2x", "hunter2x");
	check_live(&u, "pw=hunter22", "pw=***");
	check_live(&u, "short x", "short x");		/* "xy": too short */
	check_live(&u, "", "");
}

#define CUT	"\n[... distcron: 9 bytes omitted ...]\n"

/* Masks text (a copy) as an output cut at its cap. */
static void
check_cut(const struct secrets_use *u, const char *text, const char *want)
{
	char *buf = strdup(text);
	size_t len = strlen(text);

	assert_non_null(buf);
	secrets_mask_cut(u, &buf, &len);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
	free(buf);
}

/* An output cut at its cap: the pieces of a value the cut split, on
 * either side of its marker, down to one byte. */
static void
test_mask_cut(void **state)
{
	char *values[] = { "hunter22", "abab-abc", "xy" };
	struct secrets_use u = { .values = values, .nvalues = 3 };

	(void)state;
	check_cut(&u, "pw=hun" CUT "ter22 ok", "pw=***" CUT "*** ok");
	check_cut(&u, "pw=hunter2" CUT "2", "pw=***" CUT "***");
	check_cut(&u, "pw=h" CUT "2 ok", "pw=***" CUT "*** ok");
	check_cut(&u, "x abab-ab" CUT "abc", "x ***" CUT "***");
	check_cut(&u, "a hun" CUT "ter22 b hu" CUT "22", "a ***" CUT
	    "*** b ***" CUT "***");
	check_cut(&u, "pw=hunte\n[distcron: output cut: daemon output memory "
	    "budget reached, 5 bytes dropped]\n", "pw=***\n[distcron: output "
	    "cut: daemon output memory budget reached, 5 bytes dropped]\n");
	check_cut(&u, "ok" CUT "ok", "ok" CUT "ok");
	check_cut(&u, "x" CUT "y", "x" CUT "y");	/* "xy": too short */
	check_cut(&u, "pw=hun", "pw=hun");		/* no cut */
	check_cut(&u, "pw=hun\n[... distcron: bytes omitted ...]\nter22",
	    "pw=hun\n[... distcron: bytes omitted ...]\nter22");
	check_cut(&u, CUT, CUT);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_wrong_key_tamper_swap),
		T(test_key_parse),
		T(test_key_file_mode),
		T(test_rotate),
		T(test_daemon_key_check),
		T(test_previous_key_source),
		T(test_previous_key_store),
		T(test_rotation_txn),
		T(test_apply_and_mask),
		T(test_apply_amqp),
		T(test_missing_at_parse),
		cmocka_unit_test(test_mask_live),
		cmocka_unit_test(test_mask_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
