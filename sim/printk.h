/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * printk() of the simulated kernel (kernel/printk/printk.c, trimmed to one
 * console): every message the library prints goes through sim_printk(),
 * which hands the formatted line to the sink the program set with
 * pinsim_set_log() (lib/log.c), or writes it to stderr by default.  No
 * levels, no ring buffer, no rate limiting.
 */
#ifndef SIM_PRINTK_H
#define SIM_PRINTK_H

/* One message; a trailing newline is dropped (the sink gets a line). */
void sim_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The console: @fn(@data, line) for every message from now on; NULL for
 * the default (the line and a newline on stderr).  Thread-safe: a message
 * being printed on another thread goes to the old or the new sink, whole.
 */
typedef void sim_console_fn(void *data, const char *line);
void sim_set_console(sim_console_fn *fn, void *data);

#endif /* SIM_PRINTK_H */
