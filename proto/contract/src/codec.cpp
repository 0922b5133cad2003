#include <zlib.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "dozor/contract/codec.hpp"

namespace dozor {

std::string EncodeCompressed(const google::protobuf::MessageLite& message) {
  std::string raw;
  (void)message.ByteSizeLong();  // SerializeWithCachedSizes needs the sizes cached
  {
    google::protobuf::io::StringOutputStream stream(&raw);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  // 4-byte little-endian raw length prefix lets the decoder size its buffer and reject bombs.
  std::string out(4 + bound, '\0');
  uint32_t raw_size = static_cast<uint32_t>(raw.size());
  for (int i = 0; i < 4; ++i)
    out[static_cast<size_t>(i)] = static_cast<char>((raw_size >> (8 * i)) & 0xff);
  int rc = compress2(reinterpret_cast<Bytef*>(out.data() + 4), &bound,
                     reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6);
  if (rc != Z_OK) {
    return {};
  }
  out.resize(4 + bound);
  return out;
}

Status DecodeCompressed(std::string_view blob, google::protobuf::MessageLite* message) {
  if (blob.size() < 4) {
    return MakeError(ErrorCode::kDataLoss, "encoded message is truncated");
  }
  uint32_t raw_size = 0;
  for (int i = 0; i < 4; ++i)
    raw_size |= static_cast<uint32_t>(static_cast<unsigned char>(blob[static_cast<size_t>(i)]))
                << (8 * i);
  if (raw_size > kMaxDecodedMessageBytes) {
    return MakeError(ErrorCode::kDataLoss, "encoded message claims an impossible size");
  }
  std::string raw(raw_size, '\0');
  uLongf out_size = raw_size;
  int rc = uncompress(reinterpret_cast<Bytef*>(raw.data()), &out_size,
                      reinterpret_cast<const Bytef*>(blob.data() + 4),
                      static_cast<uLong>(blob.size() - 4));
  if (rc != Z_OK || out_size != raw_size) {
    return MakeError(ErrorCode::kDataLoss,
                     "encoded message is corrupt (zlib " + std::to_string(rc) + ")");
  }
  if (!message->ParseFromString(raw)) {
    return MakeError(ErrorCode::kDataLoss, "encoded message does not parse");
  }
  return OkStatus();
}

}  // namespace dozor
