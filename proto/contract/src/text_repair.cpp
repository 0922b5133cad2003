#include "dozor/contract/text_repair.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <vector>

#include "dozor/common/text.hpp"

namespace dozor {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

bool NeedsRepair(const std::string& value) {
  return !IsValidUtf8(value) || value.find('\0') != std::string::npos;
}

}  // namespace

size_t RepairInvalidText(Message* message) {
  size_t repaired = 0;
  const auto* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
          repaired += RepairInvalidText(reflection->MutableRepeatedMessage(message, field, i));
        }
      } else {
        repaired += RepairInvalidText(reflection->MutableMessage(message, field));
      }
      continue;
    }
    if (field->type() != FieldDescriptor::TYPE_STRING) {
      continue;  // bytes fields carry binary data on purpose
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        std::string scratch;
        const std::string& value =
            reflection->GetRepeatedStringReference(*message, field, i, &scratch);
        if (NeedsRepair(value)) {
          reflection->SetRepeatedString(message, field, i, EscapeInvalidUtf8(value));
          ++repaired;
        }
      }
    } else {
      std::string scratch;
      const std::string& value = reflection->GetStringReference(*message, field, &scratch);
      if (NeedsRepair(value)) {
        reflection->SetString(message, field, EscapeInvalidUtf8(value));
        ++repaired;
      }
    }
  }
  return repaired;
}

}  // namespace dozor
