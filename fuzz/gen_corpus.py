#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write fuzz/corpus/seed-*: meaningful inputs for fuzz/fuzz_api.c.

Each seed is a VMM-shaped sequence in fuzz_api's bytecode (its header byte,
then operations; see the encoders below, which mirror the C readers byte
for byte): the QEMU container/group/device setup, SET_IOMMU, MAP_DMA of
anonymous, THP, hugetlb and BAR memory, UNMAP_DMA, GET_INFO with
capabilities, region and IRQ info, config-space pread/pwrite, SET_IRQS,
hot reset, pins, numa_maps, DMA, allocation-failure injection, and closes
in odd orders.  libFuzzer mutates from there.

    fuzz/gen_corpus.py            # rewrite fuzz/corpus/seed-*
    fuzz/gen_corpus.py --check    # fail if the committed seeds differ

Reproducers of findings (fuzz/corpus/regress-*) are left alone.
If fuzz_api.c's operation table or readers change, change the encoders
here and rerun: FUZZ_API_TRACE=1 build/fuzz/fuzz_api fuzz/corpus/seed-X
shows what a seed does.
"""
import argparse
import os
import sys

# fuzz_api.c ops[]: opcode = index.
OP = {name: i for i, name in enumerate([
    'proc_create', 'proc_destroy', 'fork', 'kill', 'rlimit', 'cap',
    'thread_exit', 'open', 'open2', 'open3', 'close', 'ioctl',
    'ioctl2', 'ioctl3', 'ioctl4', 'ioctl5', 'ioctl6', 'pread',
    'pwrite', 'mmap', 'mmap2', 'mmap3', 'munmap', 'madvise',
    'vm_misc', 'access', 'touch', 'pin', 'unpin', 'numa_maps',
    'dma', 'lookup', 'raise_irq', 'stats', 'fail', 'retry_policy',
])}

# fuzz_api.c vfio_reqs[]: index -> request.
REQ = {name: i for i, name in enumerate([
    'GET_API_VERSION', 'CHECK_EXTENSION', 'SET_IOMMU', 'GROUP_GET_STATUS',
    'GROUP_SET_CONTAINER', 'GROUP_UNSET_CONTAINER', 'GROUP_GET_DEVICE_FD',
    'DEVICE_GET_INFO', 'DEVICE_GET_REGION_INFO', 'DEVICE_GET_IRQ_INFO',
    'DEVICE_SET_IRQS', 'DEVICE_RESET', 'DEVICE_GET_PCI_HOT_RESET_INFO',
    'DEVICE_PCI_HOT_RESET', 'DEVICE_QUERY_GFX_PLANE', 'DEVICE_GET_GFX_DMABUF',
    'DEVICE_IOEVENTFD', 'DEVICE_FEATURE', 'IOMMU_GET_INFO_CAPS',
    'IOMMU_GET_INFO', 'IOMMU_MAP_DMA', 'IOMMU_MAP_DMA2', 'IOMMU_UNMAP_DMA',
    'IOMMU_ENABLE', 'IOMMU_DISABLE', 'IOMMU_DIRTY_PAGES', 'SPAPR_TCE_GET_INFO',
    'EEH_PE_OP',
])}

TYPE1v2, TYPE1 = 0, 1            # pick_extension() indices
INTX, MSI, MSIX, ERR, REQ_IRQ = range(5)
DATA_NONE, DATA_BOOL, DATA_EVENTFD = range(3)
ACT_MASK, ACT_UNMASK, ACT_TRIGGER = range(3)


def le(v, n):
    return list((v & ((1 << (8 * n)) - 1)).to_bytes(n, 'little'))


class Seq:
    """One input: fd and mapping indices as fuzz_api tracks them."""

    def __init__(self, header=0):
        self.b = [header]
        self.fds = {}       # name -> index in the process's fd ring
        self.nfds = 0
        self.maps = {}      # name -> index in the process's map ring
        self.nmaps = 0

    def op(self, name, *args):
        self.b.append(OP[name])
        for a in args:
            self.b.extend(a if isinstance(a, list) else [a])
        return self

    def fd(self, name):
        return self.fds[name]

    def track_fd(self, name):
        self.fds[name] = self.nfds
        self.nfds += 1

    # ---- value encoders (pick_len, pick_io_len, pick_iova, pick_addr) ----
    @staticmethod
    def pages(n):           # pick_len: n 4K pages, 1..32
        return [(n - 1) << 3]

    @staticmethod
    def huge2m(k):          # pick_len: k x 2 MiB, 1..4
        return [2 | ((k - 1) << 3)]

    @staticmethod
    def gib(n):             # pick_len: 1 or 2 GiB
        return [3 | 8] if n == 1 else [3]

    @staticmethod
    def io_pow2(k):         # pick_io_len: 1 << k bytes, k 0..7
        return [k << 2]

    @staticmethod
    def io_pages(n):        # pick_io_len: n pages
        return [((n - 1) << 2) | 1]

    @staticmethod
    def iova_gib(n):        # pick_iova: n GiB, 1..32
        return [2 | ((n - 1) << 3)]

    @staticmethod
    def iova_raw(v):
        return [7] + le(v, 8)

    def addr(self, m):      # pick_addr: the start of mapping m
        return [self.maps[m] << 4]

    def whole(self, m):     # pick_range: mapping m, its whole length
        return [self.maps[m] << 2, 0]

    # ---- operations ----
    def open_container(self, name='c'):
        self.track_fd(name)
        return self.op('open', 0, 0)

    def open_group(self, dev, name=None):
        self.track_fd(name or 'g%d' % dev)
        return self.op('open', 0, 3 | (dev << 3))

    def ioctl(self, fd, req, *args, proc=0):
        return self.op('ioctl', proc, self.fd(fd), 0, REQ[req], *args, 0)

    def set_container(self, group, container='c'):
        return self.ioctl(group, 'GROUP_SET_CONTAINER', self.fd(container))

    def set_iommu(self, c='c', kind=TYPE1v2):
        return self.ioctl(c, 'SET_IOMMU', kind)

    def get_device(self, group, dev, name=None):
        self.ioctl(group, 'GROUP_GET_DEVICE_FD', dev)
        self.track_fd(name or 'd%d' % dev)
        return self

    def setup(self, devs=(0,), kind=TYPE1v2):
        """QEMU's order: container, API version, extension, groups, IOMMU, devices."""
        self.open_container()
        self.ioctl('c', 'GET_API_VERSION')
        self.ioctl('c', 'CHECK_EXTENSION', kind)
        for d in devs:
            self.open_group(d)
            self.ioctl('g%d' % d, 'GROUP_GET_STATUS', [0] * 4, 0)
            self.set_container('g%d' % d)
            if d == devs[0]:
                self.set_iommu(kind=kind)
        for d in devs:
            self.get_device('g%d' % d, d)
        return self

    def mmap(self, name, kind, length):
        """kind: anon, thp, huge2m, huge1g."""
        b = {'anon': 0, 'thp': 2, 'huge2m': 3, 'huge1g': 4}[kind]
        self.maps[name] = self.nmaps
        self.nmaps += 1
        return self.op('mmap', 0, b, length)

    def mmap_bar(self, name, dev_fd, bar, length):
        self.maps[name] = self.nmaps
        self.nmaps += 1
        return self.op('mmap', 0, 5, length, self.fd(dev_fd), bar)

    def touch_all(self, m, n=1):
        return self.op('access', 0, 1, self.addr(m), self.io_pages(n), [0xab] * (4096 * n))

    def map_dma(self, m, iova, c='c', flags=None):
        args = [0x80] + le(flags, 4) if flags is not None else [0]
        return self.ioctl(c, 'IOMMU_MAP_DMA', args, self.whole(m), iova, 0)

    def unmap_dma(self, iova, length, c='c', all_=False):
        return self.ioctl(c, 'IOMMU_UNMAP_DMA', 0 if all_ else 4, iova, length, 0)

    def get_info_caps(self, c='c'):
        return self.ioctl(c, 'IOMMU_GET_INFO_CAPS', [0] * 12, 0)

    def region_info(self, d, index):
        return self.ioctl(d, 'DEVICE_GET_REGION_INFO', [0] * 4 + le(index, 4) + [0] * 4, 0)

    def irq_info(self, d, index):
        return self.ioctl(d, 'DEVICE_GET_IRQ_INFO', [0] * 4 + le(index, 4) + [0] * 4, 0)

    def set_irqs(self, d, index, data, action, start, count, items=()):
        return self.ioctl(d, 'DEVICE_SET_IRQS', index, data, action, start, count, list(items),
                          0)

    def cfg_read(self, d, off, k):
        return self.op('pread', 0, self.fd(d), 0, off, self.io_pow2(k))

    def cfg_write(self, d, off, data):
        k = {1: 0, 2: 1, 4: 2}[len(data)]
        return self.op('pwrite', 0, self.fd(d), 0, off, self.io_pow2(k), list(data))

    def close(self, name):
        return self.op('close', 0, self.fd(name))

    def bytes(self):
        return bytes(self.b)


PCI_COMMAND = 0x04


def seeds():
    s = {}

    def add(name, seq):
        s[name] = seq.bytes()

    add('empty-machine', Seq(0))
    for h, what in ((0, 'upstream'), (1, '6.12.118'), (2, '6.12.74'), (3, '7.0')):
        add('setup-%s' % what, Seq(h).setup())
    add('setup-type1', Seq().setup(kind=TYPE1))
    add('setup-two-units', Seq().setup(devs=(0, 1)))
    add('setup-three-devices', Seq().setup(devs=(0, 1, 2)))

    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(16)).touch_all('a')
    q.map_dma('a', Seq.iova_gib(1)).unmap_dma(Seq.iova_gib(1), Seq.pages(16))
    add('map-unmap-anon', q)

    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(8)).map_dma('a', Seq.iova_gib(1))
    add('map-untouched-anon-exit', q)

    q = Seq().setup()
    q.mmap('t', 'thp', Seq.huge2m(2)).op('touch', 0, 1, q.addr('t'))
    q.map_dma('t', Seq.iova_gib(2)).get_info_caps()
    q.unmap_dma(Seq.iova_raw(0), [6 | 8], all_=True)   # UNMAP_ALL: iova 0, size 0
    add('map-thp-unmap-all', q)

    for pg, hdr in (('4k', 0x20), ('2m', 0x30)):
        q = Seq(hdr).setup()
        q.mmap('h', 'huge2m', Seq.huge2m(2)).map_dma('h', Seq.iova_gib(1))
        q.unmap_dma(Seq.iova_gib(1), Seq.huge2m(1))
        add('map-hugetlb-2m-split-unmap-pgsize-%s' % pg, q)

    q = Seq().setup()
    q.op('cap', 0, 1).mmap('h', 'huge1g', Seq.gib(1)).map_dma('h', Seq.iova_gib(4))
    q.op('lookup', 0, Seq.iova_gib(4)).unmap_dma(Seq.iova_gib(4), Seq.gib(1))
    add('map-hugetlb-1g', q)

    q = Seq().setup()
    q.mmap_bar('b0', 'd0', 0, Seq.gib(1)).map_dma('b0', Seq.iova_gib(8))
    q.op('dma', 0, 0, Seq.iova_gib(8), Seq.io_pow2(6))
    q.unmap_dma(Seq.iova_gib(8), Seq.gib(1))
    add('map-bar-1g-pud', q)

    q = Seq().setup()
    q.mmap_bar('b2', 'd0', 2, Seq.huge2m(1)).op('touch', 0, 1, q.addr('b2'))
    q.map_dma('b2', Seq.iova_gib(2))
    q.cfg_write('d0', PCI_COMMAND, [0x00, 0x00])   # memory decode off: zap
    q.op('numa_maps', 0, Seq.io_pages(1))
    q.unmap_dma(Seq.iova_gib(2), Seq.huge2m(1))
    add('map-bar-2m-decode-off', q)

    q = Seq().setup()
    q.mmap_bar('b4', 'd0', 4, Seq.pages(16)).map_dma('b4', Seq.iova_gib(3))
    q.ioctl('d0', 'DEVICE_RESET').unmap_dma(Seq.iova_gib(3), Seq.pages(16))
    add('map-bar-64k-reset', q)

    q = Seq().setup()
    q.get_info_caps().ioctl('c', 'IOMMU_GET_INFO', [0] * 12, 0)
    q.ioctl('c', 'IOMMU_GET_INFO', [0] * 12, 4 | (5 << 3))       # argsz 5: short
    # argsz 4 GiB - 1: a buffer that long (fuzz_api's ubuf), 64 input bytes past the struct
    q.ioctl('c', 'IOMMU_GET_INFO_CAPS', [0] * 12, 7, le(0xffffffff, 4), [0] * 64)
    add('get-info-argsz', q)

    q = Seq().setup()
    q.ioctl('d0', 'DEVICE_GET_INFO', [0] * 12, 0)
    for i in range(10):
        q.region_info('d0', i)
    for i in range(6):
        q.irq_info('d0', i)
    add('device-info-regions-irqs', q)

    q = Seq().setup()
    for off, k in ((0, 2), (0, 6), (0x34, 0), (0x40, 6), (0x10, 2)):
        q.cfg_read('d0', off, k)
    q.cfg_write('d0', 0x10, [0xff, 0xff, 0xff, 0xff]).cfg_read('d0', 0x10, 2)   # BAR sizing
    q.cfg_write('d0', PCI_COMMAND, [0x06, 0x00])
    add('config-space-rw', q)

    q = Seq().setup(devs=(2,))
    q.irq_info('d2', MSIX)
    q.set_irqs('d2', MSIX, DATA_EVENTFD, ACT_TRIGGER, 0, 2, [3, 4])
    q.cfg_write('d2', PCI_COMMAND, [0x06, 0x00]).op('raise_irq', 2, MSIX, 1)
    q.set_irqs('d2', MSIX, DATA_NONE, ACT_TRIGGER, 0, 0)
    add('msix-eventfd-trigger', q)

    q = Seq().setup()
    q.set_irqs('d0', INTX, DATA_EVENTFD, ACT_TRIGGER, 0, 1, [3])
    q.op('raise_irq', 0, INTX, 0)
    q.set_irqs('d0', INTX, DATA_NONE, ACT_UNMASK, 0, 1)
    q.set_irqs('d0', INTX, DATA_BOOL, ACT_MASK, 0, 1, [1])
    q.close('d0')
    add('intx-eventfd-close-device', q)

    q = Seq().setup(devs=(0, 2))
    q.ioctl('d0', 'DEVICE_GET_PCI_HOT_RESET_INFO', [0] * 12, 0)
    q.ioctl('d0', 'DEVICE_PCI_HOT_RESET', 1, q.fd('g0'), q.fd('g2'), 0, 0, 0)
    add('hot-reset-two-groups', q)

    q = Seq().setup()
    q.ioctl('d0', 'DEVICE_FEATURE', [0] * 12, 0)
    q.ioctl('c', 'IOMMU_DIRTY_PAGES', 0, 0).ioctl('c', 'IOMMU_DIRTY_PAGES', 1, 0)
    add('feature-dirty-pages', q)

    # Closes in odd orders.
    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(4)).map_dma('a', Seq.iova_gib(1))
    q.close('c').close('g0').close('d0')
    add('close-container-first', q)

    q = Seq().setup()
    q.mmap_bar('b2', 'd0', 2, Seq.huge2m(1)).close('d0').close('g0')
    q.ioctl('c', 'IOMMU_GET_INFO', [0] * 12, 0).close('c')
    q.op('munmap', 0, q.whole('b2'))
    add('close-device-while-bar-mapped', q)

    q = Seq().setup()
    q.ioctl('d0', 'DEVICE_RESET').close('d0')
    q.ioctl('g0', 'GROUP_UNSET_CONTAINER').close('g0').close('c')
    add('unset-container-then-close', q)

    q = Seq().setup(devs=(0, 1))
    q.mmap('a', 'anon', Seq.pages(32)).map_dma('a', Seq.iova_gib(1))
    q.close('d1').ioctl('g1', 'GROUP_UNSET_CONTAINER')
    q.op('dma', 1, 0, Seq.iova_gib(1), Seq.io_pow2(3))
    q.op('dma', 0, 1, Seq.iova_gib(1), Seq.io_pow2(3), [1] * 8)
    add('second-unit-leaves', q)

    # Limits and failures.
    q = Seq().setup()
    q.op('rlimit', 0, 0).mmap('a', 'anon', Seq.pages(4)).map_dma('a', Seq.iova_gib(1))
    add('map-over-rlimit', q)

    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(16)).touch_all('a')
    q.op('fail', 0, 0xf << 3, 3).map_dma('a', Seq.iova_gib(1))
    q.op('fail', 0, (0xf << 3) | 1).unmap_dma(Seq.iova_gib(1), Seq.pages(16))
    add('fail-nth-map-fail-every-unmap', q)

    q = Seq(0x80).setup()
    for i in range(10):
        q.mmap('a%d' % i, 'anon', Seq.pages(1)).map_dma('a%d' % i, Seq.iova_gib(i + 1))
    add('dma-entry-limit', q)

    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(8))
    q.ioctl('c', 'IOMMU_MAP_DMA', [0], q.whole('a'), Seq.iova_raw(0xfee00000), 0)  # MSI hole
    q.ioctl('c', 'IOMMU_MAP_DMA', [0], q.whole('a'), Seq.iova_raw((1 << 48) - 4096), 0)
    q.ioctl('c', 'IOMMU_MAP_DMA', [0], q.whole('a'), Seq.iova_raw(0x1234), 0)
    add('map-bad-iovas', q)

    # Pins, numa_maps, processes.
    q = Seq()
    q.mmap('a', 'anon', Seq.pages(8)).op('pin', 0, 1, q.whole('a'))
    q.op('numa_maps', 0, Seq.io_pages(2)).op('unpin', 0, 0)
    add('pin-numa-maps-unpin', q)

    q = Seq().setup()
    q.op('proc_create').mmap('a', 'anon', Seq.pages(4)).map_dma('a', Seq.iova_gib(1))
    q.op('kill', 0).map_dma('a', Seq.iova_gib(2)).op('proc_destroy', 0)
    add('kill-then-map', q)

    q = Seq().setup()
    q.mmap('a', 'anon', Seq.pages(4)).map_dma('a', Seq.iova_gib(1))
    q.op('fork', 0).op('stats', 0, q.fd('c'))
    add('fork-with-container', q)

    q = Seq().setup()
    q.op('open', 0, 6).op('open', 0, 6 | (1 << 3)).op('open', 0, 6 | (6 << 3))
    q.ioctl('g0', 'GROUP_GET_DEVICE_FD', 9)             # "<name> ": a second device fd
    q.track_fd('d0b')
    q.ioctl('g0', 'GROUP_GET_DEVICE_FD', 24)            # "<name> vf_token=...": EINVAL
    q.ioctl('g0', 'GROUP_GET_DEVICE_FD', 7)             # no NUL in a page
    q.ioctl('g0', 'GROUP_GET_DEVICE_FD', 1)             # another group's device
    add('bad-paths-and-names', q)

    q = Seq().setup()
    # A real request with bits above 31, random numbers, NULL argument.
    q.op('ioctl', 0, q.fd('c'), 12, REQ['GET_API_VERSION'], le(0xdeadbeef, 4), 0)
    q.op('ioctl', 0, q.fd('c'), 14 | 0x10, 0, le(0xffffffff3b71, 8), le(64, 4), [0] * 60, 0)
    q.op('ioctl', 0, q.fd('d0'), 15, 0, 33, le(32, 4), [0] * 60, 0)
    # MAP_DMA with a NULL argument: b2, b3 + u32 (no mapping), 1 page, 1 GiB, argsz, NULL
    q.op('ioctl', 0, q.fd('c'), 0, REQ['IOMMU_MAP_DMA2'], [0], [0, 0], le(0, 4), [0], [2], 0,
         0x3f)
    add('odd-requests', q)

    q = Seq().setup()
    q.op('retry_policy', 1, 4)
    q.mmap_bar('b0', 'd0', 0, Seq.gib(1)).op('numa_maps', 0, Seq.io_pages(1))
    q.map_dma('b0', Seq.iova_gib(8)).op('retry_policy', 2, 2)
    add('bar-numa-maps-split-then-map', q)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='compare, write nothing')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   'corpus'))
    a = ap.parse_args()
    want = {'seed-' + k: v for k, v in seeds().items()}
    os.makedirs(a.out, exist_ok=True)
    have = {f for f in os.listdir(a.out) if f.startswith('seed-')}
    if a.check:
        bad = sorted(f for f in want if not os.path.exists(os.path.join(a.out, f)) or
                     open(os.path.join(a.out, f), 'rb').read() != want[f])
        bad += sorted(have - set(want))
        if bad:
            print('gen_corpus: out of date: %s' % ' '.join(bad), file=sys.stderr)
            return 1
        return 0
    for f in have - set(want):
        os.unlink(os.path.join(a.out, f))
    for f, data in want.items():
        with open(os.path.join(a.out, f), 'wb') as fh:
            fh.write(data)
    print('gen_corpus: %d seeds in %s' % (len(want), a.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
