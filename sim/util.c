// SPDX-License-Identifier: GPL-2.0-only
/* locked_vm accounting (mm/util.c). */
#include <errno.h>

#include "mm.h"

int __account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc,
			struct task_struct *task, bool bypass_rlim)
{
	long locked_vm;

	mmap_assert_write_locked(mm);
	locked_vm = atomic_load_explicit(&mm->locked_vm, memory_order_relaxed);
	if (inc) {
		if (!bypass_rlim) {
			uint64_t limit = rlimit_memlock(task) >> PAGE_SHIFT;

			if (locked_vm + pages > limit)
				return -ENOMEM;
		}
		atomic_store_explicit(&mm->locked_vm, locked_vm + pages, memory_order_relaxed);
	} else {
		WARN_ON_ONCE(pages > (unsigned long)locked_vm);
		atomic_store_explicit(&mm->locked_vm, locked_vm - pages, memory_order_relaxed);
	}
	return 0;
}

int account_locked_vm(struct mm_struct *mm, unsigned long pages, bool inc)
{
	int ret;

	if (pages == 0 || !mm)
		return 0;
	/* mm/util.c account_locked_vm(): mmap_write_lock(), not killable. */
	mmap_write_lock(mm);
	ret = __account_locked_vm(mm, pages, inc, current, capable_ipc_lock());
	mmap_write_unlock(mm);
	return ret;
}
