#include "transport/spool.hpp"

#include <ctime>
#include <string>
#include <system_error>

#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "transport/sqlite_spool.hpp"

namespace dozor::agent {
namespace {

// Moves the database and its WAL/SHM companions aside under one new base name; SQLite pairs a
// database with "<name>-wal", so the set stays readable together for a post-mortem.
Result<std::filesystem::path> MoveAside(const std::filesystem::path& path) {
  std::filesystem::path aside = path;
  aside += ".corrupt-" + std::to_string(static_cast<long long>(std::time(nullptr)));
  std::error_code ec;
  for (int suffix = 1; std::filesystem::exists(aside, ec); ++suffix) {
    aside = path;
    aside += ".corrupt-" + std::to_string(static_cast<long long>(std::time(nullptr))) + "-" +
             std::to_string(suffix);
  }
  std::filesystem::rename(path, aside, ec);
  if (ec) {
    return MakeError(ErrorCode::kDataLoss, "spool " + PathToUtf8(path) +
                                               " is corrupt and cannot be "
                                               "moved aside: " +
                                               ec.message());
  }
  for (const char* companion : {"-wal", "-shm"}) {
    std::filesystem::path from = path;
    from += companion;
    if (std::filesystem::exists(from, ec)) {
      std::filesystem::path to = aside;
      to += companion;
      std::filesystem::rename(from, to, ec);
      if (ec) {
        // A stale WAL next to a fresh database would be replayed into it: it has to go.
        std::filesystem::remove(from, ec);
      }
    }
  }
  return aside;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options, std::string* warning) {
  if (options.path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "spool path is empty");
  }
  if (options.path.has_parent_path()) {
    DOZOR_RETURN_IF_ERROR(EnsureDirectory(options.path.parent_path(), 0700));
  }
  auto opened = SqliteSpool::OpenFile(options);
  if (opened.ok()) {
    return std::unique_ptr<Spool>(std::move(opened).value());
  }
  if (opened.error().code != ErrorCode::kDataLoss) {
    return opened.error().Wrap("open spool " + PathToUtf8(options.path));
  }
  // Corrupt: keep the agent collecting and sending new data rather than stopping on old data.
  DOZOR_ASSIGN_OR_RETURN(std::filesystem::path aside, MoveAside(options.path));
  auto fresh = SqliteSpool::OpenFile(options);
  if (!fresh.ok()) {
    return fresh.error().Wrap("open fresh spool " + PathToUtf8(options.path) +
                              " after moving the "
                              "corrupt one to " +
                              PathToUtf8(aside));
  }
  if (warning != nullptr) {
    *warning = "spool " + PathToUtf8(options.path) + " was corrupt (" + opened.error().message +
               "); moved it to " + PathToUtf8(aside) +
               " and started an empty spool: reports in it that were not yet acknowledged are lost";
  }
  return std::unique_ptr<Spool>(std::move(fresh).value());
}

}  // namespace dozor::agent
