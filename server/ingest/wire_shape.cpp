#include "ingest/wire_shape.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

class Walker {
 public:
  Walker(const WireScanLimits& limits, WireShape* shape) : limits_(limits), shape_(shape) {}

  Status Walk(const Descriptor* descriptor, CodedInputStream& in, int depth) {
    if (depth > shape_->max_depth) shape_->max_depth = depth;
    if (depth > limits_.max_depth) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "message nesting deeper than " + std::to_string(limits_.max_depth));
    }
    const bool is_agent_message = descriptor == dozor::v1::AgentMessage::descriptor();
    const bool is_report = descriptor == dozor::v1::Report::descriptor() && depth == 1;
    while (true) {
      uint32_t tag = in.ReadTag();
      if (tag == 0) {
        // The end of this message's bytes, or a zero tag (invalid) before it.
        if (!in.ConsumedEntireMessage()) {
          return Malformed("invalid field tag");
        }
        return OkStatus();
      }
      if (++shape_->fields > limits_.max_fields) {
        return MakeError(ErrorCode::kResourceExhausted,
                         "more than " + std::to_string(limits_.max_fields) + " fields");
      }
      const int number = WireFormatLite::GetTagFieldNumber(tag);
      if (number == 0) return Malformed("field number 0");
      const FieldDescriptor* field = descriptor->FindFieldByNumber(number);
      switch (WireFormatLite::GetTagWireType(tag)) {
        case WireFormatLite::WIRETYPE_VARINT: {
          uint64_t value = 0;
          if (!in.ReadVarint64(&value)) return Malformed("truncated varint");
          if (is_report && number == dozor::v1::Report::kSeqFieldNumber) shape_->seq = value;
          break;
        }
        case WireFormatLite::WIRETYPE_FIXED64: {
          uint64_t value = 0;
          if (!in.ReadLittleEndian64(&value)) return Malformed("truncated fixed64");
          break;
        }
        case WireFormatLite::WIRETYPE_FIXED32: {
          uint32_t value = 0;
          if (!in.ReadLittleEndian32(&value)) return Malformed("truncated fixed32");
          break;
        }
        case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
          uint32_t length = 0;
          if (!in.ReadVarint32(&length)) return Malformed("truncated length");
          if (static_cast<int64_t>(length) > in.BytesUntilLimit()) {
            return Malformed("length beyond the end of the message");
          }
          if (is_agent_message && number == dozor::v1::AgentMessage::kReportFieldNumber) {
            shape_->has_report = true;
          }
          if (is_report && number == dozor::v1::Report::kInventoryFieldNumber) {
            shape_->payload = PayloadKind::kInventory;
          }
          if (is_report && number == dozor::v1::Report::kHealthFieldNumber) {
            shape_->payload = PayloadKind::kHealth;
          }
          if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
            auto limit = in.PushLimit(static_cast<int>(length));
            DOZOR_RETURN_IF_ERROR(Walk(field->message_type(), in, depth + 1));
            in.PopLimit(limit);
          } else {
            if (field != nullptr && field->is_packed()) {
              // A packed list: every item is at least one byte, so its length bounds the count.
              shape_->fields += length;
              if (shape_->fields > limits_.max_fields) {
                return MakeError(ErrorCode::kResourceExhausted,
                                 "more than " + std::to_string(limits_.max_fields) + " fields");
              }
            }
            if (!in.Skip(static_cast<int>(length))) return Malformed("truncated bytes");
          }
          break;
        }
        default:
          // Groups (deprecated, never in our contract) and wire types 6/7.
          return Malformed("unsupported wire type " +
                           std::to_string(WireFormatLite::GetTagWireType(tag)));
      }
    }
  }

 private:
  static Error Malformed(const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "not a valid protobuf message: " + what);
  }

  const WireScanLimits& limits_;
  WireShape* shape_;
};

}  // namespace

Status ScanWireShape(const Descriptor* descriptor, std::string_view bytes,
                     const WireScanLimits& limits, WireShape* shape) {
  *shape = WireShape{};
  shape->bytes = bytes.size();
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return MakeError(ErrorCode::kResourceExhausted, "message larger than 2 GiB");
  }
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  in.SetRecursionLimit(limits.max_depth + 1);
  Walker walker(limits, shape);
  return walker.Walk(descriptor, in, 0);
}

}  // namespace dozor::server
