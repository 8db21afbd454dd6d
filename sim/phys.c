// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated physical memory: mem_map, the page allocator, folio release and
 * the direct map (see page.h for the layout).
 *
 * The allocator is a bump pointer plus one free list per order (0, 9, 18).
 * It touches a struct page only when that frame is handed out or freed, so
 * a 1 TiB machine starts in microseconds with nothing resident.
 * Simplification: freed blocks are not coalesced (the buddy allocator's
 * merging is not what pinsim studies); a request that finds its own list
 * empty and the bump pointer exhausted splits a block of the next larger
 * order.
 *
 * The direct map is one host reservation of the simulated physical address
 * space, RAM read/write at its start, the rest PROT_NONE; a SIGSEGV of a
 * task body inside the rest is the task's oops (see page.h and the handler
 * at the end of this file).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "fault_inject.h"
#include "kallsyms.h"
#include "machine.h"
#include "mm.h"
#include "page.h"
#include "task.h"

struct page *mem_map;
unsigned long max_pfn;
unsigned long mmio_base_pfn;
unsigned long mmio_end_pfn;
unsigned char *ram_data;
uint64_t ram_bytes;
uint64_t direct_map_bytes;
int ram_fd = -1;
__sim_tls const char *volatile sim_direct_map_func;

/* Host bytes mapped at ram_data: the reservation, or RAM alone without one. */
static size_t direct_map_mapped;
static _Atomic unsigned long direct_map_faults;

static bool order_supported(unsigned int order)
{
	return order == 0 || order == PMD_ORDER || order == PUD_ORDER;
}

static void free_list_push(unsigned int order, unsigned long pfn)
{
	struct page *p = pfn_to_page(pfn);

	p->next_free = machine->free_list[order];
	machine->free_list[order] = (uint32_t)pfn;
}

static unsigned long free_list_pop(unsigned int order)
{
	unsigned long pfn = machine->free_list[order];

	if (pfn)
		machine->free_list[order] = pfn_to_page(pfn)->next_free;
	return pfn;
}

/* Hand the frames [start, end) to the free lists in aligned blocks. */
static void free_range_to_lists(unsigned long start, unsigned long end)
{
	while (start < end) {
		unsigned int order = 0;

		if (!(start & (HPAGE_PMD_NR - 1)) && start + HPAGE_PMD_NR <= end)
			order = PMD_ORDER;
		free_list_push(order, start);
		start += 1UL << order;
	}
}

/* Split a free block of a larger order; returns a block of @order or 0. */
static unsigned long split_larger(unsigned int order)
{
	unsigned int big = order == 0 ? PMD_ORDER : PUD_ORDER;
	unsigned long pfn;

	if (order == PUD_ORDER)
		return 0;
	pfn = free_list_pop(big);
	if (!pfn && big == PMD_ORDER) {
		pfn = split_larger(PMD_ORDER);
	}
	if (!pfn)
		return 0;
	for (unsigned long p = pfn + (1UL << order); p < pfn + (1UL << big); p += 1UL << order)
		free_list_push(order, p);
	return pfn;
}

static unsigned long alloc_pfn_locked(unsigned int order)
{
	unsigned long nr = 1UL << order, pfn, aligned;

	pfn = free_list_pop(order);
	if (pfn)
		return pfn;
	aligned = (machine->bump_pfn + nr - 1) & ~(nr - 1);
	if (aligned + nr <= max_pfn) {
		free_range_to_lists(machine->bump_pfn, aligned);
		machine->bump_pfn = aligned + nr;
		return aligned;
	}
	return split_larger(order);
}

struct folio *folio_alloc(unsigned int order, enum page_type type)
{
	struct page *head;
	unsigned long pfn;

	if (WARN_ON(!order_supported(order)))
		return NULL;
	/* fail_page_alloc; a page table is pagetable_alloc()'s own kind. */
	if (should_fail_alloc(type == PGTY_pgtable ? FAIL_PGTABLE : FAIL_PAGE))
		return NULL;
	pthread_mutex_lock(&machine->alloc_lock);
	pfn = alloc_pfn_locked(order);
	pthread_mutex_unlock(&machine->alloc_lock);
	if (!pfn)
		return NULL;
	atomic_fetch_add_explicit(&machine->nr_allocated, 1UL << order, memory_order_relaxed);
	head = pfn_to_page(pfn);
	atomic_store_explicit(&head->_refcount, 1, memory_order_relaxed);
	atomic_store_explicit(&head->_pincount, 0, memory_order_relaxed);
	head->order = order;
	head->type = type;
	head->next_free = 0;
	atomic_store_explicit(&head->flags, order ? PG_head : 0, memory_order_release);
	return (struct folio *)head;
}

/* Give the host bytes back (they read as zero afterwards). */
static void clear_folio_data(struct folio *folio)
{
	size_t len = PAGE_SIZE << folio_order(folio);
	void *addr = page_address(&folio->page);

	if (!(page_flags(&folio->page) & PG_data))
		return;
	if (len == PAGE_SIZE)
		memset(addr, 0, len);
	else
		sim_phys_discard(addr, len);
}

void sim_phys_discard(void *addr, size_t len)
{
	/* MADV_DONTNEED on a MAP_SHARED memfd keeps the bytes: punch a hole. */
	if (madvise(addr, len, ram_fd >= 0 ? MADV_REMOVE : MADV_DONTNEED))
		memset(addr, 0, len);
}

void free_folio(struct folio *folio)
{
	unsigned int order = folio_order(folio);
	struct page *head = &folio->page;

	WARN_ON(folio_ref_count(folio) != 0);
	WARN_ON(folio_pincount(folio) != 0);
	clear_folio_data(folio);
	head->type = PGTY_free;
	head->order = 0;
	atomic_store_explicit(&head->flags, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&machine->nr_allocated, 1UL << order, memory_order_relaxed);
	pthread_mutex_lock(&machine->alloc_lock);
	free_list_push(order, page_to_pfn(head));
	pthread_mutex_unlock(&machine->alloc_lock);
}

void folio_put_refs(struct folio *folio, int refs)
{
	int old = atomic_fetch_sub_explicit(&folio->page._refcount, refs, memory_order_acq_rel);

	if (WARN_ON(old < refs))
		return;
	if (old != refs)
		return;
	if (folio->page.type == PGTY_hugetlb)
		free_huge_folio(folio);
	else
		free_folio(folio);
}

enum page_type folio_type(const struct folio *folio)
{
	return folio->page.type;
}

unsigned long nr_allocated_pages(void)
{
	return atomic_load_explicit(&machine->nr_allocated, memory_order_relaxed);
}

unsigned long nr_free_pages(void)
{
	return max_pfn - SIM_RESERVED_PAGES - nr_allocated_pages();
}

/* The oops of an illegal access at @off bytes into the direct map. */
static void illegal_access_record(struct oops_record *rec, uintptr_t off, const char *func,
				  bool write)
{
	unsigned long pfn = off >> PAGE_SHIFT;

	/*
	 * x86 takes a #PF on a direct-map address with nothing behind it (or
	 * reads device memory through a bogus mapping): an oops of the task.
	 */
	sim_oops_record(rec, func, (uint64_t)pfn << PAGE_SHIFT,
			"BUG: unable to handle page fault: illegal %s of %s pfn %#lx as memory",
			write ? "write" : "read", pfn >= mmio_base_pfn ? "MMIO" : "non-RAM", pfn);
}

_Noreturn void sim_illegal_access(const void *p, const char *func, bool write)
{
	struct oops_record rec;

	illegal_access_record(&rec, (uintptr_t)p - (uintptr_t)ram_data, func, write);
	sim_make_task_dead(&rec);
}

unsigned long virt_to_pfn(const void *addr)
{
	return (unsigned long)((const unsigned char *)addr - ram_data) >> PAGE_SHIFT;
}

/* ---- the direct-map fault handler ---- */

/*
 * The name an oops gets when no accessor named the access (a plain `*pmd`
 * in a kernel tree's code) and kallsyms_lookup() cannot name the faulting
 * instruction's function either (no symbol table, or no instruction
 * pointer on this host).  The kernel's oops names RIP's function; so does
 * pinsim's whenever the binary has symbols, static functions included.
 */
#define DIRECT_MAP_FAULT_FUNC "page fault in direct map"

static struct sigaction prev_segv, prev_bus;

/* RIP's function, as the kernel's oops prints it (kallsyms_lookup()). */
static const char *direct_map_fault_func(const ucontext_t *uc, char buf[48])
{
#ifdef REG_RIP
	if (kallsyms_lookup((uintptr_t)uc->uc_mcontext.gregs[REG_RIP], buf, 48))
		return buf;
#else
	(void)uc;
	(void)buf;
#endif
	return DIRECT_MAP_FAULT_FUNC;
}

static bool direct_map_fault_is_write(const ucontext_t *uc)
{
#ifdef REG_ERR
	/* x86 page-fault error code: bit 1 (X86_PF_WRITE) set for a write. */
	return uc->uc_mcontext.gregs[REG_ERR] & 2;
#else
	(void)uc;
	return false;		/* no error code on this host: call it a read */
#endif
}

/*
 * Not ours: put the previous disposition back (SIG_DFL, or the handler
 * installed before ours, e.g. a sanitizer's) and return, so that the
 * faulting instruction runs again and takes the fault exactly as it would
 * have without pinsim.  One-way: the process is about to die of it.
 */
static void direct_map_fault_chain(int sig)
{
	sigaction(sig, sig == SIGBUS ? &prev_bus : &prev_segv, NULL);
}

/* An oops with no landing pad to leave by: say so before the crash. */
static void direct_map_fault_no_task(uintptr_t off, const char *func, bool is_write)
{
	char msg[SIM_MSG_LEN + 64];
	int n;

	n = snprintf(msg, sizeof(msg),
		     "pinsim: oops outside a task body: %s in %s: illegal %s of pfn %#lx\n",
		     current ? current->comm : "?", func, is_write ? "write" : "read",
		     (unsigned long)(off >> PAGE_SHIFT));
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	/* Nothing to do if stderr is gone: the crash follows anyway. */
	(void)!write(STDERR_FILENO, msg, (size_t)n);
}

/*
 * SIGSEGV/SIGBUS.  A fault the kernel raised (si_code > 0) at an address
 * of the reservation beyond RAM, in a host thread running a task body under
 * sim_task_run(), is a direct-map access of a pfn with nothing behind it:
 * recorded exactly as sim_illegal_access() records it, then the task dies
 * through its landing pad with its locks held, as after sim_oops().
 *
 * Async-signal safety: sim_oops_record() takes a mutex, formats with
 * snprintf and may call the trace hook, none of which is async-signal-safe.
 * That is sound here because the signal is synchronous: it is raised by a
 * load or store of simulated kernel code through the direct map, never
 * inside libc, malloc or a lock of pinsim's own (no such code touches the
 * reservation beyond RAM), so no lock the handler takes can be half-taken
 * by the interrupted code.  Any other fault goes back to its previous
 * handler untouched.
 *
 * The landing pad is a plain setjmp() (no saved mask), and the kernel
 * blocked SIGSEGV for the handler: the mask of the faulting code is put
 * back before the jump, or the next fault of this thread would kill the
 * process.  Under ThreadSanitizer the handler runs from its signal wrapper,
 * synchronously for SIGSEGV; its longjmp interceptor unwinds the wrapper's
 * state (in_signal_handler, the shadow stack) to the setjmp's.
 */
static void direct_map_fault(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	uintptr_t off = (uintptr_t)si->si_addr - (uintptr_t)ram_data;
	struct task_struct *t = current;
	struct oops_record rec;
	char rip_func[sizeof(rec.func)];
	const char *func;
	bool write;

	if (si->si_code <= 0 || !ram_data || off < ram_bytes || off >= direct_map_bytes) {
		direct_map_fault_chain(sig);
		return;
	}
	func = sim_direct_map_func ? sim_direct_map_func : direct_map_fault_func(uc, rip_func);
	sim_direct_map_func = NULL;
	write = direct_map_fault_is_write(uc);
	if (!t || !t->oops_pad) {
		direct_map_fault_no_task(off, func, write);
		direct_map_fault_chain(sig);
		return;
	}
	atomic_fetch_add(&direct_map_faults, 1);
	illegal_access_record(&rec, off, func, write);
	pthread_sigmask(SIG_SETMASK, &uc->uc_sigmask, NULL);
	sim_make_task_dead(&rec);
}

/*
 * Once per process, at the first machine.  SA_ONSTACK so that a
 * sanitizer's alternate stack still gets the faults we pass on (a stack
 * overflow cannot be handled on the stack that overflowed); leaving an
 * alternate stack by longjmp() is fine for glibc, and ASan's longjmp
 * interceptor unpoisons both stacks.
 */
static void direct_map_handler_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = direct_map_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &prev_segv))
		return;
	if (sigaction(SIGBUS, &sa, &prev_bus))
		sigaction(SIGSEGV, &prev_segv, NULL);
}

/*
 * Is SIGSEGV ours right now?  Read back at every machine: ASan with
 * handle_segv=2 answers sigaction() without installing anything, a host
 * program may have put its own handler in since, and a fault passed on
 * uninstalled ours; then the accessors keep their explicit check.
 */
static bool direct_map_handler_in_place(void)
{
	struct sigaction cur;

	return !sigaction(SIGSEGV, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
	       cur.sa_sigaction == direct_map_fault;
}

bool sim_direct_map_faults(void)
{
	return ram_data && direct_map_bytes > ram_bytes;
}

unsigned long sim_direct_map_fault_count(void)
{
	return atomic_load(&direct_map_faults);
}

/* ---- machine-level setup of this file's globals (called by machine.c) ---- */

/*
 * Where MMIO starts and how far its window reaches.  MMIO lies above RAM
 * with a gap, at a multiple of MMIO_ALIGN (pfn_valid() is false there);
 * the window is as large as the host's address space gives, halving from
 * MMIO_WINDOW_MAX down to MMIO_WINDOW_MIN, and mmio_alloc() places no BAR
 * past its end.  Normally (x86-64, 47-bit user space, ASan included) the
 * gap is 1 TiB aligned and the window 32 TiB.  ThreadSanitizer's
 * application ranges on x86-64 are at most 1.5 TiB each (the rest is its
 * shadow and metadata, and an mmap() it placed elsewhere would be fatal),
 * so TSan builds use a compact layout: 1 GiB aligned, a window of up to
 * 512 GiB.  Valgrind cannot reserve even the smallest standard size: no
 * reservation there, the accessors check (page.h).
 */
#ifdef SIM_TSAN
#define MMIO_ALIGN (1ULL << 30)
#define MMIO_WINDOW_MAX (512ULL << 30)
#define MMIO_WINDOW_MIN (64ULL << 30)
#else
#define MMIO_ALIGN (1ULL << 40)
#define MMIO_WINDOW_MAX (32ULL << 40)
#define MMIO_WINDOW_MIN (1ULL << 40)
#endif

/*
 * RAM read/write at @p: private anonymous memory (the reservation made
 * accessible), or with shared_memory the RAM memfd mapped MAP_SHARED over
 * the reservation's start, so that a host process mapping a range of the
 * same memfd shares those frames' bytes (preload/).  The MMIO window after
 * it stays PROT_NONE either way.
 */
static int ram_map(void *p, uint64_t ram)
{
	if (ram_fd < 0)
		return mprotect(p, ram, PROT_READ | PROT_WRITE);
	if (mmap(p, ram, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_fd, 0) == MAP_FAILED)
		return -1;
	return 0;
}

static int ram_fd_create(uint64_t ram)
{
	ram_fd = memfd_create("pinsim-ram", MFD_CLOEXEC);
	if (ram_fd < 0)
		return -1;
	if (ftruncate(ram_fd, (off_t)ram)) {
		close(ram_fd);
		ram_fd = -1;
		return -1;
	}
	return 0;
}

static unsigned char *direct_map_reserve(uint64_t ram, uint64_t mmio_base, size_t *len)
{
	for (uint64_t w = MMIO_WINDOW_MAX; w >= MMIO_WINDOW_MIN; w >>= 1) {
		void *p = mmap(NULL, mmio_base + w, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			continue;
		if (ram_map(p, ram)) {
			munmap(p, mmio_base + w);
			return NULL;
		}
		*len = mmio_base + w;
		return p;
	}
	return NULL;
}

int phys_init(struct machine *m)
{
	static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
	unsigned long nr = m->cfg.ram_bytes >> PAGE_SHIFT;
	uint64_t mmio_base = ((m->cfg.ram_bytes + MMIO_ALIGN - 1) & ~(MMIO_ALIGN - 1)) + MMIO_ALIGN;

	pthread_once(&handler_once, direct_map_handler_install);
	m->memmap_bytes = nr * sizeof(struct page);
	m->data_bytes = m->cfg.ram_bytes;
	mem_map = mmap(NULL, m->memmap_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem_map == MAP_FAILED)
		goto err;
	if (m->cfg.shared_memory && ram_fd_create(m->data_bytes)) {
		munmap(mem_map, m->memmap_bytes);
		goto err;
	}
	ram_data = direct_map_reserve(m->data_bytes, mmio_base, &direct_map_mapped);
	if (ram_data) {
		mmio_end_pfn = direct_map_mapped >> PAGE_SHIFT;
		direct_map_bytes =
			direct_map_handler_in_place() ? direct_map_mapped : m->data_bytes;
	} else {
		/* No reservation: RAM alone, every other pfn checked by the accessors. */
		direct_map_mapped = m->data_bytes;
		if (ram_fd >= 0)
			ram_data = mmap(NULL, m->data_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
					ram_fd, 0);
		else
			ram_data = mmap(NULL, m->data_bytes, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (ram_data == MAP_FAILED) {
			munmap(mem_map, m->memmap_bytes);
			goto err;
		}
		mmio_end_pfn = 1UL << 40;	/* the PTE pfn field's 40 bits */
		direct_map_bytes = m->data_bytes;
	}
	mmio_base_pfn = mmio_base >> PAGE_SHIFT;
	max_pfn = nr;
	ram_bytes = m->data_bytes;
	for (unsigned long pfn = 0; pfn < SIM_RESERVED_PAGES; pfn++) {
		struct page *p = pfn_to_page(pfn);

		atomic_store(&p->_refcount, 1);
		atomic_store(&p->flags, PG_reserved);
		p->type = PGTY_reserved;
	}
	m->bump_pfn = SIM_RESERVED_PAGES;
	return 0;
err:
	if (ram_fd >= 0)
		close(ram_fd);
	ram_fd = -1;
	mem_map = NULL;
	ram_data = NULL;
	direct_map_bytes = 0;
	return -ENOMEM;
}

void phys_exit(struct machine *m)
{
	if (mem_map)
		munmap(mem_map, m->memmap_bytes);
	direct_map_bytes = 0;
	if (ram_data)
		munmap(ram_data, direct_map_mapped);
	if (ram_fd >= 0)
		close(ram_fd);
	ram_fd = -1;
	mem_map = NULL;
	ram_data = NULL;
	max_pfn = 0;
	ram_bytes = 0;
	mmio_end_pfn = 0;
}
