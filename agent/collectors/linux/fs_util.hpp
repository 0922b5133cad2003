// File-system helpers for the Linux collectors: small files read whole with a size limit,
// existence checks and sorted directory listings that never throw. Paths are already resolved
// under the collector's root (CollectContext::Path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/parsers/text.hpp"
#include "dozor/common/result.hpp"

namespace dozor::agent {

// sysfs attributes, /etc/hostname, /proc/uptime and the like fit with room to spare.
inline constexpr size_t kMaxSmallFileBytes = 64 * 1024;

// The whole file, or empty when it is missing, unreadable or larger than max_bytes: for
// best-effort values where "absent" and "empty" mean the same.
[[nodiscard]] std::string ReadSmallFile(const std::filesystem::path& path,
                                        size_t max_bytes = kMaxSmallFileBytes);

// ReadSmallFile without surrounding whitespace (kWhitespace).
[[nodiscard]] std::string ReadTrimmedFile(const std::filesystem::path& path,
                                          size_t max_bytes = kMaxSmallFileBytes);

// The first line of ReadSmallFile, without surrounding whitespace.
[[nodiscard]] std::string ReadFirstLine(const std::filesystem::path& path,
                                        size_t max_bytes = kMaxSmallFileBytes);

// A value the kernel prints with a newline (sysfs attributes, /proc/<pid>/comm): ReadSmallFile
// without trailing '\n', ' ' and '\r'. Leading blanks are kept: in comm they are data.
[[nodiscard]] std::string ReadSysfsValue(const std::filesystem::path& path);

// ReadSysfsValue as a whole decimal number ("%d\n"); false when missing or not a number.
template <typename T>
bool ReadSysfsNumber(const std::filesystem::path& path, T* out) {
  return ParseNumber(ReadSysfsValue(path), out);
}

// Reads a regular file in chunks of at most 64 KiB, calling on_chunk for each, so a large file
// (a 34 MB dpkg status) is never held whole. A FIFO, device or socket is refused (kInvalidArgument)
// as ReadFile refuses it; kResourceExhausted once more than max_bytes were read (the chunks before
// have been passed on).
[[nodiscard]] Status ReadFileInChunks(const std::filesystem::path& path, size_t max_bytes,
                                      const std::function<void(std::string_view)>& on_chunk);

// A regular file opened for reads at offsets: the tail of a log, one record of a file indexed by
// id (lastlog), without reading the rest. Open refuses a FIFO, device or socket as
// ReadFileInChunks does. Move-only; closes the file when destroyed.
class RandomAccessFile {
 public:
  [[nodiscard]] static Result<RandomAccessFile> Open(const std::filesystem::path& path);
  RandomAccessFile(RandomAccessFile&& other) noexcept;
  RandomAccessFile& operator=(RandomAccessFile&& other) noexcept;
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;
  ~RandomAccessFile();

  // The size when opened.
  [[nodiscard]] uint64_t Size() const { return size_; }
  // Up to `length` bytes from `offset`: fewer at the end of the file, none past it.
  [[nodiscard]] Result<std::string> ReadAt(uint64_t offset, size_t length) const;

 private:
  RandomAccessFile(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

// Error-code forms of std::filesystem's checks: false when the path cannot be examined.
[[nodiscard]] bool PathExists(const std::filesystem::path& path);
[[nodiscard]] bool IsDirectory(const std::filesystem::path& path);

// Entry names of `dir` in byte order, at most max_entries (taken in directory order). kNotFound
// when the directory cannot be opened; a read error part way ends the list there.
[[nodiscard]] Result<std::vector<std::string>> ListDirectory(const std::filesystem::path& dir,
                                                             size_t max_entries = SIZE_MAX);

// ListDirectory for best-effort scans, where a directory that cannot be read simply has no
// entries (a missing /etc/cron.d, an unreadable catalogue).
[[nodiscard]] std::vector<std::string> ListNamesOrEmpty(const std::filesystem::path& dir,
                                                        size_t max_entries = SIZE_MAX);

}  // namespace dozor::agent
