// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many threads issuing MAP_DMA/UNMAP_DMA on one container at once, as a
 * VMM's vCPU/IO threads do, in waves of short-lived threads.  Each thread
 * owns its buffer and iova window; it writes its pattern through its
 * pointer (first touches, faulting in concurrently), maps, checks that a
 * second map of the window is EEXIST, unmaps (the size unmapped is the
 * window's), checks that a second unmap unmaps nothing.  An ordinary
 * program: system headers only.
 *
 * Usage: thread_stress [threads-per-wave waves iterations]
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "vfio_common.h"

#define BDF "0000:01:00.0"
#define PAGES 16
#define WINDOW (PAGES * 4096ULL)

static int container;

struct worker {
	pthread_t tid;
	int id, iterations;
	int failed; /* the first failing iteration + 1, or 0 */
	char why[128];
};

static void fail(struct worker *w, int it, const char *what)
{
	if (!w->failed) {
		w->failed = it + 1;
		snprintf(w->why, sizeof(w->why), "%s (errno %s)", what, strerror(errno));
	}
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t iova = 0x100000000ULL + (uint64_t)w->id * (WINDOW * 4);
	unsigned char *buf;

	buf = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		fail(w, 0, "mmap");
		return NULL;
	}
	for (int it = 0; it < w->iterations && !w->failed; it++) {
		for (int p = 0; p < PAGES; p++)
			buf[p * 4096 + (it % 4096)] = (unsigned char)(w->id + it);
		if (dma_map(container, buf, iova, WINDOW))
			fail(w, it, "MAP_DMA");
		else if (!dma_map(container, buf, iova, WINDOW) || errno != EEXIST)
			fail(w, it, "second MAP_DMA not EEXIST");
		else if (dma_unmap(container, iova, WINDOW) != (long long)WINDOW)
			fail(w, it, "UNMAP_DMA size");
		else if (dma_unmap(container, iova, WINDOW) != 0)
			fail(w, it, "second UNMAP_DMA not 0");
		for (int p = 0; p < PAGES && !w->failed; p++)
			if (buf[p * 4096 + (it % 4096)] != (unsigned char)(w->id + it))
				fail(w, it, "buffer changed");
	}
	if (munmap(buf, WINDOW))
		fail(w, w->iterations, "munmap");
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 3 ? atoi(argv[1]) : 8, waves = argc > 3 ? atoi(argv[2]) : 4;
	int iterations = argc > 3 ? atoi(argv[3]) : 100;
	struct vfio_iommu_type1_info info = {.argsz = sizeof(info)};
	struct worker *w;
	struct vfio_dev d;
	int failures = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (nthreads < 1 || nthreads > 256 || waves < 1 || iterations < 1) {
		printf("usage: thread_stress [threads-per-wave(1-256) waves iterations]\n");
		return 2;
	}
	if (vfio_setup(BDF, &d))
		return 2;
	container = d.container;
	w = calloc((size_t)nthreads, sizeof(*w));
	CHECK(w, "calloc");
	for (int wave = 0; wave < waves; wave++) {
		for (int i = 0; i < nthreads; i++) {
			w[i] = (struct worker){.id = wave * nthreads + i, .iterations = iterations};
			CHECK(!pthread_create(&w[i].tid, NULL, worker, &w[i]), "pthread_create");
		}
		for (int i = 0; i < nthreads; i++) {
			CHECK(!pthread_join(w[i].tid, NULL), "pthread_join");
			if (w[i].failed) {
				printf("FAIL thread %d iteration %d: %s\n", w[i].id,
				       w[i].failed - 1, w[i].why);
				failures++;
			}
		}
	}
	/* Everything was unmapped: the container maps nothing. */
	CHECK(!ioctl(d.container, VFIO_IOMMU_GET_INFO, &info), "IOMMU_GET_INFO");
	CHECK(dma_unmap(d.container, 0, 1ULL << 47) == 0, "UNMAP of everything finds nothing");
	printf("threads: %d waves x %d threads x %d iterations: %s\n", waves, nthreads, iterations,
	       failures ? "FAILED" : "map/unmap ok");
	free(w);
	vfio_teardown(&d);
	if (failures)
		return 1;
	printf("RESULT: ok\n");
	return 0;
}
