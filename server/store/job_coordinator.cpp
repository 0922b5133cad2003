#include "store/job_coordinator.hpp"

namespace dozor::server {

std::string_view ToString(SingletonJob job) {
  switch (job) {
    case SingletonJob::kEstateEvaluation:
      return "estate evaluation";
    case SingletonJob::kRetention:
      return "retention";
    case SingletonJob::kAlertPlanning:
      return "alert planning";
  }
  return "unknown";
}

}  // namespace dozor::server
