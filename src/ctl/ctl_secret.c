/*
 * ctl_secret.c - distcronctl secret rotate: the offline half of the secret
 * command (its set, list and delete talk to the daemon: ctl_api.c).
 *
 * Rotation needs the daemon stopped: it keeps the sealed values and its
 * key in memory, and would write values sealed with the old key after the
 * rotation.  So the state directory's lock (distcrond.lock, which a running
 * daemon holds) is taken for the whole rotation, which then re-encrypts
 * every secret in one store transaction (storesec_rekey()): a current key
 * that does not open one of them changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "distcron/err.h"
#include "distcron/secbox.h"
#include "distcron/store.h"
#include "distcron/storesec.h"
#include "ctl_int.h"

#define PROG		CTLOPT_PROG

/* Takes the state directory's lock; -1 after saying why not. */
static int
lock_dir(const char *state_dir)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/distcrond.lock",
	    state_dir) >= sizeof(path)) {
		fprintf(stderr, "%s: %s: path too long\n", PROG, state_dir);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, path, errno ==
		    EWOULDBLOCK ? "distcrond is running on this state "
		    "directory: stop it, rotate, then start it with the new key"
		    : strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Both keys: the current one (the config's) and --new-key's. */
static int
keys_get(const struct ctl_settings *s, const char *new_key,
    struct secbox_key *oldk, struct secbox_key *newk)
{
	char err[512];
	int r;

	if ((r = secbox_key_get(s->cfg.secrets_key_file, false, oldk, err,
	    sizeof(err))) == 1)
		snprintf(err, sizeof(err), "no current key: set "
		    "secrets_key_file or DISTCRON_SECRETS_KEY");
	if (r == 0 && (r = secbox_key_load(new_key, false, newk, err,
	    sizeof(err))) == 0 &&
	    memcmp(oldk->k, newk->k, sizeof(oldk->k)) == 0) {
		snprintf(err, sizeof(err), "the new key is the current one");
		r = ERR_INVALID;
	}
	if (r != 0)
		fprintf(stderr, "%s: secret rotate: %s\n", PROG, err);
	return r;
}

/* Re-encrypts the secrets of the store in state_dir. */
static int
rotate_store(const char *state_dir, const struct secbox_key *oldk,
    const struct secbox_key *newk, const char *new_key)
{
	char path[4096], err[512] = "";
	struct store *st = NULL;
	const char *why = NULL;
	size_t n = 0;
	int r;

	snprintf(path, sizeof(path), "%s/distcron.db", state_dir);
	if (store_open(path, false, &st, &why) != 0) {
		fprintf(stderr, "%s: %s\n", PROG, why);
		return 1;
	}
	r = storesec_rekey(st, oldk, newk, &n, err, sizeof(err));
	store_close(st);
	if (r != 0) {
		fprintf(stderr, "%s: secret rotate: %s; nothing was changed\n",
		    PROG, err[0] != '\0' ? err : err_str(r));
		return 1;
	}
	printf("re-encrypted %zu secret%s with %s: set secrets_key_file to it "
	    "before starting distcrond\n", n, n == 1 ? "" : "s", new_key);
	return 0;
}

/* Rotation with the settings loaded: 0 or 1. */
static int
rotate(const struct ctl_settings *s, const char *new_key)
{
	struct secbox_key oldk, newk;
	int fd, status = 1;

	if (config_cluster_on(&s->cfg)) {
		fprintf(stderr, "%s: secret rotate --new-key: cluster mode "
		    "keeps the secrets in etcd: give every member the new key "
		    "as secrets_key_file and the old one as "
		    "secrets_previous_key_file, restart them, then run "
		    "'distcronctl secret rotate' without --new-key\n", PROG);
		return 1;
	}
	if (keys_get(s, new_key, &oldk, &newk) == 0 &&
	    (fd = lock_dir(s->state_dir)) >= 0) {
		status = rotate_store(s->state_dir, &oldk, &newk, new_key);
		close(fd);
	}
	secbox_key_wipe(&oldk);
	secbox_key_wipe(&newk);
	return status;
}

int
ctl_secret_rotate(const struct ctlopt_vals *v)
{
	struct ctl_settings s;
	int status = 1;

	if (v->new_key == NULL)
		return ctlopt_usage_error("secret", "secret rotate: --new-key "
		    "FILE is needed");
	if (secbox_init() != 0) {
		fprintf(stderr, "%s: libsodium: cannot initialise\n", PROG);
		return 1;
	}
	if (ctl_settings_load(&s, v) == 0)
		status = rotate(&s, v->new_key);
	ctl_settings_free(&s);
	return status;
}
