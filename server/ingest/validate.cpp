#include "ingest/validate.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dozor/common/text.hpp"

namespace dozor::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

Error FieldError(const std::string& path, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, path + ": " + what);
}

// Where a value sits in the report ("health.filesystems[2].mount"), as a chain of frames on the
// stack: the text is built only for an error, not for each of the few hundred fields of every
// report (that string building was most of the validation's cost).
struct FieldPath {
  const FieldPath* parent = nullptr;
  const FieldDescriptor* field = nullptr;  // null for the message validation started from
  int index = -1;                          // item of a repeated field, -1 for the field itself

  [[nodiscard]] std::string Render() const {
    if (field == nullptr) {
      return parent != nullptr ? parent->Render() : std::string();
    }
    std::string text = parent != nullptr ? parent->Render() : std::string();
    if (index < 0) {
      text += text.empty() ? field->name() : "." + field->name();
    } else {
      text += "[" + std::to_string(index) + "]";
    }
    return text;
  }
};

Status CheckString(const std::string& value, const FieldPath& path, const ReportLimits& limits) {
  if (value.size() > limits.max_string_bytes) {
    return FieldError(path.Render(), "string of " + std::to_string(value.size()) +
                                         " bytes exceeds " +
                                         std::to_string(limits.max_string_bytes));
  }
  if (!IsValidUtf8(value)) {
    return FieldError(path.Render(), "not valid UTF-8");
  }
  // Refused rather than stored: SQLite keeps a NUL but most readers of TEXT stop at it, so the
  // store's tables and the inventory snapshot would disagree. Agents escape it ("\x00").
  if (value.find('\0') != std::string::npos) {
    return FieldError(path.Render(), "contains a NUL byte");
  }
  return OkStatus();
}

Status CheckDouble(double value, const FieldPath& path) {
  if (!std::isfinite(value)) {
    return FieldError(path.Render(), "not a finite number");
  }
  return OkStatus();
}

// Walks every set field with reflection, so a field added to the contract is bounded automatically.
Status CheckMessage(const Message& message, const FieldPath& path, const ReportLimits& limits,
                    int depth) {
  if (depth > 16) {
    return FieldError(path.Render(), "nesting too deep");
  }
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const FieldPath field_path{&path, field};
    if (field->is_repeated()) {
      int size = reflection->FieldSize(message, field);
      if (static_cast<size_t>(size) > limits.max_repeated) {
        return FieldError(field_path.Render(), "list of " + std::to_string(size) +
                                                   " items exceeds " +
                                                   std::to_string(limits.max_repeated));
      }
      for (int i = 0; i < size; ++i) {
        const FieldPath item_path{&field_path, field, i};
        switch (field->cpp_type()) {
          case FieldDescriptor::CPPTYPE_STRING: {
            std::string scratch;
            const std::string& value =
                reflection->GetRepeatedStringReference(message, field, i, &scratch);
            DOZOR_RETURN_IF_ERROR(CheckString(value, item_path, limits));
            break;
          }
          case FieldDescriptor::CPPTYPE_DOUBLE:
            DOZOR_RETURN_IF_ERROR(
                CheckDouble(reflection->GetRepeatedDouble(message, field, i), item_path));
            break;
          case FieldDescriptor::CPPTYPE_FLOAT:
            DOZOR_RETURN_IF_ERROR(
                CheckDouble(reflection->GetRepeatedFloat(message, field, i), item_path));
            break;
          case FieldDescriptor::CPPTYPE_MESSAGE:
            DOZOR_RETURN_IF_ERROR(CheckMessage(reflection->GetRepeatedMessage(message, field, i),
                                               item_path, limits, depth + 1));
            break;
          default:
            break;
        }
      }
      continue;
    }
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        DOZOR_RETURN_IF_ERROR(CheckString(reflection->GetStringReference(message, field, &scratch),
                                          field_path, limits));
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
        DOZOR_RETURN_IF_ERROR(CheckDouble(reflection->GetDouble(message, field), field_path));
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        DOZOR_RETURN_IF_ERROR(CheckDouble(reflection->GetFloat(message, field), field_path));
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        DOZOR_RETURN_IF_ERROR(
            CheckMessage(reflection->GetMessage(message, field), field_path, limits, depth + 1));
        break;
      default:
        break;
    }
  }
  return OkStatus();
}

}  // namespace

Status ValidateReport(const dozor::v1::Report& report, int64_t now_ms, const ReportLimits& limits) {
  if (report.seq() == 0) {
    return FieldError("seq", "must be > 0");
  }
  if (report.seq() > static_cast<uint64_t>(INT64_MAX)) {
    // The store keeps seq as a signed 64-bit integer: beyond 2^63 it would turn negative.
    return FieldError("seq", "must be below 2^63");
  }
  if (report.payload_case() == dozor::v1::Report::PAYLOAD_NOT_SET) {
    return FieldError("payload", "a report carries an inventory or a health sample");
  }
  if (report.collected_at_ms() < limits.min_collected_at_ms) {
    return FieldError("collected_at_ms", "before the year 2000");
  }
  if (report.collected_at_ms() > now_ms + limits.max_clock_skew_ms) {
    return FieldError("collected_at_ms", "more than a day in the future (agent clock wrong?)");
  }
  if (report.has_health()) {
    const auto& health = report.health();
    if (health.cpu_percent() < 0 || health.cpu_percent() > 100.0001) {
      return FieldError("health.cpu_percent", "outside 0..100");
    }
  }
  return CheckMessage(report, FieldPath{}, limits, 0);
}

Status CheckReportBudget(const WireShape& shape, const ReportLimits& limits) {
  const bool inventory = shape.payload == PayloadKind::kInventory;
  const PayloadBudget& budget = inventory ? limits.inventory : limits.health;
  const char* kind = inventory ? "inventory" : "health sample";
  if (shape.bytes > budget.max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     std::string(kind) + " of " + std::to_string(shape.bytes) +
                         " bytes exceeds the budget of " + std::to_string(budget.max_bytes));
  }
  if (shape.fields > budget.max_fields) {
    return MakeError(ErrorCode::kResourceExhausted,
                     std::string(kind) + " of " + std::to_string(shape.fields) +
                         " fields exceeds the budget of " + std::to_string(budget.max_fields));
  }
  return OkStatus();
}

Error WalkLimitError(const WireShape& shape, const ReportLimits& limits, const Error& walk) {
  const bool inventory = shape.payload == PayloadKind::kInventory;
  const PayloadBudget& budget = inventory ? limits.inventory : limits.health;
  return MakeError(ErrorCode::kResourceExhausted,
                   std::string(inventory ? "inventory" : "health sample") + " of " + walk.message +
                       " exceeds the budget of " + std::to_string(budget.max_fields) + " fields");
}

WireScanLimits StreamScanLimits(const ReportLimits& limits) {
  WireScanLimits scan;
  // One past the larger budget, so an over-budget message is still measured as "more than".
  scan.max_fields = std::max(limits.health.max_fields, limits.inventory.max_fields) + 1;
  scan.max_depth = 16;
  return scan;
}

Status ValidateEnrollRequest(const dozor::v1::EnrollRequest& request) {
  ReportLimits limits;
  limits.max_string_bytes = 512;
  if (request.token().empty()) {
    return FieldError("token", "required");
  }
  if (request.hostname().empty()) {
    return FieldError("hostname", "required");
  }
  return CheckMessage(request, FieldPath{}, limits, 0);
}

}  // namespace dozor::server
