// The bytes of a received gRPC message as one contiguous view, for the wire walk and the parse.
//
// Why: every agent message passes through here (the ingest hot path). A message that arrived as
// one slice is read in place: the view points into gRPC's slice, which this object keeps a
// reference to, so nothing is copied. Only a message of several slices is copied once into a
// string (its size was already bounded by the transport's receive limit).
//
// The view stays valid while this object lives, even after the ByteBuffer is cleared or reused.
// Not copyable or movable (the view may point into the object's own string).
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <string>
#include <string_view>
#include <vector>

namespace dozor::server {

class MessageBytes {
 public:
  explicit MessageBytes(const grpc::ByteBuffer& buffer) {
    if (buffer.TrySingleSlice(&slice_).ok()) {
      view_ = std::string_view(reinterpret_cast<const char*>(slice_.begin()), slice_.size());
      return;
    }
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return;
    copy_.reserve(buffer.Length());
    for (const auto& slice : slices) {
      copy_.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    view_ = copy_;
    copied_ = true;
  }
  MessageBytes(const MessageBytes&) = delete;
  MessageBytes& operator=(const MessageBytes&) = delete;

  [[nodiscard]] std::string_view view() const { return view_; }
  [[nodiscard]] const char* data() const { return view_.data(); }
  [[nodiscard]] size_t size() const { return view_.size(); }
  // True when the bytes were copied (the message had several slices).
  [[nodiscard]] bool copied() const { return copied_; }

 private:
  grpc::Slice slice_;
  std::string copy_;
  std::string_view view_;
  bool copied_ = false;
};

}  // namespace dozor::server
