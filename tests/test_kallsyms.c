// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim/kallsyms.c: the function a code address is in, from the ELF symbol
 * tables of whatever the address is mapped from, static functions
 * included (the names an oops taken by a plain load reports).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kallsyms.h"

static __attribute__((noinline)) int a_static_function(int x)
{
	return x * 3 + 1;
}

START_TEST(test_static_function_of_the_executable_is_named)
{
	char name[64];

	ck_assert(kallsyms_lookup((uintptr_t)a_static_function, name, sizeof(name)));
	ck_assert_str_eq(name, "a_static_function");
	/* An address inside it, not only its entry. */
	ck_assert(kallsyms_lookup((uintptr_t)a_static_function + 1, name, sizeof(name)));
	ck_assert_str_eq(name, "a_static_function");
	ck_assert_int_eq(a_static_function(1), 4);
}
END_TEST

START_TEST(test_shared_library_function_is_named)
{
	char name[64];

	/* libc's, from its .dynsym at least (distributions strip .symtab). */
	ck_assert(kallsyms_lookup((uintptr_t)qsort, name, sizeof(name)));
	ck_assert_ptr_nonnull(strstr(name, "qsort"));
}
END_TEST

START_TEST(test_data_and_unmapped_addresses_are_not_named)
{
	static int data;
	char name[64] = "unchanged";

	ck_assert(!kallsyms_lookup((uintptr_t)&data, name, sizeof(name)));
	ck_assert(!kallsyms_lookup(8, name, sizeof(name)));
	ck_assert(!kallsyms_lookup((uintptr_t)a_static_function, name, 0));
	ck_assert_str_eq(name, "unchanged");
}
END_TEST

START_TEST(test_name_is_truncated_to_the_buffer)
{
	char name[5];

	ck_assert(kallsyms_lookup((uintptr_t)a_static_function, name, sizeof(name)));
	ck_assert_str_eq(name, "a_st");
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("kallsyms");
	TCase *tc = tcase_create("kallsyms");

	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_static_function_of_the_executable_is_named);
	tcase_add_test(tc, test_shared_library_function_is_named);
	tcase_add_test(tc, test_data_and_unmapped_addresses_are_not_named);
	tcase_add_test(tc, test_name_is_truncated_to_the_buffer);
	return s;
}
