#include "store/host_row_parts.hpp"

#include <google/protobuf/util/message_differencer.h>

#include <string>

namespace dozor::server {
namespace {

using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

bool SameBytes(const Message& a, const Message& b, std::string& buffer_a, std::string& buffer_b) {
  buffer_a.clear();
  buffer_b.clear();
  return a.SerializeToString(&buffer_a) && b.SerializeToString(&buffer_b) && buffer_a == buffer_b;
}

template <typename T>
bool SameList(const RepeatedPtrField<T>& a, const RepeatedPtrField<T>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  std::string buffer_a;
  std::string buffer_b;
  for (int i = 0; i < a.size(); ++i) {
    if (!SameBytes(a.Get(i), b.Get(i), buffer_a, buffer_b)) {
      return false;
    }
  }
  return true;
}

bool SameMessage(const Message& a, const Message& b) {
  std::string buffer_a;
  std::string buffer_b;
  return SameBytes(a, b, buffer_a, buffer_b);
}

// Software without its packages, which are compared on their own: copying the message to clear
// them would copy tens of thousands of packages.
bool SameSoftwareBesidesPackages(const dozor::v1::Software& a, const dozor::v1::Software& b) {
  google::protobuf::util::MessageDifferencer differencer;
  differencer.IgnoreField(dozor::v1::Software::descriptor()->FindFieldByName("packages"));
  return differencer.Compare(a, b);
}

}  // namespace

HostRowParts ChangedHostRowParts(const dozor::v1::Inventory& previous,
                                 const dozor::v1::Inventory& next) {
  HostRowParts changed = Bit(HostRowPart::kAlways);
  if (!SameList(previous.os().users(), next.os().users()) ||
      !SameList(previous.os().groups(), next.os().groups())) {
    changed |= Bit(HostRowPart::kAccounts);
  }
  if (!SameMessage(previous.hardware(), next.hardware())) {
    changed |= Bit(HostRowPart::kHardware);
  }
  if (!SameMessage(previous.network(), next.network())) {
    changed |= Bit(HostRowPart::kNetwork);
  }
  if (!SameList(previous.software().packages(), next.software().packages())) {
    changed |= Bit(HostRowPart::kPackages);
  }
  if (!SameSoftwareBesidesPackages(previous.software(), next.software())) {
    changed |= Bit(HostRowPart::kSoftware);
  }
  if (previous.has_security() != next.has_security() ||
      !SameMessage(previous.security(), next.security())) {
    changed |= Bit(HostRowPart::kSecurity);
  }
  return changed;
}

}  // namespace dozor::server
