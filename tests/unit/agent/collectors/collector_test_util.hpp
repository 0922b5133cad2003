// Helpers shared by the collector tests: fixture host roots, canned command output and lookups
// in the repeated fields of the inventory messages.
#pragma once

#include <doctest/doctest.h>
#include <google/protobuf/repeated_ptr_field.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/collector.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent::collector_test {

// tests/fixtures/hosts/<host>: a fake filesystem root.
inline std::filesystem::path HostRoot(const std::string& host) {
  return dozor::testing::FixturePath("hosts/" + host);
}

// A file of a fixture host; the test stops when it is missing.
inline std::string ReadFixture(const std::string& host, const std::string& relative) {
  Result<std::string> text = ReadFile(HostRoot(host) / relative);
  REQUIRE_MESSAGE(text.ok(), relative);
  return *text;
}

// A context over `root` with no external commands.
inline CollectContext RootContext(const std::filesystem::path& root) {
  CollectContext ctx;
  ctx.root = root;
  return ctx;
}

inline CollectContext FixtureContext(const std::string& host) {
  return RootContext(HostRoot(host));
}

// Canned command output: <base><stdout_extension> is stdout, the optional <base>.exit holds the
// exit code (0 without it). nullopt when there is no stdout file.
inline std::optional<CommandOutput> ReadCannedOutput(const std::filesystem::path& base,
                                                     const std::string& stdout_extension) {
  Result<std::string> text = ReadFile(base.string() + stdout_extension);
  if (!text.ok()) {
    return std::nullopt;
  }
  CommandOutput output;
  output.stdout_text = *text;
  Result<std::string> exit_text = ReadFile(base.string() + ".exit");
  if (exit_text.ok()) {
    output.exit_code = std::stoi(*exit_text);
  }
  return output;
}

// The first item matching `pred`, or null.
template <typename T, typename Pred>
const T* FindIf(const google::protobuf::RepeatedPtrField<T>& items, Pred pred) {
  auto it = std::find_if(items.begin(), items.end(), pred);
  return it == items.end() ? nullptr : &*it;
}

// The first item whose name() is `name`, or null.
template <typename T>
const T* FindNamed(const google::protobuf::RepeatedPtrField<T>& items, std::string_view name) {
  return FindIf(items, [&](const T& item) { return item.name() == name; });
}

}  // namespace dozor::agent::collector_test
