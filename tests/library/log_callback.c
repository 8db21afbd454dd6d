// SPDX-License-Identifier: GPL-2.0-only
/*
 * log_callback: the library's messages go to the function set with
 * pinsim_set_log(), and to stderr only without one.  The message used is
 * type1's RLIMIT_MEMLOCK refusal (lib/vfio_iommu_type1.c
 * vfio_pin_pages_remote()): a MAP_DMA of 4 MiB of anonymous memory with
 * RLIMIT_MEMLOCK at 1 MiB fails ENOMEM and says so.  Public API only.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <pinsim/pinsim.h>

#define MiB (1ULL << 20)
#define EXPECT "pinsim: vfio_pin_pages_remote: RLIMIT_MEMLOCK"

static char got[512];
static int nr_lines;

static void capture(void *data, const char *line)
{
	(*(int *)data)++;
	nr_lines++;
	snprintf(got, sizeof(got), "%s", line);
}

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stdout, "FAIL %s:%d: %s (errno %s)\n", __FILE__, __LINE__, \
				#cond, strerror(errno));                                 \
			return 1;                                                        \
		}                                                                        \
	} while (0)

/* One MAP_DMA past the limit on a fresh machine; errno of the failure. */
static int map_over_limit(void)
{
	struct pinsim_device_spec dev = { .name = "0000:01:00.0", .bar_size = { 1 << 20 } };
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct rlimit rl = { 1 * MiB, 1 * MiB };
	struct pinsim_config cfg;
	struct pinsim_proc *p;
	struct pinsim *m;
	int group, container, gfd, err;
	char path[32];
	uint64_t va;

	pinsim_config_init(&cfg);
	cfg.ram_bytes = 1ULL << 30;
	CHECK(!pinsim_create(&cfg, &m));
	CHECK(!pinsim_add_device(m, &dev, &group));
	CHECK(!pinsim_proc_create(m, &p));
	CHECK(!pinsim_setrlimit(p, RLIMIT_MEMLOCK, &rl));
	container = pinsim_open(p, "/dev/vfio/vfio", O_RDWR);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	gfd = pinsim_open(p, path, O_RDWR);
	CHECK(container >= 0 && gfd >= 0);
	CHECK(!pinsim_ioctl(p, gfd, VFIO_GROUP_SET_CONTAINER, &container));
	CHECK(!pinsim_ioctl(p, container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU));
	va = pinsim_mmap(p, 0, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(va != PINSIM_MAP_FAILED);
	map.vaddr = va;
	map.iova = 0;
	map.size = 4 * MiB;
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	CHECK(pinsim_ioctl(p, container, VFIO_IOMMU_MAP_DMA, &map) == -1);
	err = errno;
	pinsim_destroy(m);
	return err;
}

int main(void)
{
	char buf[512] = "";
	int calls = 0, saved, fd;
	FILE *f;

	/* With a log function: the line reaches it, nothing reaches stderr. */
	f = tmpfile();
	CHECK(f);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	CHECK(saved >= 0 && dup2(fileno(f), STDERR_FILENO) >= 0);
	pinsim_set_log(capture, &calls);
	CHECK(map_over_limit() == ENOMEM);
	fflush(stderr);
	CHECK(calls == 1 && nr_lines == 1);
	printf("# callback got: %s\n", got);
	CHECK(!strncmp(got, EXPECT, strlen(EXPECT)));
	CHECK(!strchr(got, '\n'));
	CHECK(ftell(f) == 0);

	/* NULL: back to stderr, the same line and a newline. */
	pinsim_set_log(NULL, NULL);
	CHECK(map_over_limit() == ENOMEM);
	fflush(stderr);
	CHECK(calls == 1);
	fd = fileno(f);
	CHECK(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
	CHECK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	fclose(f);
	printf("# stderr got: %s", buf);
	CHECK(!strcmp(buf, strcat(got, "\n")));
	return 0;
}
