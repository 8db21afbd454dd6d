/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * preload/shmem.c: shared memory files of an unmodified program (issue 12)
 * — memfd_create(), shm_open()/shm_unlink(), open()/unlink() of files in
 * the simulated hugetlbfs mounts and /dev/shm, ftruncate()/fallocate() of
 * them — as pinsim files (sim/shmem.c), and what preload.c and mirror.c
 * call of it.
 */
#ifndef PINSIM_PRELOAD_SHMEM_H
#define PINSIM_PRELOAD_SHMEM_H

#include <stdbool.h>
#include <stdint.h>

/* preload.c: a host placeholder fd for pinsim shared memory fd @pfd. */
int preload_vfd_install_shmem(int pfd, bool cloexec, int hshift);
int preload_shmem_hugetlb_shift(int fd);
bool preload_vfio_fd(int fd);
/* preload.c: the pinsim fd of a shared memory host fd, or -1. */
int preload_shmem_pfd(int fd);

/* Is @path a file the simulation holds (in /dev/shm or a hugetlbfs mount)? */
bool preload_shmem_path(const char *path);
/* open(2) of such a path: a host placeholder fd, or -1 with errno. */
int preload_shmem_open(const char *path, int flags);

/* mirror.c: is every byte of [start, start + len) mirrored memory? */
bool mirror_covers(uint64_t start, uint64_t len);
/*
 * preload.c dma_ioctl(): a MAP_DMA failed with @err; if its range is
 * memory the preload left to the host (a disk file mapping), it is
 * counted as not modelled and traced.
 */
void preload_shmem_map_dma_failed(const void *arg, int err);

#endif /* PINSIM_PRELOAD_SHMEM_H */
