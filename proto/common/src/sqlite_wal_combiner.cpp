// A SQLite VFS shim that turns the many small writes of a WAL commit into a few large ones.
//
// Why: SQLite writes every WAL frame as two calls, the 24-byte frame header and then the page
// (wal.c, walWriteOneFrame). A 200-report ingest batch is ~670 frames, so ~1,340 pwrite calls,
// and on a virtual machine each system call costs more than the copy it performs: pwrite was
// ~40 % of the server's ingest CPU (perf, store_bench). Here the frames of a transaction are
// gathered in memory and written kWriteChunkBytes at a time: ~30 frames per call.
//
// Why it is safe: a frame only becomes visible to another connection when the writer publishes
// a new WAL-index header, and SQLite does that only after the transaction's commit frame (the
// frame whose header carries a non-zero "database size after commit") has been written. The
// shim writes everything it holds, and reports any error, in the very call that hands it that
// commit frame's page, so nothing is ever published that is not in the file. Anything that is
// not the exact header-then-page pattern (the WAL file header, a frame rewritten in place, a
// checksum rewrite, a write split at a sync point) first writes what is held and then goes
// straight through; so do reads, syncs, truncation, size queries, file controls and close. Only
// WAL files are wrapped: the database file and journals get the default VFS's own methods.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "dozor/common/sqlite.hpp"

namespace dozor::sqlite {
namespace {

constexpr int kFrameHeaderBytes = 24;  // WAL_FRAME_HDRSIZE in wal.c
// The unix VFS writes at most 128 KiB per call (seekAndWriteFd masks the length with 0x1ffff and
// its callers never pass more), so the held run is written in chunks just under that.
constexpr size_t kWriteChunkBytes = 124 * 1024;
constexpr char kVfsName[] = "dozor-wal-combine";

std::atomic<uint64_t> g_writes_received{0};
std::atomic<uint64_t> g_writes_issued{0};

struct CombinerFile {
  sqlite3_file base;  // must be first: SQLite sees a CombinerFile as a sqlite3_file
  sqlite3_file* real;
  std::vector<unsigned char>* pending;  // one contiguous run not yet written
  sqlite3_int64 pending_offset;
  sqlite3_int64 expected_page_offset;  // where the page of the last buffered header goes, or -1
  bool pending_commit;                 // that header marks a commit frame
};

sqlite3_vfs* RealVfs() {
  static sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  return real;
}

CombinerFile* AsCombiner(sqlite3_file* file) { return reinterpret_cast<CombinerFile*>(file); }

// Writes whole chunks of the held run, or all of it with `all`. What was written is forgotten
// also on error: SQLite rolls the transaction back then and writes those frames again on a retry.
int WriteHeld(CombinerFile* f, bool all) {
  std::vector<unsigned char>& held = *f->pending;
  const size_t to_write = all ? held.size() : held.size() - held.size() % kWriteChunkBytes;
  int rc = SQLITE_OK;
  size_t done = 0;
  while (rc == SQLITE_OK && done < to_write) {
    const size_t amount = std::min(to_write - done, kWriteChunkBytes);
    rc = f->real->pMethods->xWrite(f->real, held.data() + done, static_cast<int>(amount),
                                   f->pending_offset + static_cast<sqlite3_int64>(done));
    g_writes_issued.fetch_add(1, std::memory_order_relaxed);
    done += amount;
  }
  if (rc != SQLITE_OK || done == held.size()) {
    held.clear();
  } else {
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(done));
    f->pending_offset += static_cast<sqlite3_int64>(done);
  }
  return rc;
}

// Writes everything held; the next write starts a new run.
int Flush(CombinerFile* f) {
  f->expected_page_offset = -1;
  f->pending_commit = false;
  return f->pending->empty() ? SQLITE_OK : WriteHeld(f, /*all=*/true);
}

sqlite3_int64 PendingEnd(const CombinerFile* f) {
  return f->pending_offset + static_cast<sqlite3_int64>(f->pending->size());
}

void Append(CombinerFile* f, const void* data, int amount, sqlite3_int64 offset) {
  if (f->pending->empty()) f->pending_offset = offset;
  const auto* bytes = static_cast<const unsigned char*>(data);
  f->pending->insert(f->pending->end(), bytes, bytes + amount);
}

int CombinerWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  CombinerFile* f = AsCombiner(file);
  g_writes_received.fetch_add(1, std::memory_order_relaxed);
  const bool contiguous = f->pending->empty() || offset == PendingEnd(f);
  if (amount == kFrameHeaderBytes && contiguous && f->expected_page_offset < 0) {
    // A frame header: bytes 4..7 are the database size after commit, non-zero on a commit frame.
    const auto* header = static_cast<const unsigned char*>(data);
    Append(f, data, amount, offset);
    f->pending_commit = (header[4] | header[5] | header[6] | header[7]) != 0;
    f->expected_page_offset = offset + kFrameHeaderBytes;
    return SQLITE_OK;
  }
  if (offset == f->expected_page_offset && amount > kFrameHeaderBytes) {
    // The page of the frame whose header is held.
    Append(f, data, amount, offset);
    const bool commit = f->pending_commit;
    f->expected_page_offset = -1;
    f->pending_commit = false;
    if (commit) return Flush(f);
    return f->pending->size() >= kWriteChunkBytes ? WriteHeld(f, /*all=*/false) : SQLITE_OK;
  }
  // Anything else goes through as SQLite issued it, after what is held.
  int rc = Flush(f);
  if (rc != SQLITE_OK) return rc;
  g_writes_issued.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xWrite(f->real, data, amount, offset);
}

int CombinerClose(sqlite3_file* file) {
  CombinerFile* f = AsCombiner(file);
  const int flushed = Flush(f);
  const int closed = f->real->pMethods->xClose(f->real);
  delete f->pending;
  f->pending = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int CombinerRead(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, data, amount, offset);
}

int CombinerTruncate(sqlite3_file* file, sqlite3_int64 size) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

int CombinerSync(sqlite3_file* file, int flags) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

int CombinerFileSize(sqlite3_file* file, sqlite3_int64* size) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

int CombinerLock(sqlite3_file* file, int level) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xLock(f->real, level);
}

int CombinerUnlock(sqlite3_file* file, int level) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  const int unlocked = f->real->pMethods->xUnlock(f->real, level);
  return rc != SQLITE_OK ? rc : unlocked;
}

int CombinerCheckReservedLock(sqlite3_file* file, int* out) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

int CombinerFileControl(sqlite3_file* file, int op, void* arg) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

int CombinerSectorSize(sqlite3_file* file) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xSectorSize(f->real);
}

int CombinerDeviceCharacteristics(sqlite3_file* file) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// A WAL file has no shared memory and is never memory-mapped by SQLite; these forward anyway so
// the method table is complete for the version the real file reports.
int CombinerShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}
int CombinerShmLock(sqlite3_file* file, int offset, int n, int flags) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
void CombinerShmBarrier(sqlite3_file* file) {
  CombinerFile* f = AsCombiner(file);
  f->real->pMethods->xShmBarrier(f->real);
}
int CombinerShmUnmap(sqlite3_file* file, int delete_flag) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}
int CombinerFetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  CombinerFile* f = AsCombiner(file);
  const int rc = Flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFetch(f->real, offset, amount, out);
}
int CombinerUnfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  CombinerFile* f = AsCombiner(file);
  return f->real->pMethods->xUnfetch(f->real, offset, page);
}

sqlite3_io_methods MakeMethods(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = CombinerClose;
  m.xRead = CombinerRead;
  m.xWrite = CombinerWrite;
  m.xTruncate = CombinerTruncate;
  m.xSync = CombinerSync;
  m.xFileSize = CombinerFileSize;
  m.xLock = CombinerLock;
  m.xUnlock = CombinerUnlock;
  m.xCheckReservedLock = CombinerCheckReservedLock;
  m.xFileControl = CombinerFileControl;
  m.xSectorSize = CombinerSectorSize;
  m.xDeviceCharacteristics = CombinerDeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = CombinerShmMap;
    m.xShmLock = CombinerShmLock;
    m.xShmBarrier = CombinerShmBarrier;
    m.xShmUnmap = CombinerShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = CombinerFetch;
    m.xUnfetch = CombinerUnfetch;
  }
  return m;
}

const sqlite3_io_methods* MethodsFor(int version) {
  static const sqlite3_io_methods v1 = MakeMethods(1);
  static const sqlite3_io_methods v2 = MakeMethods(2);
  static const sqlite3_io_methods v3 = MakeMethods(3);
  return version >= 3 ? &v3 : version == 2 ? &v2 : &v1;
}

int CombinerOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                 int* out_flags) {
  sqlite3_vfs* real = RealVfs();
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Not a WAL file: the real VFS's file lives at the start of our slot and SQLite calls its
    // methods directly (szOsFile is at least the real size).
    return real->xOpen(real, name, file, flags, out_flags);
  }
  (void)vfs;
  auto* f = AsCombiner(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  const int rc = real->xOpen(real, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc;  // nothing to close; SQLite sees an unopened file
  f->pending = new (std::nothrow) std::vector<unsigned char>();
  if (f->pending == nullptr) {
    f->real->pMethods->xClose(f->real);
    return SQLITE_NOMEM;
  }
  f->pending_offset = 0;
  f->expected_page_offset = -1;
  f->pending_commit = false;
  f->base.pMethods = MethodsFor(f->real->pMethods->iVersion);
  return rc;
}

// Everything but xOpen goes to the real VFS.
int CombinerDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  return RealVfs()->xDelete(RealVfs(), name, sync_dir);
}
int CombinerAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return RealVfs()->xAccess(RealVfs(), name, flags, out);
}
int CombinerFullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return RealVfs()->xFullPathname(RealVfs(), name, size, out);
}
void* CombinerDlOpen(sqlite3_vfs*, const char* name) { return RealVfs()->xDlOpen(RealVfs(), name); }
void CombinerDlError(sqlite3_vfs*, int size, char* out) {
  RealVfs()->xDlError(RealVfs(), size, out);
}
void (*CombinerDlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return RealVfs()->xDlSym(RealVfs(), handle, symbol);
}
void CombinerDlClose(sqlite3_vfs*, void* handle) { RealVfs()->xDlClose(RealVfs(), handle); }
int CombinerRandomness(sqlite3_vfs*, int size, char* out) {
  return RealVfs()->xRandomness(RealVfs(), size, out);
}
int CombinerSleep(sqlite3_vfs*, int micros) { return RealVfs()->xSleep(RealVfs(), micros); }
int CombinerCurrentTime(sqlite3_vfs*, double* out) {
  return RealVfs()->xCurrentTime(RealVfs(), out);
}
int CombinerGetLastError(sqlite3_vfs*, int size, char* out) {
  return RealVfs()->xGetLastError != nullptr ? RealVfs()->xGetLastError(RealVfs(), size, out) : 0;
}
int CombinerCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return RealVfs()->xCurrentTimeInt64(RealVfs(), out);
}

}  // namespace

const char* WalWriteCombiningVfs() {
  static const char* registered = []() -> const char* {
    sqlite3_vfs* real = RealVfs();
    // Version 2 methods are the ones every SQLite since 3.7 has; the system-call overrides of
    // version 3 are left to the real VFS (no caller of ours sets them).
    if (real == nullptr || real->iVersion < 2) return nullptr;
    static sqlite3_vfs vfs{};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(sizeof(CombinerFile)) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = kVfsName;
    vfs.xOpen = CombinerOpen;
    vfs.xDelete = CombinerDelete;
    vfs.xAccess = CombinerAccess;
    vfs.xFullPathname = CombinerFullPathname;
    vfs.xDlOpen = CombinerDlOpen;
    vfs.xDlError = CombinerDlError;
    vfs.xDlSym = CombinerDlSym;
    vfs.xDlClose = CombinerDlClose;
    vfs.xRandomness = CombinerRandomness;
    vfs.xSleep = CombinerSleep;
    vfs.xCurrentTime = CombinerCurrentTime;
    vfs.xGetLastError = CombinerGetLastError;
    vfs.xCurrentTimeInt64 = CombinerCurrentTimeInt64;
    if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
    return kVfsName;
  }();
  return registered;
}

WalWriteCounts WalWriteCombinerCounts() {
  return WalWriteCounts{g_writes_received.load(std::memory_order_relaxed),
                        g_writes_issued.load(std::memory_order_relaxed)};
}

}  // namespace dozor::sqlite
