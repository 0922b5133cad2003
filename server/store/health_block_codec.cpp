#include "store/health_block_codec.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "dozor/contract/codec.hpp"

namespace dozor::server {
namespace {

// Format: see health_block_codec.hpp.

constexpr uint8_t kBlockFormat = 1;
constexpr int kBlockZlibLevel = 9;
constexpr int kMaxWalkDepth = 32;
constexpr uint64_t kMaxRepeated = 1u << 20;
constexpr int kMaxDecimalDigits = 6;
constexpr double kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
constexpr double kNegPow10[] = {1, 0.1, 0.01, 0.001, 0.0001, 0.00001, 0.000001};

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

// Bounds-checked reader over untrusted bytes: every read reports failure instead of overrunning.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool Varint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) {
        return false;
      }
      auto byte = static_cast<uint8_t>(data_[pos_++]);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return false;
  }
  bool Bytes(size_t size, std::string_view* out) {
    if (size > data_.size() - pos_) {
      return false;
    }
    *out = data_.substr(pos_, size);
    pos_ += size;
    return true;
  }
  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) {
      return false;
    }
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

uint64_t DoubleBits(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

double BitsDouble(uint64_t bits) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Mode 1..7: n / 10^(mode-1). Mode 8..13: n * 10^-(mode-7). Mode 0: raw bits.
bool DecodeDouble(uint8_t mode, int64_t n, double* out) {
  if (mode == 0) {
    *out = BitsDouble(static_cast<uint64_t>(n));
  } else if (mode <= 1 + kMaxDecimalDigits) {
    *out = static_cast<double>(n) / kPow10[mode - 1];
  } else if (mode <= 1 + 2 * kMaxDecimalDigits) {
    *out = static_cast<double>(n) * kNegPow10[mode - 1 - kMaxDecimalDigits];
  } else {
    return false;
  }
  return true;
}

bool TryMode(double value, uint8_t mode, int64_t* n) {
  if (mode == 0) {
    *n = static_cast<int64_t>(DoubleBits(value));
    return true;
  }
  double scaled = mode <= 1 + kMaxDecimalDigits ? value * kPow10[mode - 1]
                                                : value / kNegPow10[mode - 1 - kMaxDecimalDigits];
  if (!std::isfinite(scaled) || std::fabs(scaled) > 0x1.0p52) {
    return false;
  }
  int64_t candidate = std::llround(scaled);
  double back = 0;
  if (!DecodeDouble(mode, candidate, &back) || DoubleBits(back) != DoubleBits(value)) {
    return false;
  }
  *n = candidate;
  return true;
}

// Picks the mode for a double: the slot's previous mode if it still fits (keeps differences
// small), else the fewest decimal digits that reproduce the value bit for bit, else raw.
uint8_t ChooseMode(double value, uint8_t previous, int64_t* n) {
  if (previous != 0 && TryMode(value, previous, n)) {
    return previous;
  }
  for (int k = 0; k <= kMaxDecimalDigits; ++k) {
    if (TryMode(value, static_cast<uint8_t>(1 + k), n)) {
      return static_cast<uint8_t>(1 + k);
    }
    if (k > 0 && TryMode(value, static_cast<uint8_t>(1 + kMaxDecimalDigits + k), n)) {
      return static_cast<uint8_t>(1 + kMaxDecimalDigits + k);
    }
  }
  (void)TryMode(value, 0, n);
  return 0;
}

struct SampleColumns {
  std::string shape;
  std::vector<int64_t> slots;   // integers, and doubles as their encoded integer n
  std::vector<uint8_t> modes;   // one per double slot, in slot order
  std::vector<bool> is_double;  // per slot
};

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

int64_t ScalarAsInt(const Message& m, const Reflection& r, const FieldDescriptor& f, int index) {
  const bool repeated = f.is_repeated();
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return repeated ? r.GetRepeatedInt32(m, &f, index) : r.GetInt32(m, &f);
    case FieldDescriptor::CPPTYPE_INT64:
      return repeated ? r.GetRepeatedInt64(m, &f, index) : r.GetInt64(m, &f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? r.GetRepeatedUInt32(m, &f, index) : r.GetUInt32(m, &f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<int64_t>(repeated ? r.GetRepeatedUInt64(m, &f, index)
                                           : r.GetUInt64(m, &f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r.GetRepeatedBool(m, &f, index) : r.GetBool(m, &f)) ? 1 : 0;
    case FieldDescriptor::CPPTYPE_ENUM:
      return repeated ? r.GetRepeatedEnumValue(m, &f, index) : r.GetEnumValue(m, &f);
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float value = repeated ? r.GetRepeatedFloat(m, &f, index) : r.GetFloat(m, &f);
      uint32_t bits = 0;
      std::memcpy(&bits, &value, sizeof bits);
      return bits;
    }
    default:
      return 0;
  }
}

void SetScalarFromInt(Message* m, const Reflection& r, const FieldDescriptor& f, int64_t v) {
  const bool repeated = f.is_repeated();
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      repeated ? r.AddInt32(m, &f, static_cast<int32_t>(v))
               : r.SetInt32(m, &f, static_cast<int32_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      repeated ? r.AddInt64(m, &f, v) : r.SetInt64(m, &f, v);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      repeated ? r.AddUInt32(m, &f, static_cast<uint32_t>(v))
               : r.SetUInt32(m, &f, static_cast<uint32_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      repeated ? r.AddUInt64(m, &f, static_cast<uint64_t>(v))
               : r.SetUInt64(m, &f, static_cast<uint64_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      repeated ? r.AddBool(m, &f, v != 0) : r.SetBool(m, &f, v != 0);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      repeated ? r.AddEnumValue(m, &f, static_cast<int>(v))
               : r.SetEnumValue(m, &f, static_cast<int>(v));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT: {
      auto bits = static_cast<uint32_t>(v);
      float value = 0;
      std::memcpy(&value, &bits, sizeof value);
      repeated ? r.AddFloat(m, &f, value) : r.SetFloat(m, &f, value);
      break;
    }
    default:
      break;
  }
}

// Splits one message into shape and slots. `previous_modes` (may be shorter) steers the
// choice of double modes towards the previous sample's.
void SplitMessage(const Message& m, const std::vector<uint8_t>& previous_modes,
                  SampleColumns* out) {
  const auto* descriptor = m.GetDescriptor();
  const Reflection& r = *m.GetReflection();
  auto add_double = [&](double value) {
    size_t index = out->modes.size();
    uint8_t previous = index < previous_modes.size() ? previous_modes[index] : 0;
    int64_t n = 0;
    out->modes.push_back(ChooseMode(value, previous, &n));
    out->slots.push_back(n);
    out->is_double.push_back(true);
  };
  auto add_string = [&](const std::string& value) {
    PutVarint(out->shape, value.size());
    out->shape += value;
  };
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor& f = *descriptor->field(i);
    if (f.is_repeated()) {
      int count = r.FieldSize(m, &f);
      PutVarint(out->shape, static_cast<uint64_t>(count));
      for (int j = 0; j < count; ++j) {
        switch (f.cpp_type()) {
          case FieldDescriptor::CPPTYPE_MESSAGE:
            SplitMessage(r.GetRepeatedMessage(m, &f, j), previous_modes, out);
            break;
          case FieldDescriptor::CPPTYPE_STRING:
            add_string(r.GetRepeatedString(m, &f, j));
            break;
          case FieldDescriptor::CPPTYPE_DOUBLE:
            add_double(r.GetRepeatedDouble(m, &f, j));
            break;
          default:
            out->slots.push_back(ScalarAsInt(m, r, f, j));
            out->is_double.push_back(false);
        }
      }
      continue;
    }
    switch (f.cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        bool has = r.HasField(m, &f);
        out->shape.push_back(has ? 1 : 0);
        if (has) {
          SplitMessage(r.GetMessage(m, &f), previous_modes, out);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING:
        add_string(r.GetString(m, &f));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        add_double(r.GetDouble(m, &f));
        break;
      default:
        out->slots.push_back(ScalarAsInt(m, r, f, 0));
        out->is_double.push_back(false);
    }
  }
}

// Where one slot's value lives in an assembled message: `index` is the element of a repeated
// field, -1 for a singular one.
struct SlotTarget {
  Message* message = nullptr;
  const Reflection* reflection = nullptr;  // message's, looked up once (it costs a call_once)
  const FieldDescriptor* field = nullptr;
  int index = -1;
};

// Rebuilds a message from its shape and slot values (doubles already decoded to their bits).
class Assembler {
 public:
  // With `targets`, records where each slot's value went (in slot order), so a later sample of
  // the same shape can be written into the same message slot by slot.
  Assembler(std::string_view shape, const std::vector<int64_t>& slots,
            const std::vector<uint8_t>& modes, const std::vector<bool>& is_double,
            std::vector<SlotTarget>* targets = nullptr)
      : shape_(shape), slots_(slots), modes_(modes), is_double_(is_double), targets_(targets) {}

  bool Assemble(Message* m, int depth) {
    if (depth > kMaxWalkDepth) {
      return false;
    }
    const auto* descriptor = m->GetDescriptor();
    const Reflection& r = *m->GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor& f = *descriptor->field(i);
      if (f.is_repeated()) {
        uint64_t count = 0;
        if (!shape_.Varint(&count) || count > kMaxRepeated) {
          return false;
        }
        for (uint64_t j = 0; j < count; ++j) {
          if (!Value(m, r, f, depth)) {
            return false;
          }
        }
        continue;
      }
      if (f.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        uint8_t has = 0;
        if (!shape_.Byte(&has) || has > 1) {
          return false;
        }
        if (has == 1 && !Assemble(r.MutableMessage(m, &f), depth + 1)) {
          return false;
        }
        continue;
      }
      if (!Value(m, r, f, depth)) {
        return false;
      }
    }
    return true;
  }

  bool Done() const { return shape_.AtEnd() && next_slot_ == slots_.size(); }

 private:
  // One value of field f (a single element when f is repeated).
  bool Value(Message* m, const Reflection& r, const FieldDescriptor& f, int depth) {
    const bool repeated = f.is_repeated();
    switch (f.cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Assemble(r.AddMessage(m, &f), depth + 1);
      case FieldDescriptor::CPPTYPE_STRING: {
        uint64_t size = 0;
        std::string_view bytes;
        if (!shape_.Varint(&size) || !shape_.Bytes(size, &bytes)) {
          return false;
        }
        repeated ? r.AddString(m, &f, std::string(bytes)) : r.SetString(m, &f, std::string(bytes));
        return true;
      }
      default:
        break;
    }
    if (next_slot_ >= slots_.size()) {
      return false;
    }
    const bool want_double = f.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE;
    if (is_double_[next_slot_] != want_double) {
      return false;
    }
    int64_t v = slots_[next_slot_++];
    if (want_double) {
      double value = 0;
      if (next_double_ >= modes_.size() || !DecodeDouble(modes_[next_double_++], v, &value)) {
        return false;
      }
      repeated ? r.AddDouble(m, &f, value) : r.SetDouble(m, &f, value);
    } else {
      SetScalarFromInt(m, r, f, v);
    }
    if (targets_ != nullptr) {
      targets_->push_back({m, &r, &f, repeated ? r.FieldSize(*m, &f) - 1 : -1});
    }
    return true;
  }

  ByteReader shape_;
  const std::vector<int64_t>& slots_;
  const std::vector<uint8_t>& modes_;
  const std::vector<bool>& is_double_;
  std::vector<SlotTarget>* targets_;
  size_t next_slot_ = 0;
  size_t next_double_ = 0;
};

// Writes one slot's value where an earlier assembly of the same shape put it.
void SetSlot(const SlotTarget& target, int64_t v, const double* as_double) {
  Message* m = target.message;
  const FieldDescriptor& f = *target.field;
  const Reflection& r = *target.reflection;
  if (target.index < 0) {
    if (as_double != nullptr) {
      r.SetDouble(m, &f, *as_double);
    } else {
      SetScalarFromInt(m, r, f, v);
    }
    return;
  }
  const int i = target.index;
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r.SetRepeatedDouble(m, &f, i, as_double != nullptr ? *as_double : 0);
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      r.SetRepeatedInt32(m, &f, i, static_cast<int32_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r.SetRepeatedInt64(m, &f, i, v);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r.SetRepeatedUInt32(m, &f, i, static_cast<uint32_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r.SetRepeatedUInt64(m, &f, i, static_cast<uint64_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r.SetRepeatedBool(m, &f, i, v != 0);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r.SetRepeatedEnumValue(m, &f, i, static_cast<int>(v));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT: {
      auto bits = static_cast<uint32_t>(v);
      float value = 0;
      std::memcpy(&value, &bits, sizeof value);
      r.SetRepeatedFloat(m, &f, i, value);
      break;
    }
    default:
      break;
  }
}

std::string DeterministicBytes(const Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Walks a shape against the schema without building a message, to learn which slots hold
// doubles (the decoder needs that before it can undo the per-slot differences).
bool ProbeWalk(const google::protobuf::Descriptor& descriptor, ByteReader& shape,
               std::vector<bool>& is_double, uint64_t max_slots, int depth) {
  if (depth > kMaxWalkDepth) {
    return false;
  }
  auto element = [&](const FieldDescriptor& f) {
    if (f.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return ProbeWalk(*f.message_type(), shape, is_double, max_slots, depth + 1);
    }
    if (f.cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      uint64_t size = 0;
      std::string_view bytes;
      return shape.Varint(&size) && shape.Bytes(size, &bytes);
    }
    is_double.push_back(f.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE);
    return is_double.size() <= max_slots;
  };
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& f = *descriptor.field(i);
    if (f.is_repeated()) {
      uint64_t count = 0;
      if (!shape.Varint(&count) || count > kMaxRepeated) {
        return false;
      }
      for (uint64_t j = 0; j < count; ++j) {
        if (!element(f)) {
          return false;
        }
      }
    } else if (f.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      uint8_t has = 0;
      if (!shape.Byte(&has) || has > 1) {
        return false;
      }
      if (has == 1 && !element(f)) {
        return false;
      }
    } else if (!element(f)) {
      return false;
    }
  }
  return true;
}

// Empty on a shape that does not fit the HealthSample schema.
std::vector<bool> ProbeDoubleSlots(std::string_view shape, uint64_t slots) {
  std::vector<bool> is_double;
  ByteReader reader(shape);
  if (!ProbeWalk(*dozor::v1::HealthSample::descriptor(), reader, is_double, slots, 0) ||
      !reader.AtEnd()) {
    return {};
  }
  return is_double;
}

int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

bool NewerFirst(const BlockSample& a, const BlockSample& b) {
  return a.collected_at_ms != b.collected_at_ms ? a.collected_at_ms > b.collected_at_ms
                                                : a.seq > b.seq;
}

bool OlderFirst(const BlockSample& a, const BlockSample& b) { return NewerFirst(b, a); }

Result<std::string> EncodeHealthBlock(const std::vector<BlockSample>& samples) {
  std::string payload;
  PutVarint(payload, samples.size());
  SampleColumns previous;
  bool have_previous = false;
  uint64_t previous_seq = 0;
  int64_t previous_at = 0;
  for (const auto& item : samples) {
    PutVarint(payload, ZigZag(WrappingSub(static_cast<int64_t>(item.seq),
                                          static_cast<int64_t>(previous_seq))));
    PutVarint(payload, ZigZag(WrappingSub(item.collected_at_ms, previous_at)));
    previous_seq = item.seq;
    previous_at = item.collected_at_ms;

    SampleColumns columns;
    SplitMessage(item.sample, previous.modes, &columns);
    // Round-trip check: anything the column form cannot reproduce exactly is stored plain.
    dozor::v1::HealthSample check;
    Assembler assembler(columns.shape, columns.slots, columns.modes, columns.is_double);
    std::string original = DeterministicBytes(item.sample);
    if (!assembler.Assemble(&check, 0) || !assembler.Done() ||
        DeterministicBytes(check) != original) {
      PutVarint(payload, 0);
      PutVarint(payload, original.size());
      payload += original;
      have_previous = false;
      previous = SampleColumns{};
      continue;
    }
    const bool same_shape = have_previous && columns.shape == previous.shape;
    PutVarint(payload, same_shape ? 2 : 1);
    if (!same_shape) {
      PutVarint(payload, columns.shape.size());
      payload += columns.shape;
    }
    PutVarint(payload, columns.slots.size());
    PutVarint(payload, columns.modes.size());
    payload.append(reinterpret_cast<const char*>(columns.modes.data()), columns.modes.size());
    size_t double_index = 0;
    for (size_t i = 0; i < columns.slots.size(); ++i) {
      bool delta = same_shape;
      if (columns.is_double[i]) {
        delta = delta && previous.modes[double_index] == columns.modes[double_index];
        ++double_index;
      }
      PutVarint(payload, ZigZag(delta ? WrappingSub(columns.slots[i], previous.slots[i])
                                      : columns.slots[i]));
    }
    previous = std::move(columns);
    have_previous = true;
  }
  if (payload.size() > kMaxDecodedMessageBytes) {
    return MakeError(ErrorCode::kResourceExhausted, "health block is too large");
  }
  uLongf bound = compressBound(static_cast<uLong>(payload.size()));
  std::string out(5 + bound, '\0');
  out[0] = static_cast<char>(kBlockFormat);
  auto size = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) {
    out[static_cast<size_t>(1 + i)] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  int rc =
      compress2(reinterpret_cast<Bytef*>(out.data() + 5), &bound,
                reinterpret_cast<const Bytef*>(payload.data()), payload.size(), kBlockZlibLevel);
  if (rc != Z_OK) {
    return MakeError(ErrorCode::kInternal, "health block compression failed");
  }
  out.resize(5 + bound);
  return out;
}

namespace {

// One sample's numbers as the decoder reads them; the shape points into the inflated payload.
struct DecodedColumns {
  std::string_view shape;
  std::vector<int64_t> slots;
  std::vector<uint8_t> modes;
  std::vector<bool> is_double;
};

// How DecodeEachSample hands samples over.
enum class SampleHandOver {
  // A fresh message per sample, which emit may move away.
  kFreshMessage,
  // One message for every sample, valid during emit only: a sample of the shape of the one
  // before is written into it slot by slot (only the values that changed), without clearing and
  // rebuilding it field by field through reflection. Several times faster on long ranges.
  kReusedMessage,
};

// The decoding loop of DecodeHealthBlock and VisitHealthBlock: each sample is decoded into one
// BlockSample and handed to emit(BlockSample&). Buffers are reused from sample to sample.
template <SampleHandOver kHandOver, typename Emit>
Status DecodeEachSample(std::string_view data, Emit&& emit) {
  auto corrupt = [](const char* what) {
    return MakeError(ErrorCode::kDataLoss, std::string("health block is corrupt: ") + what);
  };
  if (data.size() < 5 || static_cast<uint8_t>(data[0]) != kBlockFormat) {
    return corrupt("unknown format");
  }
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) {
    size |= static_cast<uint32_t>(static_cast<uint8_t>(data[static_cast<size_t>(1 + i)]))
            << (8 * i);
  }
  if (size > kMaxDecodedMessageBytes) {
    return corrupt("impossible size");
  }
  std::string payload(size, '\0');
  uLongf payload_size = size;
  int rc = uncompress(reinterpret_cast<Bytef*>(payload.data()), &payload_size,
                      reinterpret_cast<const Bytef*>(data.data() + 5), data.size() - 5);
  if (rc != Z_OK || payload_size != size) {
    return corrupt("zlib");
  }
  ByteReader reader(payload);
  uint64_t count = 0;
  if (!reader.Varint(&count) || count > payload.size()) {
    return corrupt("count");
  }
  DecodedColumns previous;
  DecodedColumns columns;
  std::vector<uint64_t> raw;
  // kReusedMessage: where each slot of item.sample lives, valid while `targets_valid`.
  std::vector<SlotTarget> targets;
  bool targets_valid = false;
  bool have_previous = false;
  int64_t seq = 0;
  int64_t at = 0;
  BlockSample item;
  for (uint64_t n = 0; n < count; ++n) {
    uint64_t seq_delta = 0;
    uint64_t at_delta = 0;
    uint64_t kind = 0;
    if (!reader.Varint(&seq_delta) || !reader.Varint(&at_delta) || !reader.Varint(&kind)) {
      return corrupt("sample header");
    }
    seq = WrappingAdd(seq, UnZigZag(seq_delta));
    at = WrappingAdd(at, UnZigZag(at_delta));
    item.seq = static_cast<uint64_t>(seq);
    item.collected_at_ms = at;
    if (kind == 0) {
      uint64_t length = 0;
      std::string_view bytes;
      if (!reader.Varint(&length) || !reader.Bytes(length, &bytes) ||
          !item.sample.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return corrupt("plain sample");
      }
      have_previous = false;
      targets_valid = false;
      emit(item);
      continue;
    }
    if (kind > 2 || (kind == 2 && !have_previous)) {
      return corrupt("sample kind");
    }
    if (kind == 1) {
      uint64_t length = 0;
      if (!reader.Varint(&length) || !reader.Bytes(length, &columns.shape)) {
        return corrupt("shape");
      }
    } else {
      columns.shape = previous.shape;
    }
    uint64_t slots = 0;
    uint64_t doubles = 0;
    std::string_view modes;
    if (!reader.Varint(&slots) || !reader.Varint(&doubles) || doubles > slots ||
        slots > payload.size() || !reader.Bytes(doubles, &modes)) {
      return corrupt("slot counts");
    }
    if (kind == 2 && slots != previous.slots.size()) {
      return corrupt("slot count changed within a shape");
    }
    columns.modes.assign(modes.begin(), modes.end());
    columns.slots.resize(slots);
    // Which slots are doubles follows from the shape; recover it by a dry assembly below, so
    // here the deltas for doubles are applied only once the layout is known.
    raw.resize(slots);
    for (uint64_t i = 0; i < slots; ++i) {
      if (!reader.Varint(&raw[i])) {
        return corrupt("slot value");
      }
    }
    if (kind == 1) {
      // Layout probe: assemble with zero values to learn which slots are doubles.
      columns.is_double = ProbeDoubleSlots(columns.shape, slots);
      if (columns.is_double.size() != slots) {
        return corrupt("shape does not match the schema");
      }
    } else {
      columns.is_double = previous.is_double;
    }
    size_t double_index = 0;
    for (uint64_t i = 0; i < slots; ++i) {
      int64_t value = UnZigZag(raw[i]);
      bool delta = kind == 2;
      if (columns.is_double[i]) {
        if (double_index >= columns.modes.size()) {
          return corrupt("double count");
        }
        delta = delta && previous.modes[double_index] == columns.modes[double_index];
        ++double_index;
      }
      columns.slots[i] = delta ? WrappingAdd(previous.slots[i], value) : value;
    }
    if (double_index != columns.modes.size()) {
      return corrupt("double count");
    }
    if (kHandOver == SampleHandOver::kReusedMessage && kind == 2 && targets_valid &&
        targets.size() == slots) {
      // Same shape as the sample in item.sample: only the numbers that changed are written.
      double_index = 0;
      for (uint64_t i = 0; i < slots; ++i) {
        const bool is_double = columns.is_double[i];
        const bool mode_changed =
            is_double && columns.modes[double_index] != previous.modes[double_index];
        if (columns.slots[i] != previous.slots[i] || mode_changed) {
          double value = 0;
          if (is_double && !DecodeDouble(columns.modes[double_index], columns.slots[i], &value)) {
            return corrupt("sample does not match its shape");
          }
          SetSlot(targets[i], columns.slots[i], is_double ? &value : nullptr);
        }
        double_index += is_double ? 1 : 0;
      }
    } else {
      item.sample.Clear();
      targets.clear();
      Assembler assembler(columns.shape, columns.slots, columns.modes, columns.is_double,
                          kHandOver == SampleHandOver::kReusedMessage ? &targets : nullptr);
      if (!assembler.Assemble(&item.sample, 0) || !assembler.Done()) {
        return corrupt("sample does not match its shape");
      }
      targets_valid = kHandOver == SampleHandOver::kReusedMessage;
    }
    emit(item);
    std::swap(previous, columns);
    have_previous = true;
  }
  if (!reader.AtEnd()) {
    return corrupt("trailing bytes");
  }
  return OkStatus();
}

}  // namespace

Status DecodeHealthBlock(std::string_view data, std::vector<BlockSample>* out) {
  return DecodeEachSample<SampleHandOver::kFreshMessage>(
      data, [out](BlockSample& item) { out->push_back(std::move(item)); });
}

Status VisitHealthBlock(std::string_view data, const BlockSampleVisitor& visit) {
  return DecodeEachSample<SampleHandOver::kReusedMessage>(
      data, [&visit](const BlockSample& item) { visit(item); });
}

Result<EncodedHealthBlock> EncodeHealthBlockRow(const std::vector<BlockSample>& samples) {
  if (samples.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "health block has no samples");
  }
  EncodedHealthBlock block;
  DOZOR_ASSIGN_OR_RETURN(block.data, EncodeHealthBlock(samples));
  block.start_at = samples.front().collected_at_ms;
  block.end_at = samples.back().collected_at_ms;
  block.count = static_cast<int64_t>(samples.size());
  block.first_seq = samples.front().seq;
  block.last_seq = samples.front().seq;
  for (const auto& item : samples) {
    block.first_seq = std::min(block.first_seq, item.seq);
    block.last_seq = std::max(block.last_seq, item.seq);
  }
  return block;
}

// ------------------------------------------------------------------ buckets

Result<std::vector<BlockSample>> MergeHealthBucket(std::vector<BlockSample> samples,
                                                   const std::vector<std::string>& blocks) {
  for (const auto& block : blocks) {
    DOZOR_RETURN_IF_ERROR(DecodeHealthBlock(block, &samples));
  }
  std::sort(samples.begin(), samples.end(), OlderFirst);
  samples.erase(std::unique(samples.begin(), samples.end(),
                            [](const BlockSample& a, const BlockSample& b) {
                              return a.collected_at_ms == b.collected_at_ms && a.seq == b.seq;
                            }),
                samples.end());
  return samples;
}

namespace {

// Encodes `chunk` (sorted oldest first) as one block, or, when its payload would be over the
// block limit, as two halves split between timestamps, recursively.
Status EncodeChunk(std::vector<BlockSample> chunk, std::vector<EncodedHealthBlock>& out) {
  auto block = EncodeHealthBlockRow(chunk);
  if (block.ok()) {
    out.push_back(std::move(block).value());
    return OkStatus();
  }
  if (block.error().code != ErrorCode::kResourceExhausted) {
    return block.error();
  }
  size_t middle = chunk.size() / 2;
  while (middle < chunk.size() && middle > 0 &&
         chunk[middle].collected_at_ms == chunk[middle - 1].collected_at_ms) {
    ++middle;
  }
  if (middle == 0 || middle >= chunk.size()) {
    return block.error().Wrap("samples collected at " + std::to_string(chunk[0].collected_at_ms));
  }
  std::vector<BlockSample> later(std::make_move_iterator(chunk.begin() + middle),
                                 std::make_move_iterator(chunk.end()));
  chunk.resize(middle);
  DOZOR_RETURN_IF_ERROR(EncodeChunk(std::move(chunk), out));
  return EncodeChunk(std::move(later), out);
}

}  // namespace

Result<std::vector<EncodedHealthBlock>> EncodeHealthBlocks(std::vector<BlockSample>& samples) {
  std::vector<EncodedHealthBlock> out;
  size_t begin = 0;
  while (begin < samples.size()) {
    size_t end = std::min(samples.size(), begin + kMaxHealthBlockSamples);
    // Never split samples with the same timestamp: block start times must stay distinct.
    while (end < samples.size() &&
           samples[end].collected_at_ms == samples[end - 1].collected_at_ms) {
      ++end;
    }
    std::vector<BlockSample> chunk(std::make_move_iterator(samples.begin() + begin),
                                   std::make_move_iterator(samples.begin() + end));
    DOZOR_RETURN_IF_ERROR(EncodeChunk(std::move(chunk), out));
    begin = end;
  }
  return out;
}

Result<std::optional<EncodedHealthBlock>> HealthBlockFrom(std::string_view data, int64_t cutoff_ms,
                                                          int64_t* dropped) {
  std::vector<BlockSample> samples;
  DOZOR_RETURN_IF_ERROR(DecodeHealthBlock(data, &samples));
  auto kept_begin = std::partition(samples.begin(), samples.end(), [&](const auto& item) {
    return item.collected_at_ms < cutoff_ms;
  });
  *dropped = kept_begin - samples.begin();
  std::vector<BlockSample> kept(std::make_move_iterator(kept_begin),
                                std::make_move_iterator(samples.end()));
  if (kept.empty()) {
    return std::optional<EncodedHealthBlock>();
  }
  std::sort(kept.begin(), kept.end(), OlderFirst);
  DOZOR_ASSIGN_OR_RETURN(EncodedHealthBlock block, EncodeHealthBlockRow(kept));
  return std::optional<EncodedHealthBlock>(std::move(block));
}

}  // namespace dozor::server
