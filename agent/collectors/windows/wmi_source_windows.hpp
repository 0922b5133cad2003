// WMI as a CimSource (collectors/windows_model/sources.hpp): COM's IWbemLocator, one connection
// per namespace, "SELECT * FROM <Class>" read forward-only, each asked property converted from its
// VARIANT to JSON the way the fixture captures hold it (cim_values.hpp reads both).
//
// Thread affinity: the constructor joins the calling thread to COM's multithreaded apartment and
// the destructor leaves it, so construct, use and destroy a WmiCimSource on one thread (one per
// collector run; the COM objects it caches die with it).
#pragma once

#include <cstddef>
#include <memory>

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

class WmiCimSource final : public CimSource {
 public:
  struct Limits {
    size_t max_instances = 100000;  // of one class (kResourceExhausted beyond)
    // A provider that stops answering (a hung driver under MSStorageDriver_*, a broken
    // repository) fails the query instead of the collector: per batch of instances, and overall.
    long next_timeout_ms = 30000;
    long query_timeout_ms = 120000;
  };

  WmiCimSource();
  explicit WmiCimSource(Limits limits);
  ~WmiCimSource() override;
  WmiCimSource(const WmiCimSource&) = delete;
  WmiCimSource& operator=(const WmiCimSource&) = delete;

  [[nodiscard]] Result<std::vector<CimInstance>> Instances(
      std::string_view wmi_namespace, std::string_view class_name,
      const std::vector<std::string>& properties,
      const std::vector<CimCondition>& conditions) override;

 private:
  struct Com;  // the apartment and the cached connections (COM types stay out of this header)
  Limits limits_;
  std::unique_ptr<Com> com_;
};

}  // namespace dozor::agent::windows
