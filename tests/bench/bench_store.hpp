// A SQLite store file for the store benchmarks: opened in a fresh directory, with one organisation,
// one enrollment token and the agents asked for enrolled into it.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.hpp"

namespace dozor::bench {

// nullptr, with the reason on stderr, when the store cannot be opened or set up. `options.path`
// is set to <dir>/bench.db; the directory is emptied first.
inline std::unique_ptr<server::SqliteStore> OpenBenchStore(const std::filesystem::path& dir,
                                                           server::SqliteStoreOptions options,
                                                           const std::vector<std::string>& agents) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  options.path = (dir / "bench.db").string();
  auto opened = server::SqliteStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "bench store: %s\n", opened.error().ToString().c_str());
    return nullptr;
  }
  std::unique_ptr<server::SqliteStore> store = std::move(opened).value();
  server::Organization org;
  org.name = "bench";
  auto created = store->CreateOrganization(org);
  if (!created.ok()) {
    std::fprintf(stderr, "bench store: %s\n", created.error().ToString().c_str());
    return nullptr;
  }
  server::NewEnrollmentToken token{created->id, "bench-token", "bench",
                                   "",          std::nullopt,  std::nullopt};
  if (auto made = store->CreateEnrollmentToken(token); !made.ok()) {
    std::fprintf(stderr, "bench store: %s\n", made.error().ToString().c_str());
    return nullptr;
  }
  for (const std::string& id : agents) {
    server::NewAgent agent{id, "secret", "host", "", "0.1", "linux"};
    if (auto enrolled = store->EnrollAgent("bench-token", agent, 0); !enrolled.ok()) {
      std::fprintf(stderr, "bench store: %s\n", enrolled.error().ToString().c_str());
      return nullptr;
    }
  }
  return store;
}

}  // namespace dozor::bench
