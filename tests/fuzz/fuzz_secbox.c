/*
 * fuzz_secbox.c - libFuzzer target for the sealed secret values and the
 * key text (secbox.h), which come from the store's file (or etcd) and from
 * a key file.  The input is read three ways: as key text (parsed or
 * refused, never echoed), as a sealed value opened under a fixed key (it
 * never opens: the MAC is not forged), and as a value sealed then opened
 * again (the same bytes come back; under another name it is refused).
 *
 * Build: ./configure CC=clang --enable-fuzz && make tests/fuzz/fuzz_secbox
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distcron/err.h"
#include "distcron/secbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct secbox_key k = { { 7 } };
	unsigned char *sealed = NULL;
	char *text, *value = NULL;
	const char *why = NULL;
	struct secbox_key parsed;
	size_t len = 0;

	if (secbox_init() != 0 || (text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (secbox_key_parse(text, &parsed, &why) != 0 && why == NULL)
		abort();
	if (secbox_open(&k, "name", data, size, &value) == 0 || value != NULL)
		abort();
	if (memchr(data, '\0', size) == NULL && size <= SECBOX_VALUE_MAX) {
		if (secbox_seal(&k, "name", text, size, &sealed, &len) != 0 ||
		    secbox_open(&k, "name", sealed, len, &value) != 0 ||
		    strcmp(value, text) != 0)
			abort();
		secbox_value_free(value);
		if (secbox_open(&k, "other", sealed, len, &value) !=
		    ERR_INVALID)
			abort();
		free(sealed);
	}
	free(text);
	return 0;
}
