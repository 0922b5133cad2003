#include "store/sqlite_store.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <utility>

#include "dozor/common/codec.hpp"
#include "store/inventory_diff.hpp"
#include "store/migrations.hpp"

namespace dozor::server {
namespace {

constexpr int kMaxListLimit = 10000;
constexpr int64_t kPruneChunkRows = 5000;
constexpr uintmax_t kTruncateWalBytes = 64ull * 1024 * 1024;
constexpr auto kCheckpointPeriod = std::chrono::seconds(1);
constexpr size_t kMaxNameLength = 200;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Resets a statement when a query scope ends, so no reader keeps a snapshot (and with it the WAL)
// pinned after returning.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite::Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite::Statement& statement_;
};

// A deferred read transaction on the reader connection: several queries see one snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite::Database& db) : db_(db) {}
  ~ReadTransaction() {
    if (open_) {
      (void)db_.Exec("COMMIT");
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  Status Begin() {
    DOZOR_RETURN_IF_ERROR(db_.Exec("BEGIN"));
    open_ = true;
    return OkStatus();
  }

 private:
  sqlite::Database& db_;
  bool open_ = false;
};

int ClampLimit(int limit) {
  if (limit <= 0 || limit > kMaxListLimit) {
    return kMaxListLimit;
  }
  return limit;
}

std::optional<int64_t> OptionalInt(const sqlite::Statement& s, int column) {
  if (s.IsNull(column)) {
    return std::nullopt;
  }
  return s.Int(column);
}

bool IsAllDigits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsLoopbackAddress(const dozor::v1::NetworkInterface& iface, const dozor::v1::IpAddress& ip) {
  const std::string& a = ip.address();
  return iface.loopback() || a.rfind("127.", 0) == 0 || a == "::1";
}

bool IsValidRole(std::string_view role) {
  return role == "admin" || role == "operator" || role == "viewer";
}

constexpr const char* kOrgColumns =
    "SELECT o.id, o.name, o.contract_status, o.contract_type, o.engineer, o.created_at, "
    "(SELECT count(*) FROM agents a WHERE a.org_id = o.id AND a.revoked_at IS NULL) "
    "FROM organizations o ";

Organization ReadOrganization(const sqlite::Statement& s) {
  Organization org;
  org.id = s.Int(0);
  org.name = s.Text(1);
  org.contract_status = s.Text(2);
  org.contract_type = s.Text(3);
  org.engineer = s.Text(4);
  org.created_at_ms = s.Int(5);
  org.host_count = s.Int(6);
  return org;
}

constexpr const char* kTokenColumns =
    "SELECT t.id, t.org_id, o.name, t.label, t.hint, t.created_at, t.expires_at, t.revoked_at, "
    "t.uses FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id ";

EnrollmentToken ReadEnrollmentToken(const sqlite::Statement& s) {
  EnrollmentToken token;
  token.id = s.Int(0);
  token.org_id = s.Int(1);
  token.org_name = s.Text(2);
  token.label = s.Text(3);
  token.hint = s.Text(4);
  token.created_at_ms = s.Int(5);
  token.expires_at_ms = OptionalInt(s, 6);
  token.revoked_at_ms = OptionalInt(s, 7);
  token.uses = s.Int(8);
  return token;
}

constexpr const char* kApiTokenColumns =
    "SELECT id, name, role, hint, created_at, revoked_at, expires_at FROM api_tokens ";

ApiToken ReadApiToken(const sqlite::Statement& s) {
  ApiToken token;
  token.id = s.Int(0);
  token.name = s.Text(1);
  token.role = s.Text(2);
  token.hint = s.Text(3);
  token.created_at_ms = s.Int(4);
  token.revoked_at_ms = OptionalInt(s, 5);
  token.expires_at_ms = OptionalInt(s, 6);
  return token;
}

// Column 0 is the agent pk; the rest map onto HostSummary (addresses are read separately).
constexpr const char* kHostColumns =
    "SELECT a.id, a.agent_id, a.org_id, o.name, "
    "coalesce(nullif(h.hostname, ''), a.hostname), coalesce(h.pretty_name, ''), "
    "coalesce(h.family, ''), a.agent_version, a.enrolled_at, a.last_seen, a.last_inventory_at, "
    "a.revoked_at IS NOT NULL, a.dropped_health_total "
    "FROM agents a JOIN organizations o ON o.id = a.org_id LEFT JOIN host_os h ON h.agent = a.id ";

HostSummary ReadHost(const sqlite::Statement& s) {
  HostSummary host;
  host.agent_id = s.Text(1);
  host.org_id = s.Int(2);
  host.org_name = s.Text(3);
  host.hostname = s.Text(4);
  host.os_pretty_name = s.Text(5);
  host.os_family = s.Text(6);
  host.agent_version = s.Text(7);
  host.enrolled_at_ms = s.Int(8);
  host.last_seen_ms = s.Int(9);
  host.last_inventory_ms = s.Int(10);
  host.revoked = s.Int(11) != 0;
  host.dropped_health_samples = static_cast<uint64_t>(s.Int(12));
  return host;
}

struct PrepareItem {
  sqlite::Statement* statement;
  std::string sql;
};

Status PrepareAll(sqlite::Database& db, std::initializer_list<PrepareItem> items) {
  for (const auto& item : items) {
    DOZOR_ASSIGN_OR_RETURN(*item.statement, db.Prepare(item.sql));
  }
  return OkStatus();
}

Error NameFile(const Error& error, const std::string& path) {
  if (error.message.find(path) != std::string::npos) {
    return error;
  }
  return error.Wrap(path);
}

// health_samples.encoding values (migration 002).
constexpr int64_t kEncodingZlib = 0;  // EncodeCompressed, every row written before 002
constexpr int64_t kEncodingPlain = 1;

constexpr int64_t kBucketMs = 3600 * 1000;
// A bucket with more samples than this (an agent sampling faster than every 30 s) is split
// into several blocks, so reading the newest few samples never inflates a huge block.
constexpr size_t kMaxBlockSamples = 120;

Status DecodeRawSample(std::string_view bytes, int64_t encoding, dozor::v1::HealthSample* out) {
  if (encoding == kEncodingZlib) {
    return DecodeCompressed(bytes, out);
  }
  if (encoding != kEncodingPlain) {
    return MakeError(ErrorCode::kDataLoss, "unknown sample encoding " + std::to_string(encoding));
  }
  if (bytes.size() > kMaxDecodedMessageBytes ||
      !out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ErrorCode::kDataLoss, "health sample does not parse");
  }
  return OkStatus();
}

// ------------------------------------------------------------------ health block codec
//
// A compacted block holds the samples of one agent for one hour, compressed together. Before
// zlib, each sample is split by a walk over its descriptor into a "shape" (repeated counts,
// presence of sub-messages, strings: identical from one sample to the next, so deflate turns
// it into a back-reference) and a row of numbers. When the shape equals the previous sample's,
// the numbers are stored as differences from the previous sample's (zigzag varints): metrics
// that move a little cost a byte or two instead of an 8-byte double.
//
// Doubles are stored losslessly: a value that is exactly n / 10^k or n * 10^-k (what a
// collector that rounds to 0.1 or 0.01 produces) is stored as the integer n with a one-byte
// mode; any other value keeps its 64 raw bits (mode 0). Every sample is decoded again right
// after encoding and compared with the original; one that does not round-trip (unknown fields,
// oneofs, a future schema) is stored as its plain serialization instead, so the codec can never
// lose data silently.
//
// Layout of health_blocks.data: byte 0 = kBlockFormat, bytes 1..4 = little-endian length of
// the inflated payload, then a zlib stream. Payload: varint count, then per sample
// zigzag(seq delta), zigzag(collected_at delta), varint kind and the kind's body:
//   kind 0 (plain):      varint length, protobuf bytes
//   kind 1 (new shape):  varint shape length, shape bytes, numbers
//   kind 2 (same shape): numbers (as differences from the previous sample)
//   numbers: varint slot count, varint double count, one mode byte per double, one zigzag
//   varint per slot.

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

// Rebuilds a message from its shape and slot values (doubles already decoded to their bits).
class Assembler {
 public:
  Assembler(std::string_view shape, const std::vector<int64_t>& slots,
            const std::vector<uint8_t>& modes, const std::vector<bool>& is_double)
      : shape_(shape), slots_(slots), modes_(modes), is_double_(is_double) {}

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
      return true;
    }
    SetScalarFromInt(m, r, f, v);
    return true;
  }

  ByteReader shape_;
  const std::vector<int64_t>& slots_;
  const std::vector<uint8_t>& modes_;
  const std::vector<bool>& is_double_;
  size_t next_slot_ = 0;
  size_t next_double_ = 0;
};

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

struct BlockSample {
  uint64_t seq = 0;
  int64_t collected_at_ms = 0;
  dozor::v1::HealthSample sample;
};

bool NewerFirst(const BlockSample& a, const BlockSample& b) {
  return a.collected_at_ms != b.collected_at_ms ? a.collected_at_ms > b.collected_at_ms
                                                : a.seq > b.seq;
}

bool OlderFirst(const BlockSample& a, const BlockSample& b) { return NewerFirst(b, a); }

int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Encodes samples (sorted oldest first) into the health_blocks.data format described above.
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

Status DecodeHealthBlock(std::string_view data, std::vector<BlockSample>* out) {
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
  SampleColumns previous;
  bool have_previous = false;
  int64_t seq = 0;
  int64_t at = 0;
  for (uint64_t n = 0; n < count; ++n) {
    uint64_t seq_delta = 0;
    uint64_t at_delta = 0;
    uint64_t kind = 0;
    if (!reader.Varint(&seq_delta) || !reader.Varint(&at_delta) || !reader.Varint(&kind)) {
      return corrupt("sample header");
    }
    seq = WrappingAdd(seq, UnZigZag(seq_delta));
    at = WrappingAdd(at, UnZigZag(at_delta));
    BlockSample item;
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
      out->push_back(std::move(item));
      continue;
    }
    if (kind > 2 || (kind == 2 && !have_previous)) {
      return corrupt("sample kind");
    }
    SampleColumns columns;
    if (kind == 1) {
      uint64_t length = 0;
      std::string_view shape;
      if (!reader.Varint(&length) || !reader.Bytes(length, &shape)) {
        return corrupt("shape");
      }
      columns.shape = std::string(shape);
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
    std::vector<uint64_t> raw(slots);
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
    Assembler assembler(columns.shape, columns.slots, columns.modes, columns.is_double);
    if (!assembler.Assemble(&item.sample, 0) || !assembler.Done()) {
      return corrupt("sample does not match its shape");
    }
    out->push_back(std::move(item));
    previous = std::move(columns);
    have_previous = true;
  }
  if (!reader.AtEnd()) {
    return corrupt("trailing bytes");
  }
  return OkStatus();
}

}  // namespace

// The per-host inventory tables, in the order they are cleared and refilled.
constexpr const char* kHostTables[] = {"host_os",           "host_hardware",  "host_disks",
                                       "host_interfaces",   "host_addresses", "host_gateways",
                                       "host_dns",          "host_listeners", "host_packages",
                                       "host_applications", "host_services",  "host_users"};
constexpr size_t kHostTableCount = sizeof(kHostTables) / sizeof(kHostTables[0]);

struct SqliteStore::WriterStatements {
  sqlite::Statement org_insert, org_update, org_exists;
  sqlite::Statement token_insert, token_revoke, token_exists, token_by_hash, token_use;
  sqlite::Statement agent_insert, agent_revoke, agent_exists, agent_lookup, agent_update;
  sqlite::Statement health_insert, collector_upsert;
  sqlite::Statement blob_select, blob_upsert, change_insert;
  sqlite::Statement host_delete[kHostTableCount];
  sqlite::Statement os_insert, hardware_insert, disk_insert, interface_insert, address_insert,
      gateway_insert, dns_insert, listener_insert, package_insert, application_insert,
      service_insert, user_insert;
  sqlite::Statement api_insert, api_revoke, api_exists;
  sqlite::Statement agent_pks, prune_chunk;
  sqlite::Statement compact_first, compact_rows, compact_keys, compact_blocks, compact_delete_rows,
      compact_delete_blocks, block_insert;
  sqlite::Statement prune_blocks_count, prune_blocks_delete, prune_blocks_straddling, block_delete;
};

struct SqliteStore::ReaderStatements {
  sqlite::Statement org_list, org_by_id, org_by_name;
  sqlite::Statement token_list, token_by_id;
  sqlite::Statement credential;
  sqlite::Statement host_list, host_one, addresses_all, addresses_one;
  sqlite::Statement blob_get, collectors, agent_pk, changes, health, health_blocks;
  sqlite::Statement api_by_hash, api_by_id, api_list, api_count;
};

int SqliteStore::LatestSchemaVersion() {
  int latest = 0;
  for (const auto& migration : Migrations()) {
    latest = std::max(latest, migration.version);
  }
  return latest;
}

namespace {

Status ApplyMigrations(sqlite::Database& db, const std::string& path) {
  sqlite::Transaction txn(db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  DOZOR_ASSIGN_OR_RETURN(auto current_stmt,
                         db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, current_stmt.Step());
  int64_t current = has_row ? current_stmt.Int(0) : 0;
  current_stmt.Reset();
  int latest = SqliteStore::LatestSchemaVersion();
  if (current > latest) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     path + ": database schema version " + std::to_string(current) +
                         " is newer than this dozor-server knows (" + std::to_string(latest) +
                         "); run a newer dozor-server or restore a matching backup");
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto record,
      db.Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)"));
  for (const auto& migration : Migrations()) {
    if (migration.version <= current) {
      continue;
    }
    auto applied = db.Exec(migration.sql);
    if (!applied.ok()) {
      return applied.error().Wrap(path + ": migration " + migration.name);
    }
    DOZOR_RETURN_IF_ERROR(
        record.Bind(1, migration.version).Bind(2, migration.name).Bind(3, NowMs()).Run());
    spdlog::info("store: applied migration {} to {}", migration.name, path);
  }
  return txn.Commit();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = options.path;
  store->background_checkpoint_ = options.background_checkpoint;
  store->compact_after_ms_ = std::max<int64_t>(0, options.health_compact_after_s) * 1000;
  store->compact_interval_ms_ = std::max<int64_t>(0, options.health_compact_interval_s) * 1000;
  const std::string& path = options.path;

  sqlite::OpenOptions writer_options;
  writer_options.synchronous = "FULL";
  auto writer = sqlite::Database::Open(path, writer_options);
  if (!writer.ok()) {
    return NameFile(writer.error(), path);
  }
  store->writer_ = std::move(writer).value();
  if (options.background_checkpoint) {
    DOZOR_RETURN_IF_ERROR(store->writer_.Exec("PRAGMA wal_autocheckpoint=0"));
  }
  // Ingest inserts at the right edge of every agent's range of health_samples: one hot leaf page
  // per agent. The 2 MB default cache re-read those pages from the file on every batch (~20 % of
  // the ingest CPU with 100 agents); 64 MB keeps about 16,000 agents' pages resident.
  DOZOR_RETURN_IF_ERROR(store->writer_.Exec("PRAGMA cache_size=-65536"));
  DOZOR_RETURN_IF_ERROR(ApplyMigrations(store->writer_, path));

  sqlite::OpenOptions reader_options;
  reader_options.create = false;
  reader_options.synchronous = "NORMAL";  // this connection never writes
  auto reader = sqlite::Database::Open(path, reader_options);
  if (!reader.ok()) {
    return NameFile(reader.error(), path);
  }
  store->reader_ = std::move(reader).value();

  store->ws_ = std::make_unique<WriterStatements>();
  store->rs_ = std::make_unique<ReaderStatements>();
  WriterStatements& w = *store->ws_;
  ReaderStatements& r = *store->rs_;
  auto prepared = PrepareAll(
      store->writer_,
      {
          {&w.org_insert,
           "INSERT INTO organizations(name, contract_status, contract_type, engineer, created_at) "
           "VALUES (?, ?, ?, ?, ?)"},
          {&w.org_update,
           "UPDATE organizations SET contract_status = coalesce(?2, contract_status), "
           "contract_type = coalesce(?3, contract_type), engineer = coalesce(?4, engineer) "
           "WHERE id = ?1"},
          {&w.org_exists, "SELECT 1 FROM organizations WHERE id = ?"},
          {&w.token_insert,
           "INSERT INTO enrollment_tokens(token_hash, org_id, hint, label, created_at, expires_at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.token_revoke,
           "UPDATE enrollment_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
          {&w.token_exists, "SELECT 1 FROM enrollment_tokens WHERE id = ?"},
          {&w.token_by_hash,
           "SELECT t.id, t.org_id, o.name, t.expires_at, t.revoked_at FROM enrollment_tokens t "
           "JOIN organizations o ON o.id = t.org_id WHERE t.token_hash = ?"},
          {&w.token_use, "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ?"},
          {&w.agent_insert,
           "INSERT INTO agents(agent_id, org_id, secret_hash, hostname, machine_id, agent_version, "
           "os, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.agent_revoke,
           "UPDATE agents SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL"},
          {&w.agent_exists, "SELECT 1 FROM agents WHERE agent_id = ?"},
          {&w.agent_lookup,
           "SELECT id, last_seq, revoked_at IS NOT NULL FROM agents WHERE agent_id = ?"},
          {&w.agent_update,
           "UPDATE agents SET last_seen = max(last_seen, ?2), last_seq = max(last_seq, ?3), "
           "dropped_health_total = max(dropped_health_total, ?4), "
           "agent_version = CASE WHEN ?5 = '' THEN agent_version ELSE ?5 END, "
           "last_inventory_at = CASE WHEN ?6 > 0 THEN ?6 ELSE last_inventory_at END "
           "WHERE id = ?1"},
          {&w.health_insert,
           "INSERT INTO health_samples(agent, collected_at, seq, sample, encoding) "
           "VALUES (?, ?, ?, ?, 1)"},
          {&w.collector_upsert,
           "INSERT OR REPLACE INTO host_collectors(agent, name, ok, error, duration_ms, at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.blob_select, "SELECT inventory FROM host_inventory_blob WHERE agent = ?"},
          {&w.blob_upsert,
           "INSERT OR REPLACE INTO host_inventory_blob(agent, collected_at, inventory) "
           "VALUES (?, ?, ?)"},
          {&w.change_insert,
           "INSERT INTO inventory_changes(agent, at, category, action, subject, old_value, "
           "new_value) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.os_insert,
           "INSERT INTO host_os(agent, os_id, id_like, family, name, version, version_id, "
           "pretty_name, kernel, architecture, hostname, fqdn, timezone, boot_time, "
           "reboot_required, pending_updates, pending_security_updates, machine_id) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.hardware_insert,
           "INSERT INTO host_hardware(agent, cpu_model, cpu_sockets, cpu_cores, cpu_threads, "
           "memory_total_bytes, system_vendor, system_model, system_serial, bios_vendor, "
           "bios_version, bios_date, virtual_machine, hypervisor) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.disk_insert,
           "INSERT INTO host_disks(agent, name, model, serial, size_bytes, rotational, transport, "
           "smart_status, power_on_hours, temperature_c) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.interface_insert,
           "INSERT INTO host_interfaces(agent, name, mac, mtu, state, speed_mbps, loopback, "
           "virtual) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.address_insert,
           "INSERT INTO host_addresses(agent, interface, address, prefix, family, loopback) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.gateway_insert,
           "INSERT INTO host_gateways(agent, address, interface, family) VALUES (?, ?, ?, ?)"},
          {&w.dns_insert, "INSERT INTO host_dns(agent, position, server) VALUES (?, ?, ?)"},
          {&w.listener_insert,
           "INSERT INTO host_listeners(agent, protocol, family, address, port, pid, process, uid) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.package_insert,
           "INSERT INTO host_packages(agent, name, version, architecture, source, vendor, "
           "install_time) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.application_insert,
           "INSERT INTO host_applications(agent, name, version, architecture, path, kind) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.service_insert,
           "INSERT INTO host_services(agent, name, description, load_state, active_state, "
           "sub_state, enabled) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.user_insert,
           "INSERT INTO host_users(agent, name, uid, shell, home, administrator) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.api_insert,
           "INSERT INTO api_tokens(token_hash, name, role, hint, created_at, expires_at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.api_revoke,
           "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
          {&w.api_exists, "SELECT 1 FROM api_tokens WHERE id = ?"},
          {&w.agent_pks, "SELECT id FROM agents ORDER BY id"},
          // The primary key leads with agent, so a per-agent range delete is an index seek.
          {&w.prune_chunk,
           "DELETE FROM health_samples WHERE agent = ?1 AND (collected_at, seq) IN "
           "(SELECT collected_at, seq FROM health_samples WHERE agent = ?1 AND collected_at < ?2 "
           "LIMIT ?3)"},
          {&w.compact_first,
           "SELECT min(collected_at) FROM health_samples WHERE agent = ? AND collected_at < ?"},
          {&w.compact_rows,
           "SELECT collected_at, seq, sample, encoding FROM health_samples WHERE agent = ?1 "
           "AND collected_at >= ?2 AND collected_at < ?3 ORDER BY collected_at, seq"},
          {&w.compact_keys,
           "SELECT collected_at, seq FROM health_samples WHERE agent = ?1 "
           "AND collected_at >= ?2 AND collected_at < ?3 ORDER BY collected_at, seq"},
          {&w.compact_blocks,
           "SELECT data FROM health_blocks WHERE agent = ?1 AND start_at >= ?2 AND start_at < ?3 "
           "ORDER BY start_at"},
          {&w.compact_delete_rows,
           "DELETE FROM health_samples WHERE agent = ?1 AND collected_at >= ?2 "
           "AND collected_at < ?3"},
          {&w.compact_delete_blocks,
           "DELETE FROM health_blocks WHERE agent = ?1 AND start_at >= ?2 AND start_at < ?3"},
          {&w.block_insert,
           "INSERT INTO health_blocks(agent, start_at, end_at, count, first_seq, last_seq, data) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.prune_blocks_count,
           "SELECT coalesce(sum(count), 0) FROM health_blocks WHERE agent = ? AND end_at < ?"},
          {&w.prune_blocks_delete, "DELETE FROM health_blocks WHERE agent = ? AND end_at < ?"},
          {&w.prune_blocks_straddling,
           "SELECT start_at, data FROM health_blocks WHERE agent = ?1 AND start_at < ?2 "
           "AND end_at >= ?2"},
          {&w.block_delete, "DELETE FROM health_blocks WHERE agent = ? AND start_at = ?"},
      });
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path);
  }
  for (size_t i = 0; i < kHostTableCount; ++i) {
    std::string sql = std::string("DELETE FROM ") + kHostTables[i] + " WHERE agent = ?";
    DOZOR_ASSIGN_OR_RETURN(w.host_delete[i], store->writer_.Prepare(sql));
  }

  std::string org = kOrgColumns;
  std::string token = kTokenColumns;
  std::string api = kApiTokenColumns;
  std::string host = kHostColumns;
  prepared = PrepareAll(
      store->reader_,
      {
          {&r.org_list, org + "ORDER BY o.name"},
          {&r.org_by_id, org + "WHERE o.id = ?"},
          {&r.org_by_name, org + "WHERE o.name = ?"},
          {&r.token_list, token + "WHERE (?1 IS NULL OR t.org_id = ?1) ORDER BY t.id"},
          {&r.token_by_id, token + "WHERE t.id = ?"},
          {&r.credential,
           "SELECT agent_id, org_id, secret_hash, revoked_at IS NOT NULL, last_seq FROM agents "
           "WHERE agent_id = ?"},
          {&r.host_list,
           host + "WHERE (?1 IS NULL OR a.org_id = ?1) ORDER BY o.name, 5, a.agent_id"},
          {&r.host_one, host + "WHERE a.agent_id = ?"},
          {&r.addresses_all,
           "SELECT h.agent, h.address FROM host_addresses h JOIN agents a ON a.id = h.agent "
           "WHERE h.loopback = 0 AND (?1 IS NULL OR a.org_id = ?1) ORDER BY h.agent, h.rowid"},
          {&r.addresses_one,
           "SELECT address FROM host_addresses WHERE agent = ? AND loopback = 0 ORDER BY rowid"},
          {&r.blob_get, "SELECT inventory FROM host_inventory_blob WHERE agent = ?"},
          {&r.collectors,
           "SELECT name, ok, error, duration_ms FROM host_collectors WHERE agent = ? "
           "ORDER BY name"},
          {&r.agent_pk, "SELECT id FROM agents WHERE agent_id = ?"},
          {&r.changes,
           "SELECT id, at, category, action, subject, old_value, new_value FROM inventory_changes "
           "WHERE agent = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT ?"},
          {&r.health,
           "SELECT seq, collected_at, sample, encoding FROM health_samples WHERE agent = ? "
           "AND collected_at >= ? ORDER BY collected_at DESC, seq DESC LIMIT ?"},
          // Blocks never overlap, so start_at order is also end_at order.
          {&r.health_blocks,
           "SELECT end_at, data FROM health_blocks WHERE agent = ? AND end_at >= ? "
           "ORDER BY start_at DESC"},
          {&r.api_by_hash, api + "WHERE token_hash = ?"},
          {&r.api_by_id, api + "WHERE id = ?"},
          {&r.api_list, api + "ORDER BY id"},
          {&r.api_count, "SELECT count(*) FROM api_tokens"},
      });
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path);
  }

  if (options.background_checkpoint) {
    auto checkpointer = sqlite::Database::Open(path, sqlite::OpenOptions{.create = false});
    if (!checkpointer.ok()) {
      return NameFile(checkpointer.error(), path);
    }
    store->checkpointer_ = std::move(checkpointer).value();
    // A TRUNCATE checkpoint waits for the writer; never let it wait long.
    sqlite3_busy_timeout(store->checkpointer_.get(), 200);
    DOZOR_ASSIGN_OR_RETURN(store->checkpoint_passive_,
                           store->checkpointer_.Prepare("PRAGMA wal_checkpoint(PASSIVE)"));
    DOZOR_ASSIGN_OR_RETURN(store->checkpoint_truncate_,
                           store->checkpointer_.Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
    store->checkpoint_thread_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
  }
  return store;
}

SqliteStore::~SqliteStore() {
  closing_ = true;
  {
    std::lock_guard lock(checkpoint_mu_);
    stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) {
    checkpoint_thread_.join();
  }
}

void SqliteStore::CheckpointLoop() {
  std::unique_lock lock(checkpoint_mu_);
  // Compaction rides on this thread: it is already the store's one background worker, and a
  // compaction pass is a series of short write transactions like any ingest batch.
  auto next_compaction =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(compact_interval_ms_);
  while (!stop_) {
    checkpoint_cv_.wait_for(lock, kCheckpointPeriod, [this] { return stop_; });
    if (stop_) {
      break;
    }
    std::error_code ec;
    uintmax_t wal_bytes = std::filesystem::file_size(path_ + "-wal", ec);
    bool truncate = !ec && wal_bytes > kTruncateWalBytes;
    lock.unlock();
    auto status = CheckpointNow(truncate);
    if (!status.ok()) {
      spdlog::debug("store: checkpoint: {}", status.error().ToString());
    }
    if (compact_interval_ms_ > 0 && std::chrono::steady_clock::now() >= next_compaction) {
      auto compacted = CompactHealth(NowMs() - compact_after_ms_);
      if (!compacted.ok()) {
        spdlog::warn("store: health compaction: {}", compacted.error().ToString());
      } else if (compacted->samples > 0) {
        spdlog::info(
            "store: compacted {} health samples of {} agent-hours into {} blocks "
            "({} -> {} bytes)",
            compacted->samples, compacted->buckets, compacted->blocks_written, compacted->raw_bytes,
            compacted->block_bytes);
      }
      next_compaction =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(compact_interval_ms_);
    }
    lock.lock();
  }
}

Status SqliteStore::CheckpointNow(bool truncate) {
  if (!background_checkpoint_) {
    std::lock_guard lock(write_mu_);
    return writer_.Exec(truncate ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                 : "PRAGMA wal_checkpoint(PASSIVE)");
  }
  std::lock_guard lock(checkpoint_run_mu_);
  sqlite::Statement& statement = truncate ? checkpoint_truncate_ : checkpoint_passive_;
  ResetOnExit reset(statement);
  DOZOR_ASSIGN_OR_RETURN(bool row, statement.Step());
  (void)row;
  return OkStatus();
}

// ------------------------------------------------------------------ organisations

Result<Organization> SqliteStore::CreateOrganization(const Organization& org) {
  if (org.name.empty() || org.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "organization name must be 1-200 characters");
  }
  if (!IsValidContractStatus(org.contract_status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract status '" + org.contract_status + "'");
  }
  if (!IsValidContractType(org.contract_type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract type '" + org.contract_type + "'");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    auto& s = ws_->org_insert;
    auto status = s.Bind(1, org.name)
                      .Bind(2, org.contract_status)
                      .Bind(3, org.contract_type)
                      .Bind(4, org.engineer)
                      .Bind(5, org.created_at_ms != 0 ? org.created_at_ms : NowMs())
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists,
                         "organization '" + org.name + "' already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  return FindOrganization(std::to_string(id));
}

Result<std::vector<Organization>> SqliteStore::ListOrganizations() {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->org_list;
  ResetOnExit reset(s);
  std::vector<Organization> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadOrganization(s));
  }
  return out;
}

Result<Organization> SqliteStore::FindOrganization(std::string_view key) {
  std::lock_guard lock(read_mu_);
  if (IsAllDigits(key)) {
    auto& s = rs_->org_by_id;
    ResetOnExit reset(s);
    s.Bind(1, static_cast<int64_t>(std::stoll(std::string(key))));
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      return ReadOrganization(s);
    }
  }
  auto& s = rs_->org_by_name;
  ResetOnExit reset(s);
  s.Bind(1, key);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "no organization '" + std::string(key) + "'");
  }
  return ReadOrganization(s);
}

Result<Organization> SqliteStore::UpdateOrganization(int64_t id, const OrganizationPatch& patch) {
  if (patch.contract_status && !IsValidContractStatus(*patch.contract_status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract status '" + *patch.contract_status + "'");
  }
  if (patch.contract_type && !IsValidContractType(*patch.contract_type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract type '" + *patch.contract_type + "'");
  }
  if (patch.engineer && patch.engineer->size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  {
    std::lock_guard lock(write_mu_);
    DOZOR_RETURN_IF_ERROR(ws_->org_update.Bind(1, id)
                              .Bind(2, patch.contract_status)
                              .Bind(3, patch.contract_type)
                              .Bind(4, patch.engineer)
                              .Run());
    if (writer_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(id));
    }
  }
  return FindOrganization(std::to_string(id));
}

// ------------------------------------------------------------------ enrollment tokens

Result<EnrollmentToken> SqliteStore::CreateEnrollmentToken(const NewEnrollmentToken& token) {
  if (token.token_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token hash is empty");
  }
  if (token.label.size() > kMaxNameLength || token.hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token label or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    {
      auto& exists = ws_->org_exists;
      ResetOnExit reset(exists);
      DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, token.org_id).Step());
      if (!row) {
        return MakeError(ErrorCode::kNotFound,
                         "no organization with id " + std::to_string(token.org_id));
      }
    }
    auto status = ws_->token_insert.Bind(1, token.token_hash)
                      .Bind(2, token.org_id)
                      .Bind(3, token.hint)
                      .Bind(4, token.label)
                      .Bind(5, NowMs())
                      .Bind(6, token.expires_at_ms)
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists, "enrollment token already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  auto& s = rs_->token_by_id;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kInternal, "enrollment token vanished after insert");
  }
  return ReadEnrollmentToken(s);
}

Result<std::vector<EnrollmentToken>> SqliteStore::ListEnrollmentTokens(
    std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->token_list;
  ResetOnExit reset(s);
  s.Bind(1, org_id);
  std::vector<EnrollmentToken> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadEnrollmentToken(s));
  }
  return out;
}

Status SqliteStore::RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_RETURN_IF_ERROR(ws_->token_revoke.Bind(1, token_id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->token_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, token_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  }
  return OkStatus();  // already revoked: revoking is idempotent
}

// ------------------------------------------------------------------ agents

Result<EnrolledAgent> SqliteStore::EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                               int64_t now_ms) {
  if (agent.agent_id.empty() || agent.secret_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "agent id and secret hash are required");
  }
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  EnrolledAgent enrolled;
  enrolled.agent_id = agent.agent_id;
  int64_t token_id = 0;
  {
    auto& s = ws_->token_by_hash;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, token_hash).Step());
    if (!row) {
      return MakeError(ErrorCode::kPermissionDenied, "unknown enrollment token");
    }
    token_id = s.Int(0);
    enrolled.org_id = s.Int(1);
    enrolled.org_name = s.Text(2);
    if (!s.IsNull(4)) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is revoked");
    }
    if (!s.IsNull(3) && s.Int(3) <= now_ms) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is expired");
    }
  }
  DOZOR_RETURN_IF_ERROR(ws_->token_use.Bind(1, token_id).Run());
  auto inserted = ws_->agent_insert.Bind(1, agent.agent_id)
                      .Bind(2, enrolled.org_id)
                      .Bind(3, agent.secret_hash)
                      .Bind(4, agent.hostname)
                      .Bind(5, agent.machine_id)
                      .Bind(6, agent.agent_version)
                      .Bind(7, agent.os)
                      .Bind(8, now_ms)
                      .Run();
  if (!inserted.ok()) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists, "agent '" + agent.agent_id + "' already exists");
    }
    return inserted.error();
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return enrolled;
}

Result<AgentCredential> SqliteStore::GetAgentCredential(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->credential;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  AgentCredential credential;
  credential.agent_id = s.Text(0);
  credential.org_id = s.Int(1);
  credential.secret_hash = s.Text(2);
  credential.revoked = s.Int(3) != 0;
  credential.last_committed_seq = static_cast<uint64_t>(s.Int(4));
  return credential;
}

Status SqliteStore::RevokeAgent(std::string_view agent_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  agent_cache_.erase(std::string(agent_id));
  DOZOR_RETURN_IF_ERROR(ws_->agent_revoke.Bind(1, agent_id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->agent_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return OkStatus();
}

// ------------------------------------------------------------------ ingest

Result<SqliteStore::CachedAgent*> SqliteStore::LookupAgentLocked(const std::string& agent_id) {
  auto it = agent_cache_.find(agent_id);
  if (it != agent_cache_.end()) {
    return &it->second;
  }
  auto& s = ws_->agent_lookup;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return static_cast<CachedAgent*>(nullptr);  // unknown agents are not cached: they may enroll
  }
  CachedAgent agent{s.Int(0), static_cast<uint64_t>(s.Int(1)), s.Int(2) != 0};
  return &agent_cache_.emplace(agent_id, agent).first->second;
}

Result<std::vector<CommitResult>> SqliteStore::CommitReports(std::vector<IncomingReport>& batch) {
  // Serialize outside the writer lock. Recent samples are stored uncompressed: zlib per row was
  // the largest CPU cost per report, and compaction later compresses whole hours far better.
  std::vector<std::string> encoded(batch.size());
  std::vector<bool> unencodable(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].report.has_health()) {
      unencodable[i] = !batch[i].report.health().SerializeToString(&encoded[i]);
    }
  }
  std::vector<CommitResult> results;
  results.reserve(batch.size());
  std::lock_guard lock(write_mu_);
  std::unordered_map<std::string, CachedAgent> saved;
  auto status = CommitLocked(batch, encoded, unencodable, results, saved);
  if (!status.ok()) {
    // The transaction rolled back; so must the sequence numbers it advanced in memory.
    for (auto& [agent_id, agent] : saved) {
      agent_cache_[agent_id] = agent;
    }
    return status.error();
  }
  return results;
}

Status SqliteStore::CommitLocked(std::vector<IncomingReport>& batch,
                                 const std::vector<std::string>& encoded,
                                 const std::vector<bool>& unencodable,
                                 std::vector<CommitResult>& results,
                                 std::unordered_map<std::string, CachedAgent>& saved) {
  struct AgentTouch {
    int64_t last_seen = 0;
    uint64_t last_seq = 0;
    uint64_t dropped = 0;
    std::string agent_version;
    int64_t last_inventory_at = 0;
  };
  std::unordered_map<int64_t, AgentTouch> touched;
  WriterStatements& w = *ws_;
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  for (size_t i = 0; i < batch.size(); ++i) {
    const IncomingReport& item = batch[i];
    const dozor::v1::Report& report = item.report;
    CommitResult result;
    result.seq = report.seq();
    DOZOR_ASSIGN_OR_RETURN(CachedAgent * agent, LookupAgentLocked(item.agent_id));
    if (agent == nullptr) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "unknown agent";
    } else if (agent->revoked) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "agent is revoked";
    } else if (report.seq() <= agent->last_seq) {
      result.outcome = CommitOutcome::kDuplicate;
    } else if (report.has_health() && unencodable[i]) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "health sample could not be encoded";
    } else if (!report.has_health() && !report.has_inventory()) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "report has no payload";
    } else {
      if (report.has_health()) {
        DOZOR_RETURN_IF_ERROR(w.health_insert.Bind(1, agent->pk)
                                  .Bind(2, report.collected_at_ms())
                                  .Bind(3, report.seq())
                                  .BindBlob(4, encoded[i])
                                  .Run());
      } else {
        DOZOR_RETURN_IF_ERROR(ApplyInventoryLocked(agent->pk, item.agent_id, report));
      }
      for (const auto& collector : report.collectors()) {
        DOZOR_RETURN_IF_ERROR(w.collector_upsert.Bind(1, agent->pk)
                                  .Bind(2, collector.name())
                                  .Bind(3, collector.ok())
                                  .Bind(4, collector.error())
                                  .Bind(5, collector.duration_ms())
                                  .Bind(6, report.collected_at_ms())
                                  .Run());
      }
      saved.try_emplace(item.agent_id, *agent);
      agent->last_seq = report.seq();
      AgentTouch& touch = touched[agent->pk];
      touch.last_seen = std::max(touch.last_seen, item.received_at_ms);
      touch.last_seq = report.seq();
      touch.dropped = std::max(touch.dropped, report.dropped_health_samples());
      if (!report.agent_version().empty()) {
        touch.agent_version = report.agent_version();
      }
      if (report.has_inventory()) {
        touch.last_inventory_at = report.collected_at_ms();
      }
    }
    results.push_back(std::move(result));
  }
  // Once per agent per batch, not per report: a batch of 100 samples costs one agents update.
  for (const auto& [pk, touch] : touched) {
    DOZOR_RETURN_IF_ERROR(w.agent_update.Bind(1, pk)
                              .Bind(2, touch.last_seen)
                              .Bind(3, touch.last_seq)
                              .Bind(4, touch.dropped)
                              .Bind(5, touch.agent_version)
                              .Bind(6, touch.last_inventory_at)
                              .Run());
  }
  return txn.Commit();
}

Status SqliteStore::ApplyInventoryLocked(int64_t pk, const std::string& agent_id,
                                         const dozor::v1::Report& report) {
  WriterStatements& w = *ws_;
  const dozor::v1::Inventory& inv = report.inventory();
  const int64_t at = report.collected_at_ms();

  std::vector<InventoryChange> changes;
  {
    auto& s = w.blob_select;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Step());
    dozor::v1::Inventory previous;
    if (row && DecodeCompressed(s.Blob(0), &previous).ok()) {
      changes = DiffInventories(previous, inv, at, agent_id);
    } else {
      if (row) {
        spdlog::warn("store: previous inventory of {} does not decode; starting a new baseline",
                     agent_id);
      }
      changes.push_back(FirstInventoryChange(at, agent_id));
    }
  }
  for (const auto& change : changes) {
    DOZOR_RETURN_IF_ERROR(w.change_insert.Bind(1, pk)
                              .Bind(2, change.at_ms)
                              .Bind(3, change.category)
                              .Bind(4, change.action)
                              .Bind(5, change.subject)
                              .Bind(6, change.old_value)
                              .Bind(7, change.new_value)
                              .Run());
  }

  for (auto& statement : w.host_delete) {
    DOZOR_RETURN_IF_ERROR(statement.Bind(1, pk).Run());
  }
  const auto& os = inv.os();
  DOZOR_RETURN_IF_ERROR(w.os_insert.Bind(1, pk)
                            .Bind(2, os.id())
                            .Bind(3, os.id_like())
                            .Bind(4, os.family())
                            .Bind(5, os.name())
                            .Bind(6, os.version())
                            .Bind(7, os.version_id())
                            .Bind(8, os.pretty_name())
                            .Bind(9, os.kernel())
                            .Bind(10, os.architecture())
                            .Bind(11, os.hostname())
                            .Bind(12, os.fqdn())
                            .Bind(13, os.timezone())
                            .Bind(14, os.boot_time())
                            .Bind(15, os.reboot_required())
                            .Bind(16, os.pending_updates())
                            .Bind(17, os.pending_security_updates())
                            .Bind(18, os.machine_id())
                            .Run());
  const auto& hw = inv.hardware();
  DOZOR_RETURN_IF_ERROR(w.hardware_insert.Bind(1, pk)
                            .Bind(2, hw.cpu().model())
                            .Bind(3, hw.cpu().sockets())
                            .Bind(4, hw.cpu().cores())
                            .Bind(5, hw.cpu().threads())
                            .Bind(6, hw.memory_total_bytes())
                            .Bind(7, hw.dmi().system_vendor())
                            .Bind(8, hw.dmi().system_model())
                            .Bind(9, hw.dmi().system_serial())
                            .Bind(10, hw.dmi().bios_vendor())
                            .Bind(11, hw.dmi().bios_version())
                            .Bind(12, hw.dmi().bios_date())
                            .Bind(13, hw.virtual_machine())
                            .Bind(14, hw.hypervisor())
                            .Run());
  for (const auto& disk : hw.disks()) {
    DOZOR_RETURN_IF_ERROR(w.disk_insert.Bind(1, pk)
                              .Bind(2, disk.name())
                              .Bind(3, disk.model())
                              .Bind(4, disk.serial())
                              .Bind(5, disk.size_bytes())
                              .Bind(6, disk.rotational())
                              .Bind(7, disk.transport())
                              .Bind(8, disk.smart_status())
                              .Bind(9, disk.power_on_hours())
                              .Bind(10, disk.temperature_c())
                              .Run());
  }
  const auto& net = inv.network();
  for (const auto& iface : net.interfaces()) {
    DOZOR_RETURN_IF_ERROR(w.interface_insert.Bind(1, pk)
                              .Bind(2, iface.name())
                              .Bind(3, iface.mac())
                              .Bind(4, iface.mtu())
                              .Bind(5, iface.state())
                              .Bind(6, iface.speed_mbps())
                              .Bind(7, iface.loopback())
                              .Bind(8, iface.virtual_())
                              .Run());
    for (const auto& ip : iface.addresses()) {
      DOZOR_RETURN_IF_ERROR(w.address_insert.Bind(1, pk)
                                .Bind(2, iface.name())
                                .Bind(3, ip.address())
                                .Bind(4, ip.prefix())
                                .Bind(5, ip.family())
                                .Bind(6, IsLoopbackAddress(iface, ip))
                                .Run());
    }
  }
  for (const auto& gateway : net.gateways()) {
    DOZOR_RETURN_IF_ERROR(w.gateway_insert.Bind(1, pk)
                              .Bind(2, gateway.address())
                              .Bind(3, gateway.interface())
                              .Bind(4, gateway.family())
                              .Run());
  }
  for (int i = 0; i < net.dns_servers_size(); ++i) {
    DOZOR_RETURN_IF_ERROR(w.dns_insert.Bind(1, pk).Bind(2, i).Bind(3, net.dns_servers(i)).Run());
  }
  for (const auto& listener : net.listening()) {
    DOZOR_RETURN_IF_ERROR(w.listener_insert.Bind(1, pk)
                              .Bind(2, listener.protocol())
                              .Bind(3, listener.family())
                              .Bind(4, listener.address())
                              .Bind(5, listener.port())
                              .Bind(6, listener.pid())
                              .Bind(7, listener.process())
                              .Bind(8, listener.uid())
                              .Run());
  }
  const auto& sw = inv.software();
  for (const auto& package : sw.packages()) {
    DOZOR_RETURN_IF_ERROR(w.package_insert.Bind(1, pk)
                              .Bind(2, package.name())
                              .Bind(3, package.version())
                              .Bind(4, package.architecture())
                              .Bind(5, package.source())
                              .Bind(6, package.vendor())
                              .Bind(7, package.install_time())
                              .Run());
  }
  for (const auto& app : sw.applications()) {
    DOZOR_RETURN_IF_ERROR(w.application_insert.Bind(1, pk)
                              .Bind(2, app.name())
                              .Bind(3, app.version())
                              .Bind(4, app.architecture())
                              .Bind(5, app.path())
                              .Bind(6, app.kind())
                              .Run());
  }
  for (const auto& service : sw.services()) {
    DOZOR_RETURN_IF_ERROR(w.service_insert.Bind(1, pk)
                              .Bind(2, service.name())
                              .Bind(3, service.description())
                              .Bind(4, service.load_state())
                              .Bind(5, service.active_state())
                              .Bind(6, service.sub_state())
                              .Bind(7, service.enabled())
                              .Run());
  }
  for (const auto& user : os.users()) {
    DOZOR_RETURN_IF_ERROR(w.user_insert.Bind(1, pk)
                              .Bind(2, user.name())
                              .Bind(3, user.uid())
                              .Bind(4, user.shell())
                              .Bind(5, user.home())
                              .Bind(6, user.administrator())
                              .Run());
  }
  std::string blob = EncodeCompressed(inv);
  if (blob.empty()) {
    return MakeError(ErrorCode::kInternal, "could not encode the inventory of " + agent_id);
  }
  return w.blob_upsert.Bind(1, pk).Bind(2, at).BindBlob(3, blob).Run();
}

// ------------------------------------------------------------------ queries

Result<std::vector<HostSummary>> SqliteStore::ListHosts(std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  std::vector<HostSummary> hosts;
  std::unordered_map<int64_t, size_t> index_by_pk;
  {
    auto& s = rs_->host_list;
    ResetOnExit reset(s);
    s.Bind(1, org_id);
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      index_by_pk[s.Int(0)] = hosts.size();
      hosts.push_back(ReadHost(s));
    }
  }
  auto& s = rs_->addresses_all;
  ResetOnExit reset(s);
  s.Bind(1, org_id);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    auto it = index_by_pk.find(s.Int(0));
    if (it != index_by_pk.end()) {
      hosts[it->second].addresses.push_back(s.Text(1));
    }
  }
  return hosts;
}

Result<HostSummary> SqliteStore::ReadHostLocked(std::string_view agent_id, int64_t* pk) {
  HostSummary host;
  {
    auto& s = rs_->host_one;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
    if (!row) {
      return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
    }
    *pk = s.Int(0);
    host = ReadHost(s);
  }
  auto& s = rs_->addresses_one;
  ResetOnExit reset(s);
  s.Bind(1, *pk);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    host.addresses.push_back(s.Text(0));
  }
  return host;
}

Result<HostSummary> SqliteStore::GetHost(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  int64_t pk = 0;
  return ReadHostLocked(agent_id, &pk);
}

Result<HostInventory> SqliteStore::GetInventory(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  HostInventory result;
  int64_t pk = 0;
  DOZOR_ASSIGN_OR_RETURN(result.host, ReadHostLocked(agent_id, &pk));
  {
    auto& s = rs_->blob_get;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Step());
    if (row) {
      auto decoded = DecodeCompressed(s.Blob(0), &result.inventory);
      if (!decoded.ok()) {
        return decoded.error().Wrap("inventory of " + std::string(agent_id));
      }
    }
  }
  auto& s = rs_->collectors;
  ResetOnExit reset(s);
  s.Bind(1, pk);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    dozor::v1::CollectorStatus status;
    status.set_name(s.Text(0));
    status.set_ok(s.Int(1) != 0);
    status.set_error(s.Text(2));
    status.set_duration_ms(static_cast<uint32_t>(s.Int(3)));
    result.collectors.push_back(std::move(status));
  }
  return result;
}

Result<int64_t> SqliteStore::ReaderAgentPkLocked(std::string_view agent_id) {
  auto& s = rs_->agent_pk;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return s.Int(0);
}

Result<std::vector<InventoryChange>> SqliteStore::ListChanges(std::string_view agent_id,
                                                              int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  auto& s = rs_->changes;
  ResetOnExit reset(s);
  s.Bind(1, pk).Bind(2, since_ms).Bind(3, ClampLimit(limit));
  std::vector<InventoryChange> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    InventoryChange change;
    change.id = s.Int(0);
    change.agent_id = std::string(agent_id);
    change.at_ms = s.Int(1);
    change.category = s.Text(2);
    change.action = s.Text(3);
    change.subject = s.Text(4);
    change.old_value = s.Text(5);
    change.new_value = s.Text(6);
    out.push_back(std::move(change));
  }
  return out;
}

Result<std::vector<HealthRecord>> SqliteStore::ListHealth(std::string_view agent_id,
                                                          int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  const size_t wanted = static_cast<size_t>(ClampLimit(limit));
  std::vector<BlockSample> candidates;
  {
    auto& s = rs_->health;
    ResetOnExit reset(s);
    s.Bind(1, pk).Bind(2, since_ms).Bind(3, static_cast<int64_t>(wanted));
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      BlockSample item;
      item.seq = static_cast<uint64_t>(s.Int(0));
      item.collected_at_ms = s.Int(1);
      auto decoded = DecodeRawSample(s.Blob(2), s.Int(3), &item.sample);
      if (!decoded.ok()) {
        // One damaged sample should not hide the rest of the history.
        spdlog::warn("store: health sample {} of {}: {}", item.seq, agent_id,
                     decoded.error().ToString());
        continue;
      }
      candidates.push_back(std::move(item));
    }
  }
  // Compacted blocks, newest first, until every further block is older than the oldest of the
  // `wanted` newest candidates found so far. Raw rows and blocks may overlap in time (samples
  // that arrived late for an already compacted hour), hence the merge rather than a concat.
  auto& b = rs_->health_blocks;
  ResetOnExit reset(b);
  b.Bind(1, pk).Bind(2, since_ms);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, b.Step());
    if (!row) {
      break;
    }
    if (candidates.size() >= wanted) {
      std::nth_element(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(wanted - 1),
                       candidates.end(), NewerFirst);
      candidates.resize(wanted);
      if (b.Int(0) < candidates.back().collected_at_ms) {
        break;
      }
    }
    std::vector<BlockSample> block;
    auto decoded = DecodeHealthBlock(b.Blob(1), &block);
    if (!decoded.ok()) {
      spdlog::warn("store: health block ending at {} of {}: {}", b.Int(0), agent_id,
                   decoded.error().ToString());
      continue;
    }
    for (auto& item : block) {
      if (item.collected_at_ms >= since_ms) {
        candidates.push_back(std::move(item));
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(), NewerFirst);
  if (candidates.size() > wanted) {
    candidates.resize(wanted);
  }
  std::vector<HealthRecord> out;
  out.reserve(candidates.size());
  for (auto& item : candidates) {
    out.push_back(HealthRecord{item.seq, item.collected_at_ms, std::move(item.sample)});
  }
  return out;
}

// ------------------------------------------------------------------ API tokens

Result<ApiToken> SqliteStore::CreateApiToken(std::string_view name, std::string_view role,
                                             std::string_view token_hash, std::string_view hint,
                                             std::optional<int64_t> expires_at_ms) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "API token name must be 1-200 characters");
  }
  if (!IsValidRole(role)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid role '" + std::string(role) + "' (admin, operator or viewer)");
  }
  if (token_hash.empty() || hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "API token hash is empty or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    auto status = ws_->api_insert.Bind(1, token_hash)
                      .Bind(2, name)
                      .Bind(3, role)
                      .Bind(4, hint)
                      .Bind(5, NowMs())
                      .Bind(6, expires_at_ms)
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists, "API token already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_by_id;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kInternal, "API token vanished after insert");
  }
  return ReadApiToken(s);
}

Result<ApiToken> SqliteStore::AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_by_hash;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, token_hash).Step());
  if (!row) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  ApiToken token = ReadApiToken(s);
  if (token.revoked_at_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is revoked");
  }
  if (token.expires_at_ms && *token.expires_at_ms <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is expired");
  }
  return token;
}

Result<std::vector<ApiToken>> SqliteStore::ListApiTokens() {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_list;
  ResetOnExit reset(s);
  std::vector<ApiToken> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadApiToken(s));
  }
  return out;
}

Status SqliteStore::RevokeApiToken(int64_t id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_RETURN_IF_ERROR(ws_->api_revoke.Bind(1, id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->api_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::CountApiTokens() {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_count;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

// ------------------------------------------------------------------ retention

Result<std::vector<int64_t>> SqliteStore::AgentPks() {
  std::vector<int64_t> agents;
  std::lock_guard lock(write_mu_);
  auto& s = ws_->agent_pks;
  ResetOnExit reset(s);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    agents.push_back(s.Int(0));
  }
  return agents;
}

Result<int64_t> SqliteStore::PruneHealth(int64_t cutoff_ms) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  int64_t total = 0;
  size_t next = 0;
  // Each transaction deletes about kPruneChunkRows rows, then releases the writer so ingest
  // batches interleave with a large prune.
  while (next < agents.size()) {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    int64_t in_txn = 0;
    while (next < agents.size() && in_txn < kPruneChunkRows) {
      DOZOR_RETURN_IF_ERROR(ws_->prune_chunk.Bind(1, agents[next])
                                .Bind(2, cutoff_ms)
                                .Bind(3, kPruneChunkRows - in_txn)
                                .Run());
      int deleted = writer_.Changes();
      in_txn += deleted;
      if (deleted == 0 || in_txn < kPruneChunkRows) {
        ++next;  // this agent has nothing older left
      }
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
    total += in_txn;
  }
  DOZOR_ASSIGN_OR_RETURN(int64_t from_blocks, PruneBlocks(agents, cutoff_ms));
  return total + from_blocks;
}

// Blocks wholly before the cutoff are deleted; a block straddling it is rewritten without its
// older samples, so the cutoff is exact for compacted samples too. One transaction per agent.
Result<int64_t> SqliteStore::PruneBlocks(const std::vector<int64_t>& agents, int64_t cutoff_ms) {
  int64_t total = 0;
  for (int64_t pk : agents) {
    std::lock_guard lock(write_mu_);
    WriterStatements& w = *ws_;
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    {
      auto& s = w.prune_blocks_count;
      ResetOnExit reset(s);
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Bind(2, cutoff_ms).Step());
      total += row ? s.Int(0) : 0;
    }
    DOZOR_RETURN_IF_ERROR(w.prune_blocks_delete.Bind(1, pk).Bind(2, cutoff_ms).Run());
    std::vector<std::pair<int64_t, std::string>> straddling;
    {
      auto& s = w.prune_blocks_straddling;
      ResetOnExit reset(s);
      s.Bind(1, pk).Bind(2, cutoff_ms);
      while (true) {
        DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) {
          break;
        }
        straddling.emplace_back(s.Int(0), s.Blob(1));
      }
    }
    for (const auto& [start_at, data] : straddling) {
      std::vector<BlockSample> samples;
      DOZOR_RETURN_IF_ERROR(w.block_delete.Bind(1, pk).Bind(2, start_at).Run());
      auto decoded = DecodeHealthBlock(data, &samples);
      if (!decoded.ok()) {
        spdlog::warn("store: pruning undecodable health block of agent {}: {}", pk,
                     decoded.error().ToString());
        continue;
      }
      auto kept_begin = std::partition(samples.begin(), samples.end(), [&](const auto& item) {
        return item.collected_at_ms < cutoff_ms;
      });
      total += kept_begin - samples.begin();
      std::vector<BlockSample> kept(std::make_move_iterator(kept_begin),
                                    std::make_move_iterator(samples.end()));
      if (kept.empty()) {
        continue;
      }
      std::sort(kept.begin(), kept.end(), OlderFirst);
      DOZOR_ASSIGN_OR_RETURN(std::string block, EncodeHealthBlock(kept));
      uint64_t first_seq = kept.front().seq;
      uint64_t last_seq = kept.front().seq;
      for (const auto& item : kept) {
        first_seq = std::min(first_seq, item.seq);
        last_seq = std::max(last_seq, item.seq);
      }
      DOZOR_RETURN_IF_ERROR(w.block_insert.Bind(1, pk)
                                .Bind(2, kept.front().collected_at_ms)
                                .Bind(3, kept.back().collected_at_ms)
                                .Bind(4, static_cast<int64_t>(kept.size()))
                                .Bind(5, first_seq)
                                .Bind(6, last_seq)
                                .BindBlob(7, block)
                                .Run());
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return total;
}

// ------------------------------------------------------------------ health compaction

Result<CompactionStats> SqliteStore::CompactHealth(int64_t older_than_ms) {
  // Only whole hour buckets that ended by older_than_ms, so a bucket is normally written once.
  int64_t limit_ms = older_than_ms - (((older_than_ms % kBucketMs) + kBucketMs) % kBucketMs);
  CompactionStats stats;
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  for (int64_t pk : agents) {
    while (!closing_.load()) {
      DOZOR_ASSIGN_OR_RETURN(bool more, CompactNextBucket(pk, limit_ms, &stats));
      if (!more) {
        break;
      }
    }
    if (closing_.load()) {
      break;
    }
  }
  return stats;
}

struct SqliteStore::BucketSnapshot {
  int64_t bucket = 0;
  std::vector<std::pair<int64_t, uint64_t>> raw_keys;  // (collected_at, seq), in key order
  std::vector<std::pair<std::string, int64_t>> raw;    // (sample bytes, encoding), same order
  std::vector<std::string> blocks;                     // existing blocks of the bucket
};

Result<bool> SqliteStore::ReadBucketLocked(int64_t pk, int64_t limit_ms, BucketSnapshot* snap) {
  WriterStatements& w = *ws_;
  {
    auto& s = w.compact_first;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Bind(2, limit_ms).Step());
    if (!row || s.IsNull(0)) {
      return false;
    }
    int64_t first = s.Int(0);
    snap->bucket = first - (((first % kBucketMs) + kBucketMs) % kBucketMs);
  }
  {
    auto& s = w.compact_rows;
    ResetOnExit reset(s);
    s.Bind(1, pk).Bind(2, snap->bucket).Bind(3, snap->bucket + kBucketMs);
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      snap->raw_keys.emplace_back(s.Int(0), static_cast<uint64_t>(s.Int(1)));
      snap->raw.emplace_back(s.Blob(2), s.Int(3));
    }
  }
  auto& s = w.compact_blocks;
  ResetOnExit reset(s);
  s.Bind(1, pk).Bind(2, snap->bucket).Bind(3, snap->bucket + kBucketMs);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    snap->blocks.push_back(s.Blob(0));
  }
  return true;
}

// CPU-heavy part of compaction (decode, merge, encode); needs no lock.
Result<std::vector<SqliteStore::EncodedBlock>> SqliteStore::BuildBlocks(
    int64_t pk, const BucketSnapshot& snap) {
  std::vector<BlockSample> samples;
  samples.reserve(snap.raw.size());
  for (size_t i = 0; i < snap.raw.size(); ++i) {
    BlockSample item;
    item.collected_at_ms = snap.raw_keys[i].first;
    item.seq = snap.raw_keys[i].second;
    auto decoded = DecodeRawSample(snap.raw[i].first, snap.raw[i].second, &item.sample);
    if (!decoded.ok()) {
      // It could not be read before compaction either; dropping it keeps the bucket moving.
      spdlog::warn("store: dropping undecodable health sample {} of agent {}: {}", item.seq, pk,
                   decoded.error().ToString());
      continue;
    }
    samples.push_back(std::move(item));
  }
  // Samples that arrived late for an hour compacted earlier: merge with its block(s).
  for (const auto& block : snap.blocks) {
    DOZOR_RETURN_IF_ERROR(DecodeHealthBlock(block, &samples));
  }
  std::sort(samples.begin(), samples.end(), OlderFirst);
  samples.erase(std::unique(samples.begin(), samples.end(),
                            [](const BlockSample& a, const BlockSample& b) {
                              return a.collected_at_ms == b.collected_at_ms && a.seq == b.seq;
                            }),
                samples.end());
  std::vector<EncodedBlock> out;
  size_t begin = 0;
  while (begin < samples.size()) {
    size_t end = std::min(samples.size(), begin + kMaxBlockSamples);
    // Never split samples with the same timestamp: block start times must stay distinct.
    while (end < samples.size() &&
           samples[end].collected_at_ms == samples[end - 1].collected_at_ms) {
      ++end;
    }
    std::vector<BlockSample> chunk(std::make_move_iterator(samples.begin() + begin),
                                   std::make_move_iterator(samples.begin() + end));
    EncodedBlock block;
    DOZOR_ASSIGN_OR_RETURN(block.data, EncodeHealthBlock(chunk));
    block.start_at = chunk.front().collected_at_ms;
    block.end_at = chunk.back().collected_at_ms;
    block.count = static_cast<int64_t>(chunk.size());
    block.first_seq = chunk.front().seq;
    block.last_seq = chunk.front().seq;
    for (const auto& item : chunk) {
      block.first_seq = std::min(block.first_seq, item.seq);
      block.last_seq = std::max(block.last_seq, item.seq);
    }
    out.push_back(std::move(block));
    begin = end;
  }
  return out;
}

// Inside the caller's transaction: replaces the bucket's raw rows and old blocks with `blocks`,
// unless the bucket changed since `snap` was read (then false, nothing written).
Result<bool> SqliteStore::ReplaceBucketLocked(int64_t pk, const BucketSnapshot& snap,
                                              const std::vector<EncodedBlock>& blocks) {
  WriterStatements& w = *ws_;
  const int64_t bucket_end = snap.bucket + kBucketMs;
  {
    // Rows are only ever inserted or deleted, never updated: equal keys mean equal rows.
    auto& s = w.compact_keys;
    ResetOnExit reset(s);
    s.Bind(1, pk).Bind(2, snap.bucket).Bind(3, bucket_end);
    size_t i = 0;
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      if (i >= snap.raw_keys.size() ||
          snap.raw_keys[i] != std::make_pair(s.Int(0), static_cast<uint64_t>(s.Int(1)))) {
        return false;
      }
      ++i;
    }
    if (i != snap.raw_keys.size()) {
      return false;
    }
  }
  {
    auto& s = w.compact_blocks;
    ResetOnExit reset(s);
    s.Bind(1, pk).Bind(2, snap.bucket).Bind(3, bucket_end);
    size_t i = 0;
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      if (i >= snap.blocks.size() || snap.blocks[i] != s.Blob(0)) {
        return false;
      }
      ++i;
    }
    if (i != snap.blocks.size()) {
      return false;
    }
  }
  // Delete first, then insert, in one transaction: a failure anywhere rolls both back.
  DOZOR_RETURN_IF_ERROR(
      w.compact_delete_rows.Bind(1, pk).Bind(2, snap.bucket).Bind(3, bucket_end).Run());
  DOZOR_RETURN_IF_ERROR(
      w.compact_delete_blocks.Bind(1, pk).Bind(2, snap.bucket).Bind(3, bucket_end).Run());
  for (const auto& block : blocks) {
    DOZOR_RETURN_IF_ERROR(w.block_insert.Bind(1, pk)
                              .Bind(2, block.start_at)
                              .Bind(3, block.end_at)
                              .Bind(4, block.count)
                              .Bind(5, block.first_seq)
                              .Bind(6, block.last_seq)
                              .BindBlob(7, block.data)
                              .Run());
  }
  return true;
}

Result<bool> SqliteStore::CompactNextBucket(int64_t pk, int64_t limit_ms, CompactionStats* stats) {
  // Read the bucket under the writer lock, encode without it (the expensive part: several
  // milliseconds per agent-hour), then write under the lock if nothing changed meanwhile. If a
  // commit or prune did touch the bucket, redo it with the lock held throughout.
  BucketSnapshot snap;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, limit_ms, &snap));
    if (!found) {
      return false;
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::vector<EncodedBlock> blocks, BuildBlocks(pk, snap));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(bool replaced, ReplaceBucketLocked(pk, snap, blocks));
  if (!replaced) {
    snap = BucketSnapshot{};
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, limit_ms, &snap));
    if (!found) {
      return false;
    }
    DOZOR_ASSIGN_OR_RETURN(blocks, BuildBlocks(pk, snap));
    DOZOR_ASSIGN_OR_RETURN(replaced, ReplaceBucketLocked(pk, snap, blocks));
    if (!replaced) {
      return MakeError(ErrorCode::kInternal, "health compaction: bucket changed under the lock");
    }
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  ++stats->buckets;
  stats->samples += static_cast<int64_t>(snap.raw.size());
  for (const auto& [bytes, encoding] : snap.raw) {
    stats->raw_bytes += static_cast<int64_t>(bytes.size());
  }
  for (const auto& block : blocks) {
    stats->block_bytes += static_cast<int64_t>(block.data.size());
  }
  stats->blocks_written += static_cast<int64_t>(blocks.size());
  return true;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  DOZOR_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dozor::server
