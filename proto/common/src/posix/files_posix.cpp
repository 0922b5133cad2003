#include "dozor/common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dozor {
namespace {

Error ErrnoError(const std::string& what, const std::filesystem::path& path, int err) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  if (err == ENOSPC || err == EDQUOT) code = ErrorCode::kResourceExhausted;
  return MakeError(code, what + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes, ReadFrom from) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (a FIFO planted where a collector
  // reads, e.g. etc/resolv.conf, hung the whole inventory); it has no effect on regular files.
  const int flags = O_RDONLY | O_CLOEXEC | (from == ReadFrom::kRegularFile ? O_NONBLOCK : 0);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    return ErrnoError("cannot open", path, errno);
  }
  struct stat info {};
  if (from == ReadFrom::kRegularFile && (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))) {
    ::close(fd);
    return MakeError(ErrorCode::kInvalidArgument,
                     path.string() + " is not a regular file (FIFO, device or socket): not read");
  }
  std::string out;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read", path, err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return MakeError(ErrorCode::kResourceExhausted,
                       path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoError("cannot create", tmp, errno);
  }
  // The umask may have narrowed or the file may have existed: set the mode explicitly.
  ::fchmod(fd, mode);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoError("cannot write", tmp, err);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError("cannot fsync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot rename onto", path, err);
  }
  return OkStatus();
}

Status EnsureDirectory(const std::filesystem::path& path, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return OkStatus();
  }
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "cannot create directory " + path.string() + ": " + ec.message());
  }
  ::chmod(path.c_str(), mode);
  return OkStatus();
}

}  // namespace dozor
