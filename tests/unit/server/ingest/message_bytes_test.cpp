#include "ingest/message_bytes.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace dozor::server {
namespace {

// Longer than gRPC's inline slices (a few bytes, copied by value and merged when appended), so
// these are reference-counted slices like those of a received report.
std::string Text(char fill) { return std::string(200, fill); }

TEST_CASE("a message of one slice is read in place, without a copy") {
  grpc::Slice slice(Text('a'));
  grpc::ByteBuffer buffer(&slice, 1);
  const MessageBytes bytes(buffer);
  CHECK_FALSE(bytes.copied());
  CHECK(bytes.view() == Text('a'));
  CHECK(reinterpret_cast<const uint8_t*>(bytes.data()) == slice.begin());
  // The bytes outlive the buffer they came from (the reactor clears it before parsing).
  buffer.Clear();
  CHECK(bytes.view() == Text('a'));
}

TEST_CASE("a message of several slices is copied once, in order") {
  std::vector<grpc::Slice> slices{grpc::Slice(Text('a')), grpc::Slice(Text('b')),
                                  grpc::Slice(Text('c'))};
  grpc::ByteBuffer buffer(slices.data(), slices.size());
  const MessageBytes bytes(buffer);
  CHECK(bytes.copied());
  CHECK(bytes.view() == Text('a') + Text('b') + Text('c'));
  CHECK(bytes.size() == buffer.Length());
}

TEST_CASE("an empty message is an empty view") {
  grpc::ByteBuffer empty;
  const MessageBytes bytes(empty);
  CHECK(bytes.size() == 0);
  CHECK(bytes.view().empty());
}

}  // namespace
}  // namespace dozor::server
