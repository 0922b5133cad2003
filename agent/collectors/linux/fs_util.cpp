#include "collectors/linux/fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <utility>

#include "dozor/common/files.hpp"

namespace dozor::agent {

namespace fs = std::filesystem;

std::string ReadSmallFile(const fs::path& path, size_t max_bytes) {
  Result<std::string> text = ReadFile(path, max_bytes);
  return text.ok() ? std::move(text).value() : std::string();
}

std::string ReadTrimmedFile(const fs::path& path, size_t max_bytes) {
  return std::string(Trim(ReadSmallFile(path, max_bytes)));
}

std::string ReadFirstLine(const fs::path& path, size_t max_bytes) {
  std::string text = ReadSmallFile(path, max_bytes);
  return std::string(Trim(std::string_view(text).substr(0, text.find('\n'))));
}

std::string ReadSysfsValue(const fs::path& path) {
  return std::string(TrimRight(ReadSmallFile(path), "\n \r"));
}

namespace {

struct OpenedFile {
  int fd;
  uint64_t size;
};

// A regular file opened for reading, with its size; anything else planted at the path (a FIFO,
// a device, a socket) is refused. O_NONBLOCK: opening a FIFO must not wait for a writer.
Result<OpenedFile> OpenRegularFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return MakeError(
        errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
        "cannot open " + path.string() + ": " + std::generic_category().message(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return MakeError(ErrorCode::kInvalidArgument,
                     path.string() + " is not a regular file (FIFO, device or socket): not read");
  }
  return OpenedFile{fd, static_cast<uint64_t>(info.st_size)};
}

}  // namespace

Status ReadFileInChunks(const fs::path& path, size_t max_bytes,
                        const std::function<void(std::string_view)>& on_chunk) {
  DOZOR_ASSIGN_OR_RETURN(const OpenedFile file, OpenRegularFile(path));
  const int fd = file.fd;
  // Static storage would not do (collectors may run on several threads); 64 KiB on the heap is
  // one allocation per file.
  std::string buffer(64 * 1024, '\0');
  size_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return MakeError(ErrorCode::kUnavailable, "cannot read " + path.string() + ": " +
                                                    std::generic_category().message(err));
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > max_bytes) {
      ::close(fd);
      return MakeError(ErrorCode::kResourceExhausted,
                       path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    on_chunk(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return OkStatus();
}

Result<RandomAccessFile> RandomAccessFile::Open(const fs::path& path) {
  DOZOR_ASSIGN_OR_RETURN(const OpenedFile file, OpenRegularFile(path));
  return RandomAccessFile(file.fd, file.size, path.string());
}

RandomAccessFile::RandomAccessFile(RandomAccessFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), path_(std::move(other.path_)) {}

RandomAccessFile& RandomAccessFile::operator=(RandomAccessFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    path_ = std::move(other.path_);
  }
  return *this;
}

RandomAccessFile::~RandomAccessFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> RandomAccessFile::ReadAt(uint64_t offset, size_t length) const {
  std::string out;
  if (offset >= size_) return out;
  out.resize(static_cast<size_t>(std::min<uint64_t>(length, size_ - offset)));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kUnavailable,
                       "cannot read " + path_ + ": " + std::generic_category().message(errno));
    }
    if (n == 0) break;  // the file shrank since it was opened
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

bool PathExists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool IsDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

Result<std::vector<std::string>> ListDirectory(const fs::path& dir, size_t max_entries) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kNotFound, "cannot list " + dir.string() + ": " + ec.message());
  }
  std::vector<std::string> names;
  for (; !ec && it != fs::directory_iterator() && names.size() < max_entries; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> ListNamesOrEmpty(const fs::path& dir, size_t max_entries) {
  Result<std::vector<std::string>> names = ListDirectory(dir, max_entries);
  return names.ok() ? std::move(names).value() : std::vector<std::string>();
}

}  // namespace dozor::agent
