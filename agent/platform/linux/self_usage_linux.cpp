#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dozor/common/files.hpp"
#include "platform/self_usage.hpp"

// BOLT (deploy/bolt/bolt-agent.sh, -hot-text) defines these as the range it packed the profiled
// code into: the code a health tick runs. The references here only make the link put the two
// names in the program's dynamic symbol table, where BOLT writes them and where
// HotLinkRange reads them (the values the loader gives are 0: see there).
extern "C" {
extern const char __hot_start __attribute__((weak));  // NOLINT(bugprone-reserved-identifier)
extern const char __hot_end __attribute__((weak));    // NOLINT(bugprone-reserved-identifier)
}

namespace {
// Loads the two addresses through the GOT, whose relocations are what give the names entries in
// the dynamic symbol table (a pointer in data would be resolved to 0 at link time). Kept past
// --gc-sections and inlining; nothing calls it.
[[maybe_unused]] __attribute__((used, noinline)) uintptr_t ReferenceHotRangeNames() {
  return reinterpret_cast<uintptr_t>(&__hot_start) ^ reinterpret_cast<uintptr_t>(&__hot_end);
}
}  // namespace

namespace dozor::agent::platform {

Result<SelfUsageReading> ReadSelfUsage() {
  SelfUsageReading reading;
  // statm: size resident shared text lib data dt, in pages.
  DOZOR_ASSIGN_OR_RETURN(std::string statm, ReadFile("/proc/self/statm", 4096));
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size_pages, &resident_pages) != 2) {
    return MakeError(ErrorCode::kDataLoss, "/proc/self/statm: unexpected content");
  }
  reading.rss_bytes = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) {
    return MakeError(ErrorCode::kInternal, "getrusage failed");
  }
  auto ms = [](const timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000 + static_cast<int64_t>(tv.tv_usec) / 1000;
  };
  reading.cpu_time_ms = ms(usage.ru_utime) + ms(usage.ru_stime);
  return reading;
}

Result<uint64_t> ReadPeakRss() {
  DOZOR_ASSIGN_OR_RETURN(std::string status, ReadFile("/proc/self/status", 1 << 16));
  const size_t at = status.find("VmHWM:");
  unsigned long long kib = 0;
  if (at == std::string::npos || std::sscanf(status.c_str() + at + 6, "%llu", &kib) != 1) {
    return MakeError(ErrorCode::kDataLoss, "/proc/self/status: no VmHWM");
  }
  return static_cast<uint64_t>(kib) << 10;
}

int64_t ProcessId() { return static_cast<int64_t>(::getpid()); }

void ReleaseFreeHeap() { malloc_trim(0); }

namespace {

// Takes the pages of every loaded object's read-only PT_LOAD segments (code, read-only data) out
// of this process's page tables: the program, and the shared C/C++ runtimes where it uses them.
// Segments that may be written (data, and the RELRO part that the loader relocates and then
// write-protects) are skipped, so only pages exactly as in the file are dropped and the next
// access maps the same bytes back from the page cache (or the file).
//
// MADV_DONTNEED, not MADV_PAGEOUT: PAGEOUT also evicts the pages from the page cache, but the
// kernel allows that only to a process that owns the file or could open it for writing (the
// side-channel rule of can_do_file_pageout), and the service runs as `dozor-agent` over a
// root-owned binary: there it did nothing. Unmapping needs no such right, and what stays in the
// page cache is the kernel's to reclaim like any other clean page.
//
// The segments come from the loader's own list (dl_iterate_phdr), not /proc/self/smaps: reading
// smaps walks every page table and formats kilobytes of text, which cost more than the trim
// itself when it runs after every health tick.
//
// In a binary laid out by BOLT, the hot range (what a tick runs, about 1.3 MiB) stays mapped:
// dropping it would cost the next tick a page fault per 64 KiB of it for no lasting saving.
void DropPages(uintptr_t start, uintptr_t end) {
  if (end > start) {
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
  }
}

// BOLT's hot range as link-time addresses, read once from the dynamic symbol table of this
// program's file; {0, 0} when there is none. Read from the file rather than through the loader:
// BOLT 15 turns the program's undefined weak references to __hot_start/__hot_end into absolute
// definitions in .dynsym but does not add them to .gnu.hash, so the loader never finds them and
// resolves both to 0. The dynamic symbol table survives strip, the section headers too.
struct LinkRange {
  uintptr_t start = 0;
  uintptr_t end = 0;
};

bool ReadAt(int fd, void* buffer, size_t size, uint64_t offset) {
  return ::pread(fd, buffer, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
}

LinkRange ReadHotRangeFromProgramFile() {
  constexpr uint64_t kMaxTableBytes = 8 << 20;  // far above any .dynsym/.dynstr of ours
  LinkRange range;
  const int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return range;
  ElfW(Ehdr) header{};
  std::vector<ElfW(Shdr)> sections;
  if (ReadAt(fd, &header, sizeof(header), 0) && std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
      header.e_shentsize == sizeof(ElfW(Shdr)) && header.e_shnum > 0 && header.e_shnum < 4096) {
    sections.resize(header.e_shnum);
    if (!ReadAt(fd, sections.data(), sections.size() * sizeof(ElfW(Shdr)), header.e_shoff)) {
      sections.clear();
    }
  }
  for (const ElfW(Shdr) & table : sections) {
    if (table.sh_type != SHT_DYNSYM || table.sh_link >= sections.size() ||
        table.sh_size > kMaxTableBytes || sections[table.sh_link].sh_size > kMaxTableBytes) {
      continue;
    }
    std::vector<ElfW(Sym)> symbols(table.sh_size / sizeof(ElfW(Sym)));
    std::string names(sections[table.sh_link].sh_size, '\0');
    if (!ReadAt(fd, symbols.data(), symbols.size() * sizeof(ElfW(Sym)), table.sh_offset) ||
        !ReadAt(fd, names.data(), names.size(), sections[table.sh_link].sh_offset)) {
      continue;
    }
    for (const ElfW(Sym) & symbol : symbols) {
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= names.size()) continue;
      const std::string_view name(names.c_str() + symbol.st_name);
      if (name == "__hot_start") range.start = symbol.st_value;
      if (name == "__hot_end") range.end = symbol.st_value;
    }
  }
  ::close(fd);
  return range.end > range.start ? range : LinkRange{};
}

const LinkRange& HotLinkRange() {
  static const LinkRange range = ReadHotRangeFromProgramFile();
  return range;
}

// The hot range in this process's addresses (link-time plus the program's load bias),
// page-aligned outward; {0, 0} when there is none or `info` is not the program.
std::pair<uintptr_t, uintptr_t> HotRange(const dl_phdr_info* info, uintptr_t page) {
  const LinkRange& link = HotLinkRange();
  const bool is_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
  if (!is_program || link.end <= link.start) return {0, 0};
  return {(info->dlpi_addr + link.start) & ~(page - 1),
          (info->dlpi_addr + link.end + page - 1) & ~(page - 1)};
}

// An object with text relocations had the loader write into its read-only segments: those pages
// are private copies, and dropping them would bring back the unrelocated file bytes. (None on
// Debian's x86-64 builds, which are PIC; a third-party library could have them.)
bool HasTextRelocations(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_DYNAMIC) continue;
    const auto* entry = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + segment.p_vaddr);
    const size_t count = segment.p_memsz / sizeof(ElfW(Dyn));
    for (size_t k = 0; k < count && entry[k].d_tag != DT_NULL; ++k) {
      if (entry[k].d_tag == DT_TEXTREL) return true;
      if (entry[k].d_tag == DT_FLAGS && (entry[k].d_un.d_val & DF_TEXTREL) != 0) return true;
    }
  }
  return false;
}

int TrimObject(dl_phdr_info* info, size_t /*size*/, void* context) {
  const auto scope = *static_cast<const TrimScope*>(context);
  const bool is_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
  if (scope == TrimScope::kProgramColdCode && !is_program) return 0;
  if (HasTextRelocations(info)) return 0;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto [hot_start, hot_end] = HotRange(info, page);
  const auto vdso = static_cast<uintptr_t>(::getauxval(AT_SYSINFO_EHDR));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_W) != 0) continue;
    const uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    if (vdso != 0 && begin <= vdso && vdso < begin + segment.p_memsz) continue;  // kernel's page
    // Whole pages inside the segment only: a page it shares with a writable neighbour stays.
    const uintptr_t start = (begin + page - 1) & ~(page - 1);
    const uintptr_t end = (begin + segment.p_filesz) & ~(page - 1);
    if (hot_start != 0 && hot_start < hot_end && hot_start < end && start < hot_end) {
      DropPages(start, std::max(start, hot_start));
      DropPages(std::min(end, hot_end), end);
    } else {
      DropPages(start, end);
    }
  }
  return 0;
}

}  // namespace

void TrimWorkingSet(TrimScope scope) { ::dl_iterate_phdr(TrimObject, &scope); }

bool CodeLaidOutForTicks() { return HotLinkRange().end > HotLinkRange().start; }

}  // namespace dozor::agent::platform
