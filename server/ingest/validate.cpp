#include "ingest/validate.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <cmath>

#include "dozor/common/text.hpp"

namespace dozor::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

Error FieldError(const std::string& path, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, path + ": " + what);
}

Status CheckString(const std::string& value, const std::string& path, const ReportLimits& limits) {
  if (value.size() > limits.max_string_bytes) {
    return FieldError(path, "string of " + std::to_string(value.size()) + " bytes exceeds " +
                                std::to_string(limits.max_string_bytes));
  }
  if (!IsValidUtf8(value)) {
    return FieldError(path, "not valid UTF-8");
  }
  // Refused rather than stored: SQLite keeps a NUL but most readers of TEXT stop at it, so the
  // store's tables and the inventory snapshot would disagree. Agents escape it ("\x00").
  if (value.find('\0') != std::string::npos) {
    return FieldError(path, "contains a NUL byte");
  }
  return OkStatus();
}

Status CheckDouble(double value, const std::string& path) {
  if (!std::isfinite(value)) {
    return FieldError(path, "not a finite number");
  }
  return OkStatus();
}

// Walks every set field with reflection, so a field added to the contract is bounded automatically.
Status CheckMessage(const Message& message, const std::string& path, const ReportLimits& limits,
                    int depth) {
  if (depth > 16) {
    return FieldError(path, "nesting too deep");
  }
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    std::string field_path = path.empty() ? field->name() : path + "." + field->name();
    if (field->is_repeated()) {
      int size = reflection->FieldSize(message, field);
      if (static_cast<size_t>(size) > limits.max_repeated) {
        return FieldError(field_path, "list of " + std::to_string(size) + " items exceeds " +
                                          std::to_string(limits.max_repeated));
      }
      for (int i = 0; i < size; ++i) {
        std::string item_path = field_path + "[" + std::to_string(i) + "]";
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
  return CheckMessage(report, "", limits, 0);
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
  return CheckMessage(request, "", limits, 0);
}

}  // namespace dozor::server
