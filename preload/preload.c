// SPDX-License-Identifier: GPL-2.0-only
/*
 * libpinsim-preload.so: an ordinary Linux VFIO program, run with
 * LD_PRELOAD=libpinsim-preload.so (or pinsim-run), drives a simulated
 * machine instead of /dev/vfio (issue 12, first slice).
 *
 * Process model: in-process.  One simulated machine lives inside the
 * program's own process, created by this library's constructor from the
 * environment (PINSIM_DEVICES, PINSIM_RAM, PINSIM_KERNEL, PINSIM_HUGETLB_2M,
 * PINSIM_HUGETLB_1G, PINSIM_THP, PINSIM_MEMLOCK, PINSIM_CAP_IPC_LOCK,
 * PINSIM_LOOPBACK, PINSIM_TRACE; see pinsim-run --help), with one simulated
 * process standing for the program.  Why: the program's pointers must
 * reach simulated frames and simulated DMA must reach the program's
 * pages.  In one process both are plain memory: the machine's RAM and BARs
 * are memfds (pinsim_config.shared_memory) and the program's pages are
 * those memfds' ranges mapped MAP_SHARED at the program's addresses
 * (mirror.c), so a byte written through either side is the same byte, at
 * no cost per access and with no protocol.  A server process holding the
 * machine would need the same memfds passed over a socket plus a request
 * round trip per ioctl and per first touch; it is the way to what this
 * model rules out:
 *   - several processes on one simulated machine that did not fork from
 *     one another (each process that loads the library afresh gets a
 *     machine of its own);
 *   - exec: the machine dies with the process image (an exec'd program
 *     that still has LD_PRELOAD starts a fresh machine; a VFIO fd it
 *     inherited without CLOEXEC is a plain host fd there, a memfd with no
 *     contents, no longer a VFIO fd).
 *
 * fork (fork.c): the kernel's semantics for memory and fds, with the
 * machine staying in the process that created it, the machine host.  fork()
 * is interposed; there, before the real fork, the simulated fork runs
 * (pinsim_fork(): dup_mmap() with private anonymous memory copy-on-write,
 * pinned pages copied for the child, MADV_DONTFORK/WIPEONFORK, the fd
 * table copied with the open files shared) and a server thread for the
 * child starts.  The child becomes a client: every pinsim call it would
 * make (VFIO open/close/ioctl/pread/pwrite, the mmap/munmap/madvise of
 * mirrored memory, and each first touch) is a request over a
 * SOCK_SEQPACKET socket, executed by its server thread as the child's task
 * in the child's simulated process; its host fd bookkeeping (dup, fcntl,
 * the vfd table) stays local.  At its start the child drops the host
 * mirror it inherited (PROT_NONE over every region, DONTFORK regions
 * unmapped), so each page it touches is faulted in its own simulated mm,
 * read or write as the CPU did it: a read shares the parent's frame
 * read-only, a write breaks COW.  The machine's memfds are inherited
 * (same fd numbers), so a touched page is the same shared memory as in
 * the host, with no copy.  The parent keeps its mirror: pinsim_fork()
 * write-protects its private pages and its zap notifier drops them, so
 * its next write faults into pinsim_touch(write) and breaks COW on its
 * side.  A zap of the child's memory (its munmap, its COW break, the
 * parent's device reset, the injector) reaches the child through a second
 * socket and a listener thread there, synchronously with a timeout
 * (fork.c says why and what a timeout leaves).  When the child's socket
 * closes (exit, or exec: CLOEXEC), the server ends the child's process
 * (pinsim_proc_destroy(): exit_mmap(), then its fds; a container the
 * parent shares keeps the child's DMA mappings and their pins, as the
 * kernel's vfio_dma keeps its task's mm).  A child forks again through
 * its server (nested children are the machine host's clients too).
 * Why not a server process from the start: the machine host needs no
 * round trip at all, which is the common case (a VMM that never forks
 * after it maps guest memory); only the children pay.
 * Limits: a fork before any mapping or VFIO fd is a plain fork and that
 * child has no machine (its VFIO opens fail with ENOENT: the machine is
 * the parent's, and the copy in the child's memory shares its memfds);
 * a daemon that forks and then uses VFIO in the child therefore cannot.
 * When the machine host exits, its clients' VFIO calls fail with EIO and
 * their next first touch gets SIGBUS (pages they had mapped stay).  A
 * client's mirrored memory follows zaps only while it runs (a stopped
 * child times the zap out).  The exit summary is the machine host's: it
 * counts the children's MAP/UNMAP_DMAs, which run there; a child prints
 * none.  vfork() is left to libc: its child shares the parent's memory
 * (CLONE_VM), as in the kernel, and may only exec or _exit; so are _Fork()
 * (async-signal-safe, for a fork that execs at once: its child shares the
 * mirrored pages and must only exec) and clone() without CLONE_VM.
 * Requests of a multi-threaded child are serialised by one mutex; the
 * program's buffers are read and written outside it (a first touch of a
 * buffer is a request of its own).  ioctl arguments travel as the VFIO
 * struct's argsz bytes (at most 60K), a string for GET_DEVICE_FD, a value
 * for the requests that take one; SET_IRQS eventfds go by SCM_RIGHTS (at
 * most 253 per call) and the server substitutes its own copies.
 *
 * This file interposes (dlsym(RTLD_NEXT) for the real ones): open, open64,
 * openat, openat64, __open_2, __open64_2 of /dev/vfio/vfio and
 * /dev/vfio/<group>; close, ioctl, pread(64) and pwrite(64) of the fds they
 * and VFIO_GROUP_GET_DEVICE_FD returned.  Each such fd is a real host fd
 * (a memfd with no contents), so the program's fd table stays coherent
 * (poll/select/dup2 over it do not corrupt anything), mapped to a pinsim
 * fd.  Every other path and fd goes to libc untouched.  mirror.c does
 * memory, sysfs.c the sysfs lookups.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"
#include "shmem.h"
#include "race.h"

struct preload preload;
__thread int preload_in_sim;
__thread bool preload_thread_seen;

/* ---- threads: a thread's simulated task ends with it ---- */

static pthread_key_t thread_key;
static bool thread_key_ok;

/*
 * kernel/exit.c do_exit() for a thread of the program: its simulated task
 * runs its task_work and is freed (pinsim_thread_exit()).  The key is
 * created before the machine, so that glibc, which runs destructors in key
 * order, runs this one before pinsim's own (which only orphans the task).
 */
static void thread_end(void *arg)
{
	(void)arg;
	/* A client's tasks are its server's, in the machine host. */
	preload_in_sim++;
	if (!preload.client)
		pinsim_thread_exit();
	preload_in_sim--;
	preload_thread_seen = false;
	preload_count_thread_exit();
}

void preload_thread_first(void)
{
	preload_thread_seen = true;
	if (thread_key_ok)
		pthread_setspecific(thread_key, (void *)1);
}

void *preload_next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

void preload_trace(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!preload.trace)
		return;
	n = snprintf(buf, sizeof(buf), "pinsim-preload: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!REAL(write)(STDERR_FILENO, buf, (size_t)n);
}

/* ---- configuration from the environment ---- */

/* "16M", "1G", "4096", "64K" -> bytes; false on garbage. */
static bool parse_size(const char *s, size_t n, uint64_t *out)
{
	char tmp[32], *end;
	uint64_t v, mul = 1;

	if (!n || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	v = strtoull(tmp, &end, 0);
	if (errno || end == tmp)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	case 't':
	case 'T':
		mul = 1ULL << 40;
		end++;
		break;
	}
	if (*end || (v && mul > UINT64_MAX / v))
		return false;
	*out = v * mul;
	return true;
}

static int config_error(const char *fmt, const char *what, size_t n)
{
	snprintf(preload.error, sizeof(preload.error), fmt, (int)n, what);
	return -1;
}

/* "0000:01:00.0:bar0=16M:bar2=64K:unit=0" */
static int parse_device(const char *s, size_t n, struct preload_device *d)
{
	unsigned int dom, bus, slot, fn;
	const char *p, *end = s + n;
	int used;

	memset(d, 0, sizeof(*d));
	if (n < 12 || sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &slot, &fn, &used) != 4 ||
	    used != 12 || (n > 12 && s[12] != ':'))
		return config_error("PINSIM_DEVICES: '%.*s' does not start with a PCI address "
				    "DDDD:BB:DD.F",
				    s, n);
	snprintf(d->bdf, sizeof(d->bdf), "%04x:%02x:%02x.%x", dom, bus, slot, fn);
	d->spec.name = d->bdf;
	for (p = s + 12; p < end && *p == ':';) {
		const char *key = p + 1, *eq, *next = memchr(key, ':', (size_t)(end - key));
		uint64_t v;

		if (!next)
			next = end;
		eq = memchr(key, '=', (size_t)(next - key));
		if (!eq || !parse_size(eq + 1, (size_t)(next - eq - 1), &v))
			return config_error("PINSIM_DEVICES: '%.*s': expected key=size", key,
					    (size_t)(next - key));
		if (eq - key == 4 && !strncmp(key, "bar", 3) && key[3] >= '0' && key[3] <= '5') {
			if (v < 4096 || (v & (v - 1)))
				return config_error("PINSIM_DEVICES: '%.*s': a BAR size is a power "
						    "of two of at least 4K",
						    key, (size_t)(next - key));
			d->spec.bar_size[key[3] - '0'] = v;
		} else if (eq - key == 4 && !strncmp(key, "unit", 4)) {
			d->spec.iommu_unit = (int)v;
		} else if (eq - key == 3 && !strncmp(key, "msi", 3) && v <= 32) {
			d->pci.msi_vectors = (uint8_t)v;
		} else if (eq - key == 7 && !strncmp(key, "msimask", 7)) {
			d->pci.msi_maskbit = v != 0;
		} else if (eq - key == 4 && !strncmp(key, "msix", 4) && v <= 2048) {
			d->pci.msix_vectors = (uint16_t)v;
		} else if (eq - key == 7 && !strncmp(key, "msixbar", 7) && v < 6) {
			d->pci.msix_bar = (uint8_t)v;
		} else {
			return config_error("PINSIM_DEVICES: unknown key in '%.*s' (bar0..bar5, "
					    "unit, msi, msimask, msix, msixbar)",
					    key, (size_t)(next - key));
		}
		p = next;
	}
	return 0;
}

static int parse_devices(const char *s)
{
	while (*s) {
		size_t n = strcspn(s, ",");

		if (preload.nr_dev == PRELOAD_MAX_DEVICES)
			return config_error("PINSIM_DEVICES: more than 16 devices%.*s", "", 0);
		if (parse_device(s, n, &preload.dev[preload.nr_dev]))
			return -1;
		preload.nr_dev++;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int env_size(const char *name, uint64_t *out)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	if (!parse_size(v, strlen(v), out))
		return config_error("%.*s: not a size (a number with K/M/G/T)", name, strlen(name));
	return 0;
}

static bool host_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/* RLIMIT_MEMLOCK and CAP_IPC_LOCK: the host process's, unless overridden. */
static int process_limits(void)
{
	const char *cap = getenv("PINSIM_CAP_IPC_LOCK"), *ml = getenv("PINSIM_MEMLOCK");
	struct rlimit rl;
	uint64_t v;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	if (ml && *ml) {
		if (!strcmp(ml, "unlimited"))
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		else if (env_size("PINSIM_MEMLOCK", &v))
			return -1;
		else
			rl.rlim_cur = rl.rlim_max = v;
	}
	if (pinsim_setrlimit(preload.p, RLIMIT_MEMLOCK, &rl))
		return config_error("RLIMIT_MEMLOCK: %.*s", strerror(errno),
				    strlen(strerror(errno)));
	return pinsim_set_cap_ipc_lock(preload.p,
				       cap && *cap ? atoi(cap) != 0 : host_cap_ipc_lock());
}

static int machine_config(struct pinsim_config *cfg)
{
	const char *k = getenv("PINSIM_KERNEL"), *thp = getenv("PINSIM_THP");
	const char *devs = getenv("PINSIM_DEVICES");
	uint64_t v;

	pinsim_config_init(cfg);
	cfg->ram_bytes = 4ULL << 30;
	cfg->shared_memory = true;
	if (env_size("PINSIM_RAM", &cfg->ram_bytes))
		return -1;
	v = 0;
	if (env_size("PINSIM_HUGETLB_2M", &v))
		return -1;
	cfg->hugetlb_2m_pages = v;
	v = 0;
	if (env_size("PINSIM_HUGETLB_1G", &v))
		return -1;
	cfg->hugetlb_1g_pages = v;
	if (k && *k && pinsim_config_set_kernel(cfg, k))
		return config_error("PINSIM_KERNEL: unknown kernel profile '%.*s'", k, strlen(k));
	if (thp && *thp) {
		if (!strcmp(thp, "never"))
			cfg->thp = PINSIM_THP_NEVER;
		else if (!strcmp(thp, "madvise"))
			cfg->thp = PINSIM_THP_MADVISE;
		else if (!strcmp(thp, "always"))
			cfg->thp = PINSIM_THP_ALWAYS;
		else
			return config_error("PINSIM_THP: '%.*s' (never, madvise, always)", thp,
					    strlen(thp));
	}
	preload.loopback = getenv("PINSIM_LOOPBACK") && atoi(getenv("PINSIM_LOOPBACK"));
	return parse_devices(devs ? devs : "0000:01:00.0:bar0=16M");
}

static int machine_start(void)
{
	struct pinsim_config cfg;

	if (machine_config(&cfg) || race_config(&cfg))
		return -1;
	if (pinsim_create(&cfg, &preload.m))
		return config_error("cannot create the machine (PINSIM_RAM, hugetlb pools, "
				    "kernel): %.*s",
				    strerror(errno), strlen(strerror(errno)));
	for (int i = 0; i < preload.nr_dev; i++) {
		if (pinsim_add_device_pci(preload.m, &preload.dev[i].spec, &preload.dev[i].pci,
					  &preload.dev[i].group))
			return config_error("PINSIM_DEVICES: cannot add %.*s", preload.dev[i].bdf,
					    strlen(preload.dev[i].bdf));
	}
	if (pinsim_proc_create(preload.m, &preload.p))
		return config_error("cannot create the process: %.*s", strerror(errno),
				    strlen(strerror(errno)));
	if (process_limits())
		return -1;
	if (mirror_init())
		return config_error("cannot install the SIGSEGV handler%.*s", "", 0);
	return race_start();
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *t = getenv("PINSIM_TRACE");

	preload.trace = t && atoi(t);
	fork_init();
	thread_key_ok = !pthread_key_create(&thread_key, thread_end);
	sim_enter();
	if (!machine_start()) {
		preload.ready = true;
	} else {
		char msg[400];
		int n = snprintf(msg, sizeof(msg),
				 "pinsim-preload: %s; /dev/vfio calls fail with ENOENT\n",
				 preload.error);

		(void)!write(STDERR_FILENO, msg, n > 0 && n < (int)sizeof(msg) ? (size_t)n : 0);
	}
	sim_exit();
	if (preload.ready)
		summary_init();
	for (int i = 0; preload.ready && i < preload.nr_dev; i++)
		preload_trace("device %s group %d", preload.dev[i].bdf, preload.dev[i].group);
}

/* ---- the fd table: host fd -> pinsim fd ---- */

enum vfd_kind { VFD_NONE = 0, VFD_CONTAINER, VFD_GROUP, VFD_DEVICE, VFD_SHMEM /* shmem.c */ };

/* One pinsim file, shared by the host fds that dup() made of one. */
struct vfile {
	/*
	 * Host fds naming it (struct file's f_count, as far as fds hold it):
	 * the last close() releases the file.
	 */
	int refs;
	/* A container's pinning counters when last sampled (summary). */
	struct pinsim_pin_counters seen;
	/* VFD_SHMEM: the page shift of a hugetlbfs file (fstatfs), else 0. */
	int hshift;
	/* f_pos: read(2)/write(2) of a device fd go from here, and move it. */
	_Atomic long long pos;
};

#define MAX_HOST_FD 65536
static struct vfd {
	int pfd; /* pinsim's fd */
	int group; /* groups and devices */
	enum vfd_kind kind;
	struct vfile *f; /* shared by dups */
} vfds[MAX_HOST_FD];
/* Covers refs and the table's changes (install, dup, close). */
static pthread_mutex_t vfds_lock = PTHREAD_MUTEX_INITIALIZER;
/* Host fds in the table (fork: a process without any forks plainly). */
static int nr_vfds;

bool preload_fds_any(void)
{
	bool any;

	pthread_mutex_lock(&vfds_lock);
	any = nr_vfds > 0;
	pthread_mutex_unlock(&vfds_lock);
	return any;
}

/* Across the real fork: the child's copy of the table is a consistent one. */
void preload_fds_fork_prepare(void)
{
	pthread_mutex_lock(&vfds_lock);
}

void preload_fds_fork_release(bool child)
{
	if (child)
		pthread_mutex_init(&vfds_lock, NULL);
	else
		pthread_mutex_unlock(&vfds_lock);
}

static long close_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	(void)buf;
	(void)fds;
	(void)nfds;
	return pinsim_close(p, (int)a[0]);
}

static void sim_close(int pfd)
{
	preload_sim(&(struct preload_call){.fn = close_fn, .a = {(uint64_t)pfd}});
}

static struct vfd *vfd_get(int fd)
{
	if (fd < 0 || fd >= MAX_HOST_FD || vfds[fd].kind == VFD_NONE || preload_in_sim)
		return NULL;
	return &vfds[fd];
}

/* A real host fd standing for pinsim's @pfd. */
static int vfd_install(int pfd, enum vfd_kind kind, int group, bool cloexec)
{
	int fd, err;

	struct vfile *f = calloc(1, sizeof(*f));

	fd = f ? memfd_create(kind == VFD_CONTAINER ? "pinsim:vfio" : "pinsim:vfio-fd",
			      cloexec ? MFD_CLOEXEC : 0) :
		 -1;
	if (fd < 0 || fd >= MAX_HOST_FD) {
		err = !f ? ENOMEM : fd < 0 ? errno : EMFILE;
		if (fd >= 0)
			REAL(close)(fd);
		free(f);
		sim_close(pfd);
		errno = err;
		return -1;
	}
	f->refs = 1;
	pthread_mutex_lock(&vfds_lock);
	vfds[fd] = (struct vfd){.pfd = pfd, .group = group, .kind = kind, .f = f};
	nr_vfds++;
	pthread_mutex_unlock(&vfds_lock);
	return fd;
}

/* "/dev/vfio/vfio" -> 0, "/dev/vfio/<N>" -> 1 and *group, else -1. */
static int vfio_path(const char *path, int *group)
{
	char *end;
	long n;

	if (!path || strncmp(path, "/dev/vfio/", 10))
		return -1;
	if (!strcmp(path + 10, "vfio"))
		return 0;
	if (path[10] < '0' || path[10] > '9')
		return -1;
	n = strtol(path + 10, &end, 10);
	if (*end || n > INT_MAX)
		return -1;
	*group = (int)n;
	return 1;
}

static long open_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	(void)fds;
	(void)nfds;
	return pinsim_open(p, buf, (int)a[0]);
}

static int vfio_open(const char *path, int flags)
{
	int group = -1, kind = vfio_path(path, &group), pfd, fd;

	if (!preload.ready) {
		fprintf(stderr, "pinsim-preload: open %s: %s\n", path, preload.error);
		errno = ENOENT;
		return -1;
	}
	preload_mm_enter();
	pfd = (int)preload_sim(&(struct preload_call){.fn = open_fn,
						      .a = {(uint64_t)flags},
						      .buf = (void *)path,
						      .in_len = strlen(path) + 1});
	preload_trace("open %s = %d%s%s", path, pfd, pfd < 0 ? " " : "",
		      pfd < 0 ? strerror(errno) : "");
	fd = pfd < 0 ? -1 :
		       vfd_install(pfd, kind ? VFD_GROUP : VFD_CONTAINER, group, flags & O_CLOEXEC);
	preload_mm_exit();
	return fd;
}

#define OPEN_WRAPPER(name, ...)                                  \
	int name(__VA_ARGS__, int flags, ...)                    \
	{                                                        \
		mode_t mode = 0;                                 \
		int g;                                           \
		if (flags & (O_CREAT | O_TMPFILE)) {             \
			va_list ap;                              \
			va_start(ap, flags);                     \
			mode = va_arg(ap, mode_t);               \
			va_end(ap);                              \
		}                                                \
		if (!preload_in_sim && vfio_path(path, &g) >= 0) \
			return vfio_open(path, flags);           \
		if (preload_shmem_path(path))                    \
			return preload_shmem_open(path, flags);  \
		return OPEN_REAL_##name;                         \
	}

#define OPEN_REAL_open REAL(open)(path, flags, mode)
#define OPEN_REAL_open64 REAL(open64)(path, flags, mode)
#define OPEN_REAL_openat REAL(openat)(dirfd, path, flags, mode)
#define OPEN_REAL_openat64 REAL(openat64)(dirfd, path, flags, mode)
OPEN_WRAPPER(open, const char *path)
OPEN_WRAPPER(open64, const char *path)
OPEN_WRAPPER(openat, int dirfd, const char *path)
OPEN_WRAPPER(openat64, int dirfd, const char *path)

/* _FORTIFY_SOURCE's entry points for open() without O_CREAT. */
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}
int __open64_2(const char *path, int flags)
{
	return open(path, flags);
}

/*
 * Host fd @fd no longer names its pinsim file (close, or dup2 over it):
 * the file's last fd releases it (__fput() -> vfio's release).
 */
static void vfd_put(int fd)
{
	struct vfd v;
	bool last;

	pthread_mutex_lock(&vfds_lock);
	v = vfds[fd];
	if (v.kind == VFD_NONE) {
		pthread_mutex_unlock(&vfds_lock);
		return;
	}
	vfds[fd].kind = VFD_NONE;
	vfds[fd].f = NULL;
	nr_vfds--;
	last = !--v.f->refs;
	pthread_mutex_unlock(&vfds_lock);
	if (!last)
		return;
	free(v.f);
	sim_close(v.pfd);
}

/*
 * Pinning counters for the summary: each container's type1 totals exist
 * only while it has an IOMMU (UNSET_CONTAINER of its last group drops
 * them), so they are sampled after every MAP/UNMAP_DMA and the growth since
 * the last sample is added up.  Under vfds_lock: samples are serialised.
 */
static struct pinsim_pin_counters pins_total;

#define PIN_DELTA(field)                                                                \
	do {                                                                            \
		uint64_t cur = st.total.field, prev = v->f->seen.field;                 \
		pins_total.field += cur >= prev ? cur - prev : cur; /* a new backend */ \
	} while (0)

static void pins_sample_locked(const struct vfd *v)
{
	struct pinsim_vfio_stats st;

	/* A client's containers are counted by the machine host's summary. */
	if (preload.client || pinsim_vfio_stats(preload.p, v->pfd, &st))
		return;
	PIN_DELTA(pinned_pages);
	PIN_DELTA(pfnmap_pages);
	PIN_DELTA(faults);
	PIN_DELTA(retries);
	PIN_DELTA(eagain_loops);
	PIN_DELTA(gup_calls);
	v->f->seen = st.total;
}

static void pins_sample(const struct vfd *v)
{
	pthread_mutex_lock(&vfds_lock);
	if (v->kind == VFD_CONTAINER && v->f)
		pins_sample_locked(v);
	pthread_mutex_unlock(&vfds_lock);
}

void preload_pins_total(struct pinsim_pin_counters *out)
{
	pthread_mutex_lock(&vfds_lock);
	for (int fd = 0; fd < MAX_HOST_FD; fd++)
		if (vfds[fd].kind == VFD_CONTAINER)
			pins_sample_locked(&vfds[fd]);
	*out = pins_total;
	pthread_mutex_unlock(&vfds_lock);
}

/* Host fd @newfd is now a dup of VFIO fd @oldfd: the same pinsim file. */
static void vfd_dup(int oldfd, int newfd)
{
	if (newfd < 0 || newfd >= MAX_HOST_FD) {
		/* Beyond the table: the host fd goes, the file stays with oldfd. */
		if (newfd >= 0)
			REAL(close)(newfd);
		return;
	}
	pthread_mutex_lock(&vfds_lock);
	if (vfds[oldfd].kind != VFD_NONE) {
		vfds[newfd] = vfds[oldfd];
		vfds[newfd].f->refs++;
		nr_vfds++;
	}
	pthread_mutex_unlock(&vfds_lock);
}

int close(int fd)
{
	struct vfd *v = vfd_get(fd);

	if (v) {
		preload_mm_enter();
		vfd_put(fd);
		preload_mm_exit();
		preload_trace("close %d", fd);
	}
	return REAL(close)(fd);
}

/* ---- dup, dup2, dup3, fcntl(F_DUPFD[_CLOEXEC]) ---- */

int dup(int fd)
{
	int ret = REAL(dup)(fd);

	if (ret >= 0 && vfd_get(fd)) {
		vfd_dup(fd, ret);
		preload_trace("dup %d = %d", fd, ret);
		if (ret >= MAX_HOST_FD) {
			errno = EMFILE;
			return -1;
		}
	}
	return ret;
}

/* dup2/dup3 onto @newfd: a VFIO fd there is closed first, as the kernel does. */
static int dup_onto(int oldfd, int newfd, int ret)
{
	if (ret < 0 || oldfd == newfd)
		return ret;
	if (newfd >= 0 && newfd < MAX_HOST_FD && !preload_in_sim) {
		preload_mm_enter();
		vfd_put(newfd);
		preload_mm_exit();
	}
	if (vfd_get(oldfd)) {
		vfd_dup(oldfd, newfd);
		preload_trace("dup %d onto %d", oldfd, newfd);
		if (newfd >= MAX_HOST_FD) {
			errno = EMFILE;
			return -1;
		}
	}
	return ret;
}

int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, REAL(dup2)(oldfd, newfd));
}

int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, REAL(dup3)(oldfd, newfd, flags));
}

static int fcntl_common(int fd, int cmd, void *arg, int ret)
{
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && vfd_get(fd)) {
		vfd_dup(fd, ret);
		preload_trace("fcntl %d F_DUPFD%s = %d", fd, cmd == F_DUPFD ? "" : "_CLOEXEC", ret);
		if (ret >= MAX_HOST_FD) {
			errno = EMFILE;
			return -1;
		}
	}
	(void)arg;
	return ret;
}

/* The third argument is an int or a pointer: passed on as a register's worth. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, REAL(fcntl)(fd, cmd, arg));
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
	static int (*next)(int, int, ...);
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!next)
		next = (int (*)(int, int, ...))preload_next("fcntl64");
	if (!next)
		next = REAL(fcntl);
	return fcntl_common(fd, cmd, arg, next(fd, cmd, arg));
}

/* ---- ioctl ---- */

/* ioctl_fn()'s a[2] */
enum {
	IOCTL_BYVAL = 1, /* the argument is a[3] itself (a value, or no argument) */
	IOCTL_EVENTFD_IDX = 2, /* SET_IRQS data holds indices into the fds passed */
	IOCTL_COUNT_DMA = 4, /* a container's MAP/UNMAP_DMA: counted and timed */
};

/*
 * A client's VFIO_DEVICE_SET_IRQS: the program's eventfds are the machine
 * host's own copies now (SCM_RIGHTS), substituted here.  A number that was
 * no open fd in the child arrives as INT_MAX, which is none here either:
 * the device's EBADF.
 */
static void irq_set_substitute(struct vfio_irq_set *s, size_t len, const int *fds, int nfds)
{
	size_t n = (len - sizeof(*s)) / sizeof(int32_t);
	int32_t fd;

	if (n > s->count)
		n = s->count;
	for (size_t i = 0; i < n; i++) {
		memcpy(&fd, s->data + i * sizeof(fd), sizeof(fd));
		if (fd >= 0 && fd < nfds) {
			fd = fds[fd];
			memcpy(s->data + i * sizeof(fd), &fd, sizeof(fd));
		}
	}
}

static long ioctl_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	int pfd = (int)a[0], err;
	unsigned long req = (unsigned long)a[1];
	void *arg = a[2] & IOCTL_BYVAL ? (void *)(uintptr_t)a[3] : buf;
	uint64_t t0, bytes = 0;
	long ret;

	if ((a[2] & IOCTL_EVENTFD_IDX) && a[4] >= sizeof(struct vfio_irq_set))
		irq_set_substitute(buf, a[4], fds, nfds);
	if (!(a[2] & IOCTL_COUNT_DMA))
		return pinsim_ioctl(p, pfd, req, arg);
	t0 = preload_now_ns();
	ret = pinsim_ioctl(p, pfd, req, arg);
	err = ret < 0 ? errno : 0;
	if (!err && req == VFIO_IOMMU_MAP_DMA)
		bytes = ((struct vfio_iommu_type1_dma_map *)arg)->size;
	else if (!err)
		bytes = ((struct vfio_iommu_type1_dma_unmap *)arg)->size;
	preload_count_op(req == VFIO_IOMMU_MAP_DMA ? PRELOAD_OP_MAP : PRELOAD_OP_UNMAP, err, bytes,
			 preload_now_ns() - t0);
	errno = err;
	return ret;
}

/* Requests whose argument is a value or nothing: nothing to copy. */
static bool ioctl_byval(unsigned long req, const void *arg)
{
	switch (req) {
	case VFIO_GET_API_VERSION:
	case VFIO_CHECK_EXTENSION:
	case VFIO_SET_IOMMU:
	case VFIO_GROUP_UNSET_CONTAINER:
	case VFIO_DEVICE_RESET:
		return true;
	}
	return !arg || _IOC_TYPE(req) != VFIO_TYPE;
}

/* A client's SET_IRQS with eventfds: the fds travel with the request. */
static long remote_set_irqs(struct preload_call *c, const void *arg, size_t len)
{
	int fds[PRELOAD_SIM_MAX_FDS], nfds = 0;
	struct vfio_irq_set *s;
	size_t n;
	long ret;

	s = malloc(len);
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(s, arg, len);
	s->argsz = (uint32_t)len;
	n = (len - sizeof(*s)) / sizeof(int32_t);
	if (n > s->count)
		n = s->count;
	for (size_t i = 0; i < n; i++) {
		int32_t fd;

		memcpy(&fd, s->data + i * sizeof(fd), sizeof(fd));
		if (fd < 0)
			continue;
		if (REAL(fcntl)(fd, F_GETFD) < 0) {
			fd = INT_MAX;
		} else if (nfds == PRELOAD_SIM_MAX_FDS) {
			free(s);
			errno = E2BIG; /* more eventfds than one message carries */
			return -1;
		} else {
			fds[nfds] = fd;
			fd = nfds++;
		}
		memcpy(s->data + i * sizeof(fd), &fd, sizeof(fd));
	}
	c->a[2] |= IOCTL_EVENTFD_IDX;
	c->a[4] = len;
	c->buf = s;
	c->in_len = len;
	c->fds = fds;
	c->nfds = nfds;
	ret = preload_sim(c); /* input only: nothing comes back */
	free(s);
	return ret;
}

/*
 * pinsim_ioctl() of pinsim fd @pfd, here or in the machine host.  A
 * client copies what the request names: a value; a string
 * (GET_DEVICE_FD); or a VFIO struct of argsz bytes (at least 8, at most
 * PRELOAD_SIM_MAX: a larger argsz is clipped to that, which a caps chain
 * then reports as too small), there and back.
 */
static long sim_ioctl(int pfd, unsigned long req, void *arg, unsigned int flags)
{
	struct preload_call c = {.fn = ioctl_fn, .a = {(uint64_t)pfd, req, flags}};
	uint32_t argsz;
	size_t len;
	void *copy;
	long ret;

	if (ioctl_byval(req, arg)) {
		c.a[2] |= IOCTL_BYVAL;
		c.a[3] = (uintptr_t)arg;
		return preload_sim(&c);
	}
	if (!preload.client) {
		c.buf = arg; /* here: the program's own struct, as before */
		return preload_sim(&c);
	}
	if (req == VFIO_GROUP_GET_DEVICE_FD) {
		c.buf = arg;
		c.in_len = strnlen(arg, PRELOAD_SIM_MAX - 1) + 1;
		return preload_sim(&c);
	}
	if (req == VFIO_GROUP_SET_CONTAINER) {
		c.buf = arg;
		c.in_len = c.out_len = sizeof(int);
		return preload_sim(&c);
	}
	memcpy(&argsz, arg, sizeof(argsz));
	len = argsz < 8 ? 8 : argsz > PRELOAD_SIM_MAX ? PRELOAD_SIM_MAX : argsz;
	if (req == VFIO_DEVICE_SET_IRQS && len >= sizeof(struct vfio_irq_set) &&
	    (((struct vfio_irq_set *)arg)->flags & VFIO_IRQ_SET_DATA_EVENTFD))
		return remote_set_irqs(&c, arg, len);
	if (argsz <= PRELOAD_SIM_MAX) {
		c.buf = arg;
		c.in_len = c.out_len = len;
		return preload_sim(&c);
	}
	copy = malloc(len);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(copy, arg, len);
	memcpy(copy, &(uint32_t){(uint32_t)len}, sizeof(uint32_t));
	c.buf = copy;
	c.in_len = c.out_len = len;
	ret = preload_sim(&c);
	if (memcmp(arg, copy, len))
		memcpy(arg, copy, len);
	free(copy);
	return ret;
}

static long group_get_device_fd(struct vfd *v, void *arg)
{
	int pfd;
	long fd;

	preload_mm_enter();
	pfd = (int)sim_ioctl(v->pfd, VFIO_GROUP_GET_DEVICE_FD, arg, 0);
	fd = pfd < 0 ? -1 : vfd_install(pfd, VFD_DEVICE, v->group, true);
	preload_mm_exit();
	return fd;
}

/* VFIO_DEVICE_PCI_HOT_RESET names groups by fd: the program's become pinsim's. */
static long device_hot_reset(struct vfd *v, struct vfio_pci_hot_reset *hr)
{
	struct vfio_pci_hot_reset *copy;
	size_t sz;
	long ret;

	if (hr->argsz < sizeof(*hr) || hr->count > 1024 ||
	    hr->argsz < sizeof(*hr) + hr->count * sizeof(hr->group_fds[0]))
		return sim_ioctl(v->pfd, VFIO_DEVICE_PCI_HOT_RESET, hr, 0);
	sz = sizeof(*hr) + hr->count * sizeof(hr->group_fds[0]);
	copy = malloc(sz);
	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(copy, hr, sz);
	copy->argsz = (uint32_t)sz;
	for (uint32_t i = 0; i < hr->count; i++) {
		struct vfd *g = vfd_get(hr->group_fds[i]);

		copy->group_fds[i] = g ? g->pfd : -1;
	}
	ret = sim_ioctl(v->pfd, VFIO_DEVICE_PCI_HOT_RESET, copy, 0);
	free(copy);
	return ret;
}

static long vfio_ioctl(struct vfd *v, unsigned long req, void *arg)
{
	int fd;

	switch (req) {
	case VFIO_GROUP_SET_CONTAINER: {
		struct vfd *c;

		if (v->kind != VFD_GROUP)
			break;
		c = vfd_get(*(int *)arg);
		/* A host fd that is no container: pinsim's EBADF for a bad fd. */
		fd = c && c->kind == VFD_CONTAINER ? c->pfd : -1;
		return sim_ioctl(v->pfd, req, &fd, 0);
	}
	case VFIO_GROUP_GET_DEVICE_FD:
		if (v->kind == VFD_GROUP)
			return group_get_device_fd(v, arg);
		break;
	case VFIO_DEVICE_PCI_HOT_RESET:
		if (v->kind != VFD_DEVICE)
			break;
		return device_hot_reset(v, arg);
	}
	/* A reset's BAR zap reaches the host mirror through the zap notifier. */
	return sim_ioctl(v->pfd, req, arg, 0);
}

/*
 * MAP_DMA/UNMAP_DMA, counted and timed for the summary where they run (the
 * machine host's: a forked child's are counted there too).
 */
static long dma_ioctl(struct vfd *v, unsigned long req, void *arg)
{
	bool map = req == VFIO_IOMMU_MAP_DMA;
	long ret = sim_ioctl(v->pfd, req, arg, IOCTL_COUNT_DMA);
	int err = ret < 0 ? errno : 0;

	if (map && err)
		preload_shmem_map_dma_failed(arg, err);	/* shmem.c: a host file's memory? */
	sim_enter();
	pins_sample(v);
	sim_exit();
	preload_trace("ioctl %s = %ld%s%s", map ? "MAP_DMA" : "UNMAP_DMA", ret, err ? " " : "",
		      err ? strerror(err) : "");
	errno = err ? err : errno;
	return ret;
}

/* The requests lib/vfio_fd.c and type1 implement (any fd kind). */
static bool vfio_ioctl_known(unsigned long req)
{
	static const unsigned long known[] = {
		VFIO_GET_API_VERSION,
		VFIO_CHECK_EXTENSION,
		VFIO_SET_IOMMU,
		VFIO_GROUP_GET_STATUS,
		VFIO_GROUP_SET_CONTAINER,
		VFIO_GROUP_UNSET_CONTAINER,
		VFIO_GROUP_GET_DEVICE_FD,
		VFIO_DEVICE_GET_INFO,
		VFIO_DEVICE_GET_REGION_INFO,
		VFIO_DEVICE_GET_IRQ_INFO,
		VFIO_DEVICE_SET_IRQS,
		VFIO_DEVICE_RESET,
		VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
		VFIO_DEVICE_PCI_HOT_RESET,
		VFIO_DEVICE_FEATURE,
		VFIO_IOMMU_GET_INFO,
		VFIO_IOMMU_MAP_DMA,
		VFIO_IOMMU_UNMAP_DMA,
		VFIO_IOMMU_DIRTY_PAGES,
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((unsigned int)req == known[i])
			return true;
	return false;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct vfd *v = vfd_get(fd);
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!v)
		return REAL(ioctl)(fd, req, arg);
	if (v->kind == VFD_CONTAINER && (req == VFIO_IOMMU_MAP_DMA || req == VFIO_IOMMU_UNMAP_DMA))
		return (int)dma_ioctl(v, req, arg);
	ret = vfio_ioctl(v, req, arg);
	/*
	 * An ioctl pinsim does not know: ENOTTY, as a kernel without it.  A
	 * known request's own ENOTTY (SET_IRQS MASK of MSI, say) is the
	 * kernel's answer, not a gap in the model.
	 */
	if (ret < 0 && errno == ENOTTY && _IOC_TYPE(req) == VFIO_TYPE && !vfio_ioctl_known(req))
		preload_count_not_modelled("ioctl", req, ENOTTY);
	preload_trace("ioctl %d %#lx = %ld%s%s", fd, req, ret, ret < 0 ? " " : "",
		      ret < 0 ? strerror(errno) : "");
	return (int)ret;
}

/* ---- pread/pwrite of device fds; the loopback DMA engine ---- */

/*
 * PINSIM_LOOPBACK=1: every device's BAR0 holds a DMA engine and interrupt
 * registers.  A pwrite of 32 bytes at BAR0's region offset + 0 is a
 * descriptor of four little-endian u64: source iova, destination iova,
 * length, opcode (1 = copy).  The device reads the source through its
 * IOMMU domain and writes the destination (pinsim_dma()), before pwrite
 * returns; an IOMMU fault makes the pwrite fail with EIO.
 *
 * The interrupt registers are QEMU's edu device's (docs/specs/edu.rst),
 * 32-bit, written with a 4-byte pwrite (the BAR write happens first, so
 * with memory decode off it fails with EIO and nothing is raised):
 *   0x24 (RO) interrupt status: the bits raised and not acknowledged;
 *   0x60 (WO) raise: the value is ORed into the status and the device
 *        sends interrupt 0 — MSI-X, MSI or INTx as its own enable bits say
 *        (pinsim_device_interrupt(), what edu's msi_enabled() test does);
 *   0x64 (WO) acknowledge: the value's bits are cleared from the status;
 * and a pinsim extension for devices with several vectors:
 *   0x68 (WO) raise vector: the device sends interrupt <value>.
 * The registers are BAR0's bytes (a pread or a CPU read of 0x24 sees the
 * status); only a pwrite rings a doorbell.  Test-only: it lets an ordinary
 * program drive simulated DMA and interrupts with nothing but
 * device-region writes.  It runs in the machine host (a forked child's
 * pwrite is served there).
 */
struct loopback_desc {
	uint64_t src, dst, len, op;
};

#define LOOPBACK_IRQ_STATUS 0x24
#define LOOPBACK_IRQ_RAISE 0x60
#define LOOPBACK_IRQ_ACK 0x64
#define LOOPBACK_IRQ_VECTOR 0x68

/* BAR0's region offset in the device fd, or UINT64_MAX without a BAR0. */
static uint64_t loopback_bar0(struct pinsim_proc *p, int pfd)
{
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX};

	if (pinsim_ioctl(p, pfd, VFIO_DEVICE_GET_REGION_INFO, &ri) || !ri.size)
		return UINT64_MAX;
	return ri.offset;
}

/*
 * A doorbell write at @reg of BAR0 (at fd offset @bar0) with @val, after the
 * write itself went through: the status updated, the interrupt sent.
 */
static void loopback_irq(struct pinsim_proc *p, int pfd, int group, uint64_t bar0, uint64_t reg,
			 uint32_t val)
{
	uint32_t status = 0;
	int ret = 0;

	if (pinsim_pread(p, pfd, &status, 4, bar0 + LOOPBACK_IRQ_STATUS) != 4)
		return;
	if (reg == LOOPBACK_IRQ_RAISE)
		status |= val;
	else if (reg == LOOPBACK_IRQ_ACK)
		status &= ~val;
	(void)!pinsim_pwrite(p, pfd, &status, 4, bar0 + LOOPBACK_IRQ_STATUS);
	if (reg == LOOPBACK_IRQ_RAISE)
		ret = pinsim_device_interrupt(preload.m, group, 0);
	else if (reg == LOOPBACK_IRQ_VECTOR)
		ret = pinsim_device_interrupt(preload.m, group, val);
	preload_trace("loopback irq group %d reg %#llx val %#x status %#x = %d", group,
		      (unsigned long long)reg, val, status, ret);
}

static ssize_t loopback_dma(int group, const void *buf, size_t len)
{
	struct loopback_desc d;
	unsigned char *data;
	ssize_t ret = -1;

	if (len != sizeof(d)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&d, buf, sizeof(d));
	if (d.op != 1 || !d.len || d.len > (64ULL << 20)) {
		errno = EINVAL;
		return -1;
	}
	data = malloc(d.len);
	if (!data) {
		errno = ENOMEM;
		return -1;
	}
	if (pinsim_dma(preload.m, group, d.src, data, d.len, 0) != (ssize_t)d.len ||
	    pinsim_dma(preload.m, group, d.dst, data, d.len, 1) != (ssize_t)d.len)
		errno = EIO;
	else
		ret = (ssize_t)len;
	preload_trace("loopback dma group %d %#llx -> %#llx len %#llx = %zd", group,
		      (unsigned long long)d.src, (unsigned long long)d.dst,
		      (unsigned long long)d.len, ret);
	free(data);
	return ret;
}

/* A pwrite of a device fd with PINSIM_LOOPBACK: DMA, doorbells, or the BAR's. */
static long loopback_pwrite(struct pinsim_proc *p, int pfd, int group, const void *buf,
			    size_t len, uint64_t off)
{
	uint64_t bar0 = loopback_bar0(p, pfd), reg = off - bar0;
	uint32_t val;
	long ret;

	if (bar0 == UINT64_MAX || off < bar0 || reg > LOOPBACK_IRQ_VECTOR)
		return pinsim_pwrite(p, pfd, buf, len, off);
	if (!reg && len == sizeof(struct loopback_desc))
		return loopback_dma(group, buf, len);
	ret = pinsim_pwrite(p, pfd, buf, len, off);
	if (ret != 4 || len != 4 ||
	    (reg != LOOPBACK_IRQ_RAISE && reg != LOOPBACK_IRQ_ACK && reg != LOOPBACK_IRQ_VECTOR))
		return ret;
	memcpy(&val, buf, 4);
	loopback_irq(p, pfd, group, bar0, reg, val);
	return ret;
}

/* a: pfd, len, offset, group, is a device fd */
static long pwrite_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		      int nfds)
{
	(void)fds;
	(void)nfds;
	if (a[4] && preload.loopback)
		return loopback_pwrite(p, (int)a[0], (int)a[3], buf, a[1], a[2]);
	return pinsim_pwrite(p, (int)a[0], buf, a[1], a[2]);
}

static long pread_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		     int nfds)
{
	(void)fds;
	(void)nfds;
	return pinsim_pread(p, (int)a[0], buf, a[1], a[2]);
}

/*
 * One pread or pwrite, in pieces of at most PRELOAD_SIM_MAX in a client
 * (a short piece ends it, as a short count would).
 */
static ssize_t vfio_rw(struct vfd *v, void *buf, size_t len, off_t off, bool write)
{
	size_t done = 0;

	do {
		size_t n = len - done;
		long ret;

		if (preload.client && n > PRELOAD_SIM_MAX)
			n = PRELOAD_SIM_MAX;
		ret = preload_sim(&(struct preload_call){
			.fn = write ? pwrite_fn : pread_fn,
			.a = {(uint64_t)v->pfd, n, (uint64_t)off + done, (uint64_t)v->group,
			      v->kind == VFD_DEVICE},
			.buf = (char *)buf + done,
			.in_len = write ? n : 0,
			.out_len = write ? 0 : n,
			.out_is_ret = true});
		if (ret < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)ret;
		if ((size_t)ret < n)
			break;
	} while (done < len);
	/* Decode off zaps the BARs: the zap notifier drops the host mirror. */
	return (ssize_t)done;
}

/*
 * read/write and their positioned forms on a pinsim fd.  A device fd is
 * vfio_device_fops' .read/.write (vfio_pci_rw() at the offset, which
 * encodes the region).  A container or group fd has no .read/.write:
 * vfs_read()/vfs_write() give EINVAL without FMODE_CAN_READ/WRITE.  A
 * shared-memory file's bytes through read(2) are not modelled (only its
 * mappings are): EINVAL, listed in the summary.
 */
static ssize_t fd_rw(struct vfd *v, void *buf, size_t len, off_t off, bool write)
{
	if (v->kind == VFD_DEVICE)
		return vfio_rw(v, buf, len, off, write);
	if (v->kind == VFD_SHMEM)
		preload_count_not_modelled(write ? "write of shared memory" :
						   "read of shared memory",
					   0, EINVAL);
	errno = EINVAL;
	return -1;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw(v, (void *)buf, len, off, true) : REAL(pwrite)(fd, buf, len, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw(v, (void *)buf, len, off, true) : REAL(pwrite64)(fd, buf, len, off);
}
ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw(v, buf, len, off, false) : REAL(pread)(fd, buf, len, off);
}
ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw(v, buf, len, off, false) : REAL(pread64)(fd, buf, len, off);
}

/*
 * read(2)/write(2) of a device fd: from the file position, which the
 * bytes moved advance (ksys_read()'s f_pos; shared by dup()s, as the
 * open file description's).  No f_pos_lock: not a regular file.
 */
static ssize_t fd_rw_pos(struct vfd *v, void *buf, size_t len, bool write)
{
	long long pos = atomic_load(&v->f->pos);
	ssize_t ret;

	if (pos < 0 || (unsigned long long)pos > (unsigned long long)LLONG_MAX - len) {
		errno = EINVAL;
		return -1;
	}
	ret = fd_rw(v, buf, len, (off_t)pos, write);
	if (ret > 0)
		atomic_fetch_add(&v->f->pos, (long long)ret);
	return ret;
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw_pos(v, buf, len, false) : REAL(read)(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_rw_pos(v, (void *)buf, len, true) : REAL(write)(fd, buf, len);
}

/*
 * lseek(2): VFIO's files have no .llseek, so no FMODE_LSEEK: vfs_llseek()
 * gives ESPIPE.  A shared-memory file's host placeholder has no size:
 * not modelled, EINVAL.
 */
static off_t fd_lseek(struct vfd *v)
{
	if (v->kind == VFD_SHMEM) {
		preload_count_not_modelled("lseek of shared memory", 0, EINVAL);
		errno = EINVAL;
		return -1;
	}
	errno = ESPIPE;
	return -1;
}

off_t lseek(int fd, off_t off, int whence)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_lseek(v) : REAL(lseek)(fd, off, whence);
}

off_t lseek64(int fd, off_t off, int whence)
{
	struct vfd *v = vfd_get(fd);

	return v ? fd_lseek(v) : REAL(lseek64)(fd, off, whence);
}

/* mirror.c: the pinsim fd behind a host fd, for device-region mmaps. */
int preload_pinsim_fd(int fd);
int preload_pinsim_fd(int fd)
{
	struct vfd *v = vfd_get(fd);

	return v && (v->kind == VFD_DEVICE || v->kind == VFD_SHMEM) ? v->pfd : -1;
}

/* shmem.c: shared memory fds in the same table. */
int preload_vfd_install_shmem(int pfd, bool cloexec, int hshift)
{
	int fd = vfd_install(pfd, VFD_SHMEM, -1, cloexec);

	if (fd >= 0)
		vfds[fd].f->hshift = hshift;
	return fd;
}

/* sysfs.c: fstatfs() of a hugetlbfs file: its page shift, or 0. */
int preload_shmem_hugetlb_shift(int fd)
{
	struct vfd *v = vfd_get(fd);

	return v && v->kind == VFD_SHMEM ? v->f->hshift : 0;
}

/* shmem.c: a container, group or device fd (ftruncate: EINVAL). */
bool preload_vfio_fd(int fd)
{
	struct vfd *v = vfd_get(fd);

	return v && v->kind != VFD_SHMEM;
}

int preload_shmem_pfd(int fd)
{
	struct vfd *v = vfd_get(fd);

	return v && v->kind == VFD_SHMEM ? v->pfd : -1;
}
