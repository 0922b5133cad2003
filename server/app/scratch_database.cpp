#include "app/scratch_database.hpp"

#include <unistd.h>

#include <system_error>

namespace dozor::server {

ScratchDatabase::ScratchDatabase(std::string_view prefix) {
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec) {
    base = "/tmp";
  }
  dir_ = base / (std::string(prefix) + "-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir_, ec);
}

ScratchDatabase::~ScratchDatabase() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ScratchDatabase::path() const { return (dir_ / "scratch.db").string(); }

Result<std::unique_ptr<SqliteStore>> ScratchDatabase::Open() {
  SqliteStoreOptions options;
  options.path = path();
  options.background_checkpoint = false;
  return OpenSqliteStore(options);
}

}  // namespace dozor::server
