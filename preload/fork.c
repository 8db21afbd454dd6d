// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork(2) of a program running over the preload (issue 12): the machine
 * stays in the process that created it (the machine host); a forked child
 * becomes a client whose every pinsim call is executed, in its own
 * simulated process, by a server thread of the machine host.  See the
 * comment at the top of preload.c for why and for the limits.
 *
 * One entry point for every call into pinsim, preload_sim(): in the machine
 * host it runs the call on the calling thread; in a client it sends the
 * call (the function's address, valid in both since a fork keeps the
 * image, six scalar arguments, a buffer, fds by SCM_RIGHTS) over the
 * client's SOCK_SEQPACKET socket and waits for the reply.  The server
 * thread runs the same function with the child's struct pinsim_proc: it is
 * the child's task in the simulated kernel (sim's in_proc() makes one per
 * host thread and process).
 *
 * Zaps of a child's memory (the simulated kernel's
 * mmu_notifier_invalidate_range_end(), the child's notifier) run in the
 * machine host on whatever thread zapped: a device reset there, the
 * injector, the child's own munmap or COW break served by its server
 * thread.  They are delivered on a second socket to a listener thread the
 * child starts, which drops its host mirror of the range and acknowledges;
 * the notifier waits for the acknowledgement (synchronous, as the kernel's
 * zap is for every mm), for PINSIM_FORK_ZAP_TIMEOUT_MS (default 2000) at
 * most.  A listener thread rather than a signal: a signal would be held by
 * a child that blocks it and would interrupt the child's system calls
 * (EINTR) where the kernel's zap interrupts nothing.  On timeout (a stopped
 * or traced child, a child wedged in its own SIGSEGV handler) the zap is
 * counted in the summary as unacknowledged and the notifier returns: the
 * child may keep seeing the old frame through what it had mapped until
 * its listener runs (it then drops the range, late).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

/* One request: a function of this image, its arguments, in bytes following. */
struct sim_req {
	uint64_t fn;
	uint64_t a[PRELOAD_SIM_ARGS];
	uint32_t in_len, out_len;
	uint32_t out_is_ret;
};

struct sim_rep {
	int64_t ret;
	int32_t err;
	uint32_t out_len;
};

/* A zap for the child, and the acknowledgement (same seq). */
struct zap_msg {
	uint64_t seq, start, end;
};

/* Machine host: one per client process, served by its own thread. */
struct conn {
	struct pinsim_proc *p;
	int sock, zap;
	pthread_mutex_t zap_lock; /* one zap in flight per child */
	uint64_t zap_seq;
	pid_t pid; /* the host pid, once its parent knows it (0 before) */
	/*
	 * The server's request buffer, held here rather than only on its
	 * stack: a process forked meanwhile has a copy of the heap but not of
	 * the server thread, and LeakSanitizer at its exit must still find the
	 * buffer reachable (from conns).
	 */
	char *buf;
	/*
	 * Posted by the server once it has started and allocated: the fork
	 * waits for it, so that no thread of the forking process is inside
	 * its own start-up allocations (gcc 12's ASan allocator locks are not
	 * taken around fork: a child could inherit one held).
	 */
	sem_t ready;
	struct conn *next;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
/* Broadcast when a conn leaves the list (its process is gone). */
static pthread_cond_t conns_cond = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
/*
 * Server threads that ended and are not joined yet (under conns_lock).  A
 * fork joins them first: a server's last frees may still be running when
 * wait() lets the program go on, and a child forked while one holds an
 * allocator lock would inherit it held (glibc's malloc takes its locks
 * around fork, gcc 12's ASan allocator does not).
 */
#define MAX_RETIRED 64
static pthread_t retired[MAX_RETIRED];
static int nr_retired;
/* Serialises a multi-threaded client's requests on its one socket. */
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Held for read by every call that changes the simulated mm or fd table
 * (mirror.c's mmap/munmap/madvise, VFIO open/close/GET_DEVICE_FD) and for
 * write by fork: the child's host copy and its simulated copy are taken
 * at one point, as dup_mmap() does under the parent's mmap_write_lock and
 * dup_fd() under file_lock.
 */
static pthread_rwlock_t fork_lock = PTHREAD_RWLOCK_INITIALIZER;
static int zap_timeout_ms = 2000;

void preload_mm_enter(void)
{
	pthread_rwlock_rdlock(&fork_lock);
}

void preload_mm_exit(void)
{
	pthread_rwlock_unlock(&fork_lock);
}

/* ---- client: a request and its reply ---- */

static ssize_t send_all(int fd, struct msghdr *mh)
{
	ssize_t n;

	do
		n = sendmsg(fd, mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t recv_one(int fd, struct msghdr *mh, int flags)
{
	ssize_t n;

	do
		n = recvmsg(fd, mh, flags);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Under req_lock: send the request, receive the reply into @rep and @tmp. */
static int client_roundtrip(const struct sim_req *rq, void *tmp, const int *fds, int nfds,
			    struct sim_rep *rep)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PRELOAD_SIM_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct iovec iov[2] = {{(void *)rq, sizeof(*rq)}, {tmp, rq->in_len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = rq->in_len ? 2 : 1};
	ssize_t n;

	if (nfds) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (send_all(preload.sock, &mh) < 0)
		return -1;
	iov[0] = (struct iovec){rep, sizeof(*rep)};
	iov[1] = (struct iovec){tmp, rq->out_len};
	mh = (struct msghdr){.msg_iov = iov, .msg_iovlen = 2};
	n = recv_one(preload.sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < (ssize_t)sizeof(*rep) || rep->out_len > rq->out_len ||
	    (size_t)n != sizeof(*rep) + rep->out_len) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/*
 * The caller's buffer may be mirrored memory: it is read and written only
 * outside req_lock, so that a first touch of it (a SIGSEGV handled by a
 * request of its own) never waits for the lock its thread holds.
 */
static long client_call(const struct preload_call *c)
{
	size_t len = c->in_len > c->out_len ? c->in_len : c->out_len;
	struct sim_req rq = {.fn = (uintptr_t)c->fn,
			     .in_len = (uint32_t)c->in_len,
			     .out_len = (uint32_t)c->out_len,
			     .out_is_ret = c->out_is_ret};
	struct sim_rep rep;
	char small[256], *tmp = small;
	int rc, err;

	if (len > PRELOAD_SIM_MAX || c->nfds > PRELOAD_SIM_MAX_FDS) {
		errno = E2BIG;
		return -1;
	}
	if (preload.sock < 0) {
		errno = EIO;
		return -1;
	}
	if (len > sizeof(small) && !(tmp = malloc(len))) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(rq.a, c->a, sizeof(rq.a));
	if (c->in_len)
		memcpy(tmp, c->buf, c->in_len);
	pthread_mutex_lock(&req_lock);
	rc = client_roundtrip(&rq, tmp, c->fds, c->nfds, &rep);
	pthread_mutex_unlock(&req_lock);
	if (rc) {
		/* The machine host is gone (it exited or exec'd). */
		if (tmp != small)
			free(tmp);
		errno = EIO;
		return -1;
	}
	/* Only bytes that changed are written back: a const input stays untouched. */
	if (rep.out_len && memcmp(c->buf, tmp, rep.out_len))
		memcpy(c->buf, tmp, rep.out_len);
	err = rep.err;
	if (tmp != small)
		free(tmp);
	errno = err;
	return (long)rep.ret;
}

long preload_sim(const struct preload_call *c)
{
	long ret;
	int err;

	if (preload.client)
		return client_call(c);
	sim_enter();
	ret = c->fn(preload.p, c->a, c->buf, c->fds, c->nfds);
	err = errno;
	sim_exit();
	errno = err;
	return ret;
}

/* ---- machine host: a child's server thread ---- */

/* The child's notifier: any thread, simulated locks held, no pinsim calls. */
static void child_zapped(void *data, uint64_t start, uint64_t end)
{
	struct conn *cn = data;
	struct zap_msg m = {0, start, end}, ack;
	struct timespec t0, now;
	int left = zap_timeout_ms;

	pthread_mutex_lock(&cn->zap_lock);
	m.seq = ++cn->zap_seq;
	if (send(cn->zap, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		goto out; /* the child is gone: nothing of it left to drop */
	preload_count_fork_zap(false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf = {cn->zap, POLLIN, 0};
		int r = poll(&pf, 1, left);
		ssize_t n;

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			n = recv(cn->zap, &ack, sizeof(ack), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break; /* the child died: its mappings went with it */
			if (n == sizeof(ack) && ack.seq == m.seq)
				break;
			/* A late acknowledgement of an earlier zap: keep waiting. */
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = zap_timeout_ms - (int)((now.tv_sec - t0.tv_sec) * 1000 +
					      (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			preload_count_fork_zap(true);
			preload_trace("zap %#llx-%#llx: child did not acknowledge in %d ms",
				      (unsigned long long)start, (unsigned long long)end,
				      zap_timeout_ms);
			break;
		}
	}
out:
	pthread_mutex_unlock(&cn->zap_lock);
}

static void conn_unlink(struct conn *cn)
{
	pthread_mutex_lock(&conns_lock);
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	}
	pthread_cond_broadcast(&conns_cond);
	pthread_mutex_unlock(&conns_lock);
}

/*
 * The server's end: off the list like conn_unlink(), and the calling
 * thread on the retired list for retired_join() (detached instead when
 * the list is full, which only a burst of 64 unjoined children can do).
 */
static void conn_retire(struct conn *cn)
{
	pthread_mutex_lock(&conns_lock);
	if (nr_retired < MAX_RETIRED)
		retired[nr_retired++] = pthread_self();
	else
		pthread_detach(pthread_self());
	pthread_mutex_unlock(&conns_lock);
	conn_unlink(cn);
}

/* Run one request: the function as the child's task; received fds closed after. */
static void serve_one(struct conn *cn, char *buf, ssize_t n, struct msghdr *mh)
{
	struct sim_req rq;
	struct sim_rep rep = {0, 0, 0};
	int fds[PRELOAD_SIM_MAX_FDS], nfds = 0;
	struct iovec iov[2];
	struct msghdr out = {.msg_iov = iov, .msg_iovlen = 2};
	preload_sim_fn *fn;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (nfds < PRELOAD_SIM_MAX_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	memcpy(&rq, buf, sizeof(rq));
	if ((size_t)n != sizeof(rq) + rq.in_len || rq.out_len > PRELOAD_SIM_MAX) {
		rep.ret = -1;
		rep.err = EPROTO;
	} else {
		char *data = buf + sizeof(rq);

		size_t z = rq.out_len > rq.in_len ? rq.out_len - rq.in_len : 0;

		/* What the caller did not send reads as zeros (an ioctl's minsz). */
		z = z > 512 ? z : 512;
		memset(data + rq.in_len, 0,
		       z < PRELOAD_SIM_MAX - rq.in_len ? z : PRELOAD_SIM_MAX - rq.in_len);
		fn = (preload_sim_fn *)(uintptr_t)rq.fn;
		sim_enter();
		rep.ret = fn(cn->p, rq.a, data, fds, nfds);
		rep.err = rep.ret < 0 ? errno : 0;
		sim_exit();
		rep.out_len = rq.out_len;
		if (rq.out_is_ret && (rep.ret < 0 || (uint64_t)rep.ret < rq.out_len))
			rep.out_len = rep.ret > 0 ? (uint32_t)rep.ret : 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	iov[0] = (struct iovec){&rep, sizeof(rep)};
	iov[1] = (struct iovec){buf + sizeof(rq), rep.out_len};
	send_all(cn->sock, &out);
}

/*
 * Until the child's end closes (its exit, or its exec: the socket is
 * CLOEXEC): then the child's process goes as kernel/exit.c do_exit() takes
 * it, pinsim_proc_destroy(): exit_mmap() (VMAs, page tables, the child's
 * references on COW-shared frames), then its fds (a container only the
 * child held is released: every mapping removed, every page unpinned; one
 * the parent shares stays, with whatever the child mapped in it pinned, as
 * vfio_dma's task and mm references keep them in the kernel).
 */
static void *server(void *arg)
{
	struct conn *cn = arg;
	char *buf = cn->buf = malloc(sizeof(struct sim_req) + PRELOAD_SIM_MAX);
	union {
		char b[CMSG_SPACE(sizeof(int) * PRELOAD_SIM_MAX_FDS)];
		struct cmsghdr align;
	} cm;

	sem_post(&cn->ready);
	while (buf) {
		struct iovec iov = {buf, sizeof(struct sim_req) + PRELOAD_SIM_MAX};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cm.b,
				    .msg_controllen = sizeof(cm.b)};
		ssize_t n = recv_one(cn->sock, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			break;
		if ((size_t)n < sizeof(struct sim_req))
			continue;
		serve_one(cn, buf, n, &mh);
	}
	sim_enter();
	pinsim_proc_destroy(cn->p);
	sim_exit();
	preload_count_fork_exit();
	close(cn->sock);
	close(cn->zap);
	pthread_mutex_destroy(&cn->zap_lock);
	free(buf);
	cn->buf = NULL;
	/* Only now: a waiter of this child (wait_fn()) may go on. */
	conn_retire(cn);
	sem_destroy(&cn->ready);
	free(cn);
	return NULL;
}

/* Join the servers that ended (before a fork: none may be mid-free). */
static void retired_join(void)
{
	pthread_t t[MAX_RETIRED];
	int n;

	pthread_mutex_lock(&conns_lock);
	n = nr_retired;
	memcpy(t, retired, sizeof(t[0]) * (size_t)n);
	nr_retired = 0;
	pthread_mutex_unlock(&conns_lock);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* A thread with every signal blocked: the program's signals are not for it. */
static int start_thread_attr(void *(*fn)(void *), void *arg, bool detached)
{
	sigset_t all, old;
	pthread_attr_t at;
	pthread_t t;
	int err;

	sigfillset(&all);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, detached ? PTHREAD_CREATE_DETACHED :
						    PTHREAD_CREATE_JOINABLE);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &at, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	return err;
}

static int start_thread(void *(*fn)(void *), void *arg)
{
	return start_thread_attr(fn, arg, true);
}

/*
 * kernel/fork.c copy_process() for @p (the machine host's process, or a
 * client's, served on its thread): pinsim_fork(), then the child's server
 * on fds[0] (requests) and fds[1] (zaps), both borrowed (duplicated here).
 */
static long fork_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds, int nfds)
{
	struct conn *cn;
	int err = ENOMEM;

	(void)a;
	if (nfds != 2) {
		errno = EINVAL;
		return -1;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn)
		goto fail;
	cn->sock = cn->zap = -1;
	cn->sock = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
	cn->zap = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
	if (cn->sock < 0 || cn->zap < 0) {
		err = errno;
		goto fail_fds;
	}
	pthread_mutex_init(&cn->zap_lock, NULL);
	if (pinsim_fork(p, &cn->p)) {
		err = errno;
		goto fail_fds;
	}
	if (pinsim_set_zap_notifier(cn->p, child_zapped, cn))
		goto fail_proc;
	pthread_mutex_lock(&conns_lock);
	cn->next = conns;
	conns = cn;
	pthread_mutex_unlock(&conns_lock);
	sem_init(&cn->ready, 0, 0);
	err = start_thread_attr(server, cn, false);
	if (!err) {
		while (sem_wait(&cn->ready) && errno == EINTR)
			;
		preload_count_fork();
		memcpy(buf, &(uint64_t){(uintptr_t)cn}, sizeof(uint64_t));
		return 0;
	}
	conn_unlink(cn);
fail_proc:
	pinsim_proc_destroy(cn->p);
fail_fds:
	if (cn->sock >= 0)
		close(cn->sock);
	if (cn->zap >= 0)
		close(cn->zap);
	free(cn);
fail:
	errno = err;
	return -1;
}

/* a: the conn fork_fn() named, the child's pid. */
static long setpid_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		      int nfds)
{
	(void)p;
	(void)buf;
	(void)fds;
	(void)nfds;
	pthread_mutex_lock(&conns_lock);
	for (struct conn *cn = conns; cn; cn = cn->next)
		if ((uintptr_t)cn == a[0])
			cn->pid = (pid_t)a[1];
	pthread_mutex_unlock(&conns_lock);
	return 0;
}

/*
 * a: a pid a wait call reported dead.  The kernel's do_exit() runs
 * exit_mm() and exit_files() before exit_notify() wakes the waiter: the
 * child's simulated process must be gone too before the wait returns (a
 * BAR its VMAs held keeps the device open: the parent's UNSET_CONTAINER
 * would be EBUSY).  Its server saw the socket close when the host process
 * died; this waits for it to finish (10 s at most).
 */
static long wait_fn(struct pinsim_proc *p, const uint64_t *a, void *buf, const int *fds,
		    int nfds)
{
	struct timespec dl;
	bool found = true;

	(void)p;
	(void)buf;
	(void)fds;
	(void)nfds;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&conns_lock);
	while (found) {
		found = false;
		for (struct conn *cn = conns; cn && !found; cn = cn->next)
			found = cn->pid == (pid_t)a[0];
		if (found && pthread_cond_timedwait(&conns_cond, &conns_lock, &dl))
			break;
	}
	pthread_mutex_unlock(&conns_lock);
	return 0;
}

/* After a wait call reaped (or saw dead) @pid. */
static void waited(pid_t pid, bool dead)
{
	if (pid > 0 && dead && preload.ready && !preload_in_sim)
		preload_sim(&(struct preload_call){.fn = wait_fn, .a = {(uint64_t)pid}});
}

pid_t waitpid(pid_t pid, int *status, int options)
{
	int st = 0;
	pid_t ret = REAL(waitpid)(pid, &st, options);
	int err = errno;

	if (ret > 0 && status)
		*status = st;
	waited(ret, WIFEXITED(st) || WIFSIGNALED(st));
	errno = err;
	return ret;
}

pid_t wait(int *status)
{
	return waitpid(-1, status, 0);
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	int st = 0;
	pid_t ret = REAL(wait4)(pid, &st, options, ru);
	int err = errno;

	if (ret > 0 && status)
		*status = st;
	waited(ret, WIFEXITED(st) || WIFSIGNALED(st));
	errno = err;
	return ret;
}

pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	int ret = REAL(waitid)(type, id, info, options), err = errno;

	if (!ret && info)
		waited(info->si_pid, info->si_code == CLD_EXITED || info->si_code == CLD_KILLED ||
					     info->si_code == CLD_DUMPED);
	errno = err;
	return ret;
}

/* ---- client: the zap listener ---- */

static void *zap_listener(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct zap_msg m;
	ssize_t n;

	for (;;) {
		n = recv(fd, &m, sizeof(m), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			break; /* the machine host is gone */
		mirror_zap(m.start, m.end);
		send(fd, &m, sizeof(m), MSG_NOSIGNAL);
	}
	return NULL;
}

/*
 * In the new child, single-threaded: it drops what it inherited of the
 * machine host's and its parent's plumbing, and becomes a client.
 */
static void client_start(int sock, int zap)
{
	struct conn *cn = conns;

	/* Servers of other children: the machine host's, not ours. */
	conns = NULL;
	nr_retired = 0;
	while (cn) {
		struct conn *next = cn->next;

		close(cn->sock);
		close(cn->zap);
		/* Their threads did not come along: what they held goes. */
		free(cn->buf);
		free(cn);
		cn = next;
	}
	pthread_mutex_init(&conns_lock, NULL);
	pthread_cond_init(&conns_cond, NULL);
	pthread_mutex_init(&req_lock, NULL);
	if (preload.client) {
		close(preload.sock);
		close(preload.zap);
	}
	preload.client = true;
	preload.sock = sock;
	preload.zap = zap;
	/* Nothing here may reach the copy of the machine: it is not ours. */
	preload.p = NULL;
	preload.m = NULL;
	mirror_client_start();
	summary_forked();
	if (start_thread(zap_listener, (void *)(intptr_t)zap))
		preload_trace("child %d: no zap listener: host zaps are not followed",
			      (int)getpid());
}

/*
 * A fork before the program used VFIO: a plain fork, and the child has no
 * machine (one machine per machine host; the copy in the child's memory
 * shares the host's memfds and must never run).
 */
static void child_without_machine(void)
{
	preload.ready = false;
	preload.p = NULL;
	preload.m = NULL;
	snprintf(preload.error, sizeof(preload.error),
		 "process %d was forked before its parent used VFIO and has no simulated "
		 "machine (the machine stays in the process that created it)",
		 (int)getpid());
	pthread_rwlock_init(&fork_lock, NULL);
	summary_forked();
}

static pid_t do_fork(pid_t (*real)(void))
{
	int req[2] = {-1, -1}, zap[2] = {-1, -1};
	uint64_t id = 0;
	pid_t pid;
	long ret;

	if (preload_in_sim || !preload.ready)
		return real();
	pthread_rwlock_wrlock(&fork_lock);
	retired_join();
	if (!preload.client && !mirror_any() && !preload_fds_any()) {
		pid = real();
		if (!pid)
			child_without_machine();
		else
			pthread_rwlock_unlock(&fork_lock);
		return pid;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, zap))
		goto fail;
	ret = preload_sim(&(struct preload_call){.fn = fork_fn,
						 .buf = &id,
						 .out_len = sizeof(id),
						 .fds = (int[]){req[1], zap[1]},
						 .nfds = 2});
	if (ret < 0)
		goto fail;
	/* Served from now on: the child must not inherit the server's ends. */
	close(req[1]);
	close(zap[1]);
	/* No lock the child needs may be held by a thread it will not have. */
	pthread_mutex_lock(&conns_lock);
	mirror_fork_prepare();
	preload_fds_fork_prepare();
	pid = real();
	preload_fds_fork_release(!pid);
	mirror_fork_release(!pid);
	pthread_mutex_unlock(&conns_lock);
	if (!pid) {
		pthread_rwlock_init(&fork_lock, NULL);
		client_start(req[0], zap[0]);
		preload_trace("fork: child %d is a client", (int)getpid());
		return 0;
	}
	/* Parent, or a failed fork: the server sees EOF and ends the child. */
	close(req[0]);
	close(zap[0]);
	if (pid > 0)
		preload_sim(&(struct preload_call){.fn = setpid_fn, .a = {id, (uint64_t)pid}});
	pthread_rwlock_unlock(&fork_lock);
	preload_trace("fork = %d", (int)pid);
	return pid;
fail:
	for (int i = 0; i < 2; i++) {
		if (req[i] >= 0)
			close(req[i]);
		if (zap[i] >= 0)
			close(zap[i]);
	}
	pthread_rwlock_unlock(&fork_lock);
	/* Like the kernel's copy_process() failing: no child. */
	errno = errno == EIO ? EAGAIN : errno;
	return -1;
}

pid_t fork(void)
{
	return do_fork(REAL(fork));
}

/* The same entry point under its other exported name. */
pid_t __fork(void);
pid_t __fork(void)
{
	return do_fork(REAL(fork));
}

void fork_init(void)
{
	const char *t = getenv("PINSIM_FORK_ZAP_TIMEOUT_MS");

	if (t && atoi(t) > 0)
		zap_timeout_ms = atoi(t);
	preload.sock = preload.zap = -1;
	/* Ended servers are joined at exit too (ThreadSanitizer: no thread leak). */
	atexit(retired_join);
}
