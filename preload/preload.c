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
 *   - several processes on one simulated machine (each process that loads
 *     the library gets a machine of its own);
 *   - exec: the machine dies with the process image (an exec'd program
 *     that still has LD_PRELOAD starts a fresh machine, its VFIO fds are
 *     gone);
 *   - fork with the kernel's semantics (not done in this slice: a child
 *     shares the parent's mirrored pages MAP_SHARED instead of
 *     copy-on-write, and its simulated process is the parent's).
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
	preload_in_sim++;
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
		} else {
			return config_error("PINSIM_DEVICES: unknown key in '%.*s' (bar0..bar5, "
					    "unit)",
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
		if (pinsim_add_device(preload.m, &preload.dev[i].spec, &preload.dev[i].group))
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

enum vfd_kind { VFD_NONE = 0, VFD_CONTAINER, VFD_GROUP, VFD_DEVICE };

/* One pinsim file, shared by the host fds that dup() made of one. */
struct vfile {
	/*
	 * Host fds naming it (struct file's f_count, as far as fds hold it):
	 * the last close() releases the file.
	 */
	int refs;
	/* A container's pinning counters when last sampled (summary). */
	struct pinsim_pin_counters seen;
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
		sim_enter();
		pinsim_close(preload.p, pfd);
		sim_exit();
		errno = err;
		return -1;
	}
	f->refs = 1;
	pthread_mutex_lock(&vfds_lock);
	vfds[fd] = (struct vfd){.pfd = pfd, .group = group, .kind = kind, .f = f};
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

static int vfio_open(const char *path, int flags)
{
	int group = -1, kind = vfio_path(path, &group), pfd;

	if (!preload.ready) {
		fprintf(stderr, "pinsim-preload: open %s: %s\n", path, preload.error);
		errno = ENOENT;
		return -1;
	}
	sim_enter();
	pfd = pinsim_open(preload.p, path, flags);
	sim_exit();
	preload_trace("open %s = %d%s%s", path, pfd, pfd < 0 ? " " : "",
		      pfd < 0 ? strerror(errno) : "");
	if (pfd < 0)
		return -1;
	return vfd_install(pfd, kind ? VFD_GROUP : VFD_CONTAINER, group, flags & O_CLOEXEC);
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
	last = !--v.f->refs;
	pthread_mutex_unlock(&vfds_lock);
	if (!last)
		return;
	free(v.f);
	sim_enter();
	pinsim_close(preload.p, v.pfd);
	sim_exit();
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

	if (pinsim_vfio_stats(preload.p, v->pfd, &st))
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
	}
	pthread_mutex_unlock(&vfds_lock);
}

int close(int fd)
{
	struct vfd *v = vfd_get(fd);

	if (v) {
		vfd_put(fd);
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
	if (newfd >= 0 && newfd < MAX_HOST_FD && !preload_in_sim)
		vfd_put(newfd);
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

static long group_get_device_fd(struct vfd *v, void *arg)
{
	int pfd;

	sim_enter();
	pfd = pinsim_ioctl(preload.p, v->pfd, VFIO_GROUP_GET_DEVICE_FD, arg);
	sim_exit();
	if (pfd < 0)
		return -1;
	return vfd_install(pfd, VFD_DEVICE, v->group, true);
}

/* VFIO_DEVICE_PCI_HOT_RESET names groups by fd: the program's become pinsim's. */
static long device_hot_reset(struct vfd *v, struct vfio_pci_hot_reset *hr)
{
	struct vfio_pci_hot_reset *copy;
	size_t sz;
	long ret;

	if (hr->argsz < sizeof(*hr) || hr->count > 1024 ||
	    hr->argsz < sizeof(*hr) + hr->count * sizeof(hr->group_fds[0]))
		return pinsim_ioctl(preload.p, v->pfd, VFIO_DEVICE_PCI_HOT_RESET, hr);
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
	ret = pinsim_ioctl(preload.p, v->pfd, VFIO_DEVICE_PCI_HOT_RESET, copy);
	free(copy);
	return ret;
}

static long vfio_ioctl(struct vfd *v, unsigned long req, void *arg)
{
	long ret;
	int fd;

	switch (req) {
	case VFIO_GROUP_SET_CONTAINER: {
		struct vfd *c;

		if (v->kind != VFD_GROUP)
			break;
		c = vfd_get(*(int *)arg);
		/* A host fd that is no container: pinsim's EBADF for a bad fd. */
		fd = c && c->kind == VFD_CONTAINER ? c->pfd : -1;
		sim_enter();
		ret = pinsim_ioctl(preload.p, v->pfd, req, &fd);
		sim_exit();
		return ret;
	}
	case VFIO_GROUP_GET_DEVICE_FD:
		if (v->kind == VFD_GROUP)
			return group_get_device_fd(v, arg);
		break;
	case VFIO_DEVICE_PCI_HOT_RESET:
		if (v->kind != VFD_DEVICE)
			break;
		sim_enter();
		ret = device_hot_reset(v, arg);
		sim_exit();
		return ret;
	}
	sim_enter();
	ret = pinsim_ioctl(preload.p, v->pfd, req, arg);
	sim_exit();
	/* A reset's BAR zap reaches the host mirror through the zap notifier. */
	return ret;
}

/* MAP_DMA/UNMAP_DMA, counted and timed for the summary. */
static long dma_ioctl(struct vfd *v, unsigned long req, void *arg)
{
	bool map = req == VFIO_IOMMU_MAP_DMA;
	uint64_t t0 = preload_now_ns(), bytes = 0;
	long ret = vfio_ioctl(v, req, arg);
	int err = ret < 0 ? errno : 0;
	uint64_t ns = preload_now_ns() - t0;

	sim_enter();
	pins_sample(v);
	sim_exit();

	if (!err && map)
		bytes = ((struct vfio_iommu_type1_dma_map *)arg)->size;
	else if (!err)
		bytes = ((struct vfio_iommu_type1_dma_unmap *)arg)->size;
	preload_count_op(map ? PRELOAD_OP_MAP : PRELOAD_OP_UNMAP, err, bytes, ns);
	preload_trace("ioctl %s = %ld%s%s", map ? "MAP_DMA" : "UNMAP_DMA", ret, err ? " " : "",
		      err ? strerror(err) : "");
	errno = err ? err : errno;
	return ret;
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
	/* An ioctl pinsim does not know: ENOTTY, as a kernel without it. */
	if (ret < 0 && errno == ENOTTY && _IOC_TYPE(req) == VFIO_TYPE)
		preload_count_not_modelled("ioctl", req, ENOTTY);
	preload_trace("ioctl %d %#lx = %ld%s%s", fd, req, ret, ret < 0 ? " " : "",
		      ret < 0 ? strerror(errno) : "");
	return (int)ret;
}

/* ---- pread/pwrite of device fds; the loopback DMA engine ---- */

/*
 * PINSIM_LOOPBACK=1: every device's BAR0 holds a DMA engine.  A pwrite of
 * 32 bytes at BAR0's region offset + 0 is a descriptor of four
 * little-endian u64: source iova, destination iova, length, opcode (1 =
 * copy).  The device reads the source through its IOMMU domain and writes
 * the destination (pinsim_dma()), before pwrite returns; an IOMMU fault
 * makes the pwrite fail with EIO.  Test-only: it lets an ordinary program
 * drive simulated DMA with nothing but a device-region write.
 */
struct loopback_desc {
	uint64_t src, dst, len, op;
};

static bool loopback_bar0(struct vfd *v, uint64_t off)
{
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX};

	if (!preload.loopback || v->kind != VFD_DEVICE)
		return false;
	if (pinsim_ioctl(preload.p, v->pfd, VFIO_DEVICE_GET_REGION_INFO, &ri) || !ri.size)
		return false;
	return off == ri.offset;
}

static ssize_t loopback_dma(struct vfd *v, const void *buf, size_t len)
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
	if (pinsim_dma(preload.m, v->group, d.src, data, d.len, 0) != (ssize_t)d.len ||
	    pinsim_dma(preload.m, v->group, d.dst, data, d.len, 1) != (ssize_t)d.len)
		errno = EIO;
	else
		ret = (ssize_t)len;
	preload_trace("loopback dma group %d %#llx -> %#llx len %#llx = %zd", v->group,
		      (unsigned long long)d.src, (unsigned long long)d.dst,
		      (unsigned long long)d.len, ret);
	free(data);
	return ret;
}

static ssize_t vfio_pwrite(struct vfd *v, const void *buf, size_t len, off_t off)
{
	ssize_t ret;

	sim_enter();
	if (len == sizeof(struct loopback_desc) && loopback_bar0(v, (uint64_t)off))
		ret = loopback_dma(v, buf, len);
	else
		ret = pinsim_pwrite(preload.p, v->pfd, buf, len, (uint64_t)off);
	sim_exit();
	/* Decode off zaps the BARs: the zap notifier drops the host mirror. */
	return ret;
}

static ssize_t vfio_pread(struct vfd *v, void *buf, size_t len, off_t off)
{
	ssize_t ret;

	sim_enter();
	ret = pinsim_pread(preload.p, v->pfd, buf, len, (uint64_t)off);
	sim_exit();
	return ret;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? vfio_pwrite(v, buf, len, off) : REAL(pwrite)(fd, buf, len, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? vfio_pwrite(v, buf, len, off) : REAL(pwrite64)(fd, buf, len, off);
}
ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? vfio_pread(v, buf, len, off) : REAL(pread)(fd, buf, len, off);
}
ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	struct vfd *v = vfd_get(fd);

	return v ? vfio_pread(v, buf, len, off) : REAL(pread64)(fd, buf, len, off);
}

/* mirror.c: the pinsim fd behind a host fd, for device-region mmaps. */
int preload_pinsim_fd(int fd);
int preload_pinsim_fd(int fd)
{
	struct vfd *v = vfd_get(fd);

	return v && v->kind == VFD_DEVICE ? v->pfd : -1;
}
