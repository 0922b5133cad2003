// The PostgreSQL backend's findings area (store/finding_store.hpp): evaluations applied through the
// pure lifecycle (domain/finding_lifecycle.hpp), people's transitions, the finding queries.
//
// Several replicas (and people) write findings at once, so every write locks the findings it
// decides on before deciding: an evaluation takes FOR UPDATE on every stored finding of its
// rules x targets and on the waivers due, in one statement ordered by id (two evaluations lock in
// the same order and never deadlock on each other); a person's action locks its one finding. A
// finding that does not exist yet cannot be locked: two evaluations may both plan to open it, and
// the UNIQUE (org_id, rule_id, target, object) constraint lets only the first insert it (ON
// CONFLICT DO NOTHING). The second then runs again from the start (a retryable error), now
// seeing the committed finding, so each finding exists once with one 'opened' event.
#pragma once

#include "store/finding_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgFindingStore final : public FindingStore {
 public:
  explicit PgFindingStore(PgContext& context) : context_(context) {}

  Result<FindingsChange> ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) override;
  Result<int64_t> ExpireWaivers(int64_t now_ms) override;
  Result<int64_t> ResolveFindingsOfRemovedRules(const std::vector<std::string>& live_rule_ids,
                                                int64_t now_ms) override;
  Result<std::vector<Finding>> ListFindings(const FindingFilter& filter) override;
  Result<Page<Finding>> QueryFindings(const FindingQuery& query) override;
  Result<Finding> GetFinding(int64_t id) override;
  Result<std::vector<FindingEvent>> ListFindingEvents(int64_t finding_id) override;
  Result<Finding> AcknowledgeFinding(int64_t id, std::string_view actor, std::string_view comment,
                                     int64_t now_ms) override;
  Result<Finding> WaiveFinding(int64_t id, std::string_view actor, std::string_view reason,
                               std::optional<int64_t> until_ms, int64_t now_ms) override;
  Result<Finding> UnwaiveFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override;
  Result<Finding> CommentFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override;
  Result<Finding> RequestVerification(int64_t id, std::string_view actor, std::string_view comment,
                                      int64_t now_ms) override;
  Result<std::vector<ActiveFindingCount>> CountActiveFindings(
      const std::optional<std::vector<int64_t>>& org_ids) override;
  Result<std::vector<FindingTimeline>> ListFindingTimelines(int64_t org_id) override;
  Result<Finding> AcceptWaiver(int64_t id, std::string_view actor, std::string_view comment,
                               int64_t now_ms) override;

 private:
  Result<Finding> ApplyPeopleAction(int64_t id, const PeopleRequest& request);

  PgContext& context_;
};

}  // namespace dozor::server
