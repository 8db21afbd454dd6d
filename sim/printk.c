// SPDX-License-Identifier: GPL-2.0-only
/*
 * sim_printk(): the library's messages to one settable console (printk.h).
 *
 * The console is a function and its argument, changed and called under one
 * mutex, so a program's log function never runs concurrently with itself
 * and never sees a half-changed sink.  The message is formatted on the
 * caller's stack first, outside the lock.  The SIGSEGV handler's message
 * (sim/phys.c) is the exception: it runs in a signal handler, where only
 * write(2) is safe, just before the process dies.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "printk.h"

static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;
static sim_console_fn *console_fn;
static void *console_data;

void sim_set_console(sim_console_fn *fn, void *data)
{
	pthread_mutex_lock(&console_lock);
	console_fn = fn;
	console_data = data;
	pthread_mutex_unlock(&console_lock);
}

void sim_printk(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';

	pthread_mutex_lock(&console_lock);
	if (console_fn)
		console_fn(console_data, line);
	else
		fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&console_lock);
}
