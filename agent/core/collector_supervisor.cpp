#include "core/collector_supervisor.hpp"

#include <algorithm>

namespace dozor::agent {
namespace {

constexpr const char* kHealthCollectorName = "health";

std::string JobName(const std::string& collector) { return "collector " + collector; }

uint32_t MillisecondsSince(std::chrono::steady_clock::time_point started) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count());
}

// Moves the parts a collector filled into the whole inventory without copying them (a software
// part holds thousands of packages).
void MoveParts(dozor::v1::Inventory* part, dozor::v1::Inventory* whole) {
  const google::protobuf::Reflection* reflection = part->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(*part, &fields);
  reflection->SwapFields(part, whole, fields);
}

}  // namespace

CollectorDeadlines CollectorDeadlines::FromTimeoutSeconds(int seconds) {
  CollectorDeadlines deadlines;
  deadlines.inventory_collector = std::chrono::seconds(seconds);
  deadlines.health_sample = std::min<std::chrono::milliseconds>(
      std::chrono::seconds(seconds), std::chrono::milliseconds(kMaxHealthSampleDeadline));
  return deadlines;
}

CollectorSupervisor::CollectorSupervisor(CollectContext context, CollectorDeadlines deadlines,
                                         std::vector<InventoryCollector> collectors,
                                         std::shared_ptr<HealthSampler> health_sampler)
    : context_(std::move(context)),
      deadlines_(deadlines),
      collectors_(std::move(collectors)),
      health_sampler_(std::move(health_sampler)) {}

InventoryRun CollectorSupervisor::CollectInventory() {
  InventoryRun run;
  for (const InventoryCollector& collector : collectors_) {
    dozor::v1::CollectorStatus& status = run.statuses.emplace_back();
    status.set_name(collector.name);
    const auto started = std::chrono::steady_clock::now();
    // The job gets its own copies: after a missed deadline it may run on past this call.
    Result<dozor::v1::Inventory> part = runner_.RunFor<dozor::v1::Inventory>(
        JobName(collector.name), deadlines_.inventory_collector,
        [context = context_, collect = collector.collect]() -> Result<dozor::v1::Inventory> {
          dozor::v1::Inventory filled;
          DOZOR_RETURN_IF_ERROR(collect(context, &filled));
          return filled;
        });
    status.set_duration_ms(MillisecondsSince(started));
    status.set_ok(part.ok());
    if (!part.ok()) {
      status.set_error(part.error().ToString());
      continue;
    }
    MoveParts(&*part, &run.inventory);
  }
  return run;
}

Result<dozor::v1::HealthSample> CollectorSupervisor::SampleHealth(
    std::vector<std::string>* errors) {
  if (health_sampler_ == nullptr) {
    health_sampler_ = MakeHealthSampler(context_);
  }
  struct Sampled {
    dozor::v1::HealthSample sample;
    std::vector<std::string> errors;
  };
  Result<Sampled> sampled =
      runner_.RunFor<Sampled>(JobName(kHealthCollectorName), deadlines_.health_sample,
                              [sampler = health_sampler_]() -> Result<Sampled> {
                                Sampled out;
                                DOZOR_ASSIGN_OR_RETURN(out.sample, sampler->Sample(&out.errors));
                                return out;
                              });
  if (!sampled.ok()) {
    return sampled.error();
  }
  if (errors != nullptr) {
    errors->insert(errors->end(), sampled->errors.begin(), sampled->errors.end());
  }
  return std::move(sampled->sample);
}

void CollectorSupervisor::ReleaseHealthMemory() {
  if (health_sampler_ != nullptr && !runner_.IsOverdue(JobName(kHealthCollectorName))) {
    health_sampler_->ReleaseMemory();
  }
}

}  // namespace dozor::agent
