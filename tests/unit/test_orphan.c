/* test_orphan.c - recognising a previous daemon's process groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "distcron/orphan.h"

#define BOOT	"0b6c6e0e-1a55-4c3b-9d3e-6f0c2f4a9a11"
/* A leader (pid 4242, group 4242) started at tick 987654, name with a
 * space and a parenthesis. */
#define STAT	"4242 (sh -c (x)) S 1 4242 4242 0 -1 4194560 120 0 0 0 0 0 0 " \
		"0 20 0 1 0 987654 2441216 200 18446744073709551615\n"

static struct orphan_id
id_of(pid_t pgid, uint64_t start, const char *boot)
{
	struct orphan_id id;

	memset(&id, 0, sizeof(id));
	id.pgid = pgid;
	id.start = start;
	strncpy(id.boot, boot, sizeof(id.boot) - 1);
	return id;
}

static void
test_start_field(void **state)
{
	uint64_t start = 0;

	(void)state;
	assert_int_equal(orphan_stat_start(STAT, &start), 0);
	assert_int_equal(start, 987654);
	assert_int_not_equal(orphan_stat_start("4242 (sh) S 1", &start), 0);
}

static void
test_match_same_process(void **state)
{
	struct orphan_id id = id_of(4242, 987654, BOOT);

	(void)state;
	assert_true(orphan_match(&id, STAT, BOOT));
}

/* A reused pid: same number, another start time - never signalled. */
static void
test_other_start_time_not_matched(void **state)
{
	struct orphan_id id = id_of(4242, 987653, BOOT);

	(void)state;
	assert_false(orphan_match(&id, STAT, BOOT));
}

static void
test_other_boot_not_matched(void **state)
{
	struct orphan_id id = id_of(4242, 987654, BOOT);

	(void)state;
	assert_false(orphan_match(&id, STAT,
	    "11111111-1a55-4c3b-9d3e-6f0c2f4a9a11"));
}

static void
test_zombie_or_member_not_matched(void **state)
{
	struct orphan_id id = id_of(4242, 987654, BOOT);
	const char *zombie = "4242 (sh) Z 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 "
	    "0 20 0 1 0 987654 0 0 0\n";
	const char *member = "4242 (sh) S 1 4000 4000 0 -1 0 0 0 0 0 0 0 0 "
	    "0 20 0 1 0 987654 0 0 0\n";

	(void)state;
	assert_false(orphan_match(&id, zombie, BOOT));
	assert_false(orphan_match(&id, member, BOOT));
}

static void
test_format_parse(void **state)
{
	struct orphan_id id = id_of(4242, 987654, BOOT), back;
	char text[ORPHAN_TEXT_MAX];

	(void)state;
	id.grace_ms = 1500;
	orphan_format(&id, text, sizeof(text));
	assert_int_equal(orphan_parse(text, &back), 0);
	assert_int_equal(back.pgid, 4242);
	assert_int_equal(back.start, 987654);
	assert_string_equal(back.boot, BOOT);
	assert_int_equal(back.grace_ms, 1500);
	assert_int_not_equal(orphan_parse("1 2 x 3", &back), 0);
	assert_int_not_equal(orphan_parse("4242 1 x 3 junk", &back), 0);
}

/* The daemon's own identity matches itself and nothing else. */
static void
test_ident_self(void **state)
{
	struct orphan_id id;
	bool alive = true;

	(void)state;
	assert_int_equal(orphan_ident(getpid(), 0, &id), 0);
	assert_true(id.start > 0);
	id.start++;			/* a pid reused by another process */
	id.pgid = getpid();
	assert_int_equal(orphan_end(&id, 1, &alive), 0);
	assert_false(alive);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_field),
		cmocka_unit_test(test_match_same_process),
		cmocka_unit_test(test_other_start_time_not_matched),
		cmocka_unit_test(test_other_boot_not_matched),
		cmocka_unit_test(test_zombie_or_member_not_matched),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_ident_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
