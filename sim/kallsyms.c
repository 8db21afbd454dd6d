// SPDX-License-Identifier: GPL-2.0-only
/*
 * kallsyms_lookup() over the host's ELF symbol tables (sim/kallsyms.h).
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kallsyms.h"

/* The file @ip is mapped from and the file offset of @ip in it. */
static bool ip_to_file(uintptr_t ip, char *path, size_t len, uint64_t *file_off)
{
	char line[4096 + 128];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long start, end, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &off, &pos) <
			    4 ||
		    ip < start || ip >= end || perms[2] != 'x' || !pos || line[pos] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, len, "%s", line + pos);
		*file_off = ip - start + off;
		found = true;
	}
	fclose(f);
	return found;
}

/* The link-time virtual address of file offset @off: its PT_LOAD segment. */
static bool file_off_to_vaddr(const unsigned char *img, size_t size, uint64_t off, uint64_t *va)
{
	const Elf64_Ehdr *eh = (const void *)img;

	if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return false;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && off >= ph->p_offset &&
		    off < ph->p_offset + ph->p_filesz) {
			*va = ph->p_vaddr + (off - ph->p_offset);
			return true;
		}
	}
	return false;
}

/* The STT_FUNC of symbol table section @sh (SHT_SYMTAB/SHT_DYNSYM) holding @va. */
static bool symtab_lookup(const unsigned char *img, size_t size, const Elf64_Shdr *shdrs,
			  const Elf64_Shdr *sh, uint64_t va, char *name, size_t len)
{
	const Elf64_Shdr *strs = &shdrs[sh->sh_link];
	size_t n = sh->sh_size / sizeof(Elf64_Sym);

	if (sh->sh_offset + sh->sh_size > size || strs->sh_offset + strs->sh_size > size)
		return false;
	for (size_t i = 0; i < n; i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(img + sh->sh_offset) + i;

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !s->st_size || va < s->st_value ||
		    va - s->st_value >= s->st_size || s->st_name >= strs->sh_size)
			continue;
		snprintf(name, len, "%.*s", (int)(strs->sh_size - s->st_name),
			 (const char *)img + strs->sh_offset + s->st_name);
		return true;
	}
	return false;
}

static bool elf_lookup(const unsigned char *img, size_t size, uint64_t off, char *name, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *shdrs;
	uint64_t va;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
		return false;
	if (!file_off_to_vaddr(img, size, off, &va))
		return false;
	shdrs = (const void *)(img + eh->e_shoff);
	/* .symtab first (static functions), then .dynsym. */
	for (uint32_t type = SHT_SYMTAB;; type = SHT_DYNSYM) {
		for (int i = 0; i < eh->e_shnum; i++)
			if (shdrs[i].sh_type == type && shdrs[i].sh_link < eh->e_shnum &&
			    symtab_lookup(img, size, shdrs, &shdrs[i], va, name, len))
				return true;
		if (type == SHT_DYNSYM)
			return false;
	}
}

bool kallsyms_lookup(uintptr_t ip, char *name, size_t len)
{
	char path[4096];
	uint64_t off;
	struct stat st;
	void *img;
	bool ok;
	int fd;

	if (!len || !ip_to_file(ip, path, sizeof(path), &off))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return false;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return false;
	ok = elf_lookup(img, (size_t)st.st_size, off, name, len);
	munmap(img, (size_t)st.st_size);
	return ok;
}
