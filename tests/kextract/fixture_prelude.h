/* SPDX-License-Identifier: GPL-2.0-only */
/* What tests/kextract/fixture.c expects from "the kernel": stand-ins. */
#ifndef FIXTURE_PRELUDE_H
#define FIXTURE_PRELUDE_H

#define __fixture_attr __attribute__((used))
#define EXPORT_SYMBOL_GPL(sym) extern int fixture_export_##sym
#define FIXTURE_SWAP(a, b)			\
	do {					\
		int __t = (a);			\
		(a) = (b);			\
		(b) = __t;			\
	} while (0)

#endif
