// ReplicatedAgentControl over a fake local control (this replica's streams) and a fake registry
// of the other replicas' streams: local first, else forwarded, else "not connected"; forwarded
// requests applied to the local streams.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ingest/replicated_agent_control.hpp"

namespace dozor::server {
namespace {

class FakeLocalControl final : public AgentControl {
 public:
  [[nodiscard]] bool IsConnected(std::string_view agent_id) const override {
    return connected.count(std::string(agent_id)) != 0;
  }
  Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) override {
    if (IsConnected(agent_id) && !drop_next_send) {
      command.set_id(next_id);
      sent.emplace_back(agent_id, command);
      return next_id++;
    }
    drop_next_send = false;
    return MakeError(ErrorCode::kUnavailable,
                     "agent " + std::string(agent_id) + " is not connected");
  }
  void Disconnect(std::string_view agent_id) override {
    disconnected.emplace_back(agent_id);
    connected.erase(std::string(agent_id));
  }

  std::set<std::string> connected;
  bool drop_next_send = false;  // the stream closes between IsConnected and SendCommand
  uint64_t next_id = 1;
  std::vector<std::pair<std::string, dozor::v1::Command>> sent;
  std::vector<std::string> disconnected;
};

class FakeRemoteAgents final : public RemoteAgents {
 public:
  Result<bool> IsConnectedElsewhere(std::string_view agent_id) override {
    ++lookups;
    if (fail) {
      return MakeError(ErrorCode::kUnavailable, "database unreachable");
    }
    return elsewhere.count(std::string(agent_id)) != 0;
  }
  Result<uint64_t> ForwardCommand(std::string_view agent_id, const std::string& command) override {
    if (fail) {
      return MakeError(ErrorCode::kUnavailable, "database unreachable");
    }
    if (elsewhere.count(std::string(agent_id)) == 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "agent " + std::string(agent_id) + " is not connected");
    }
    forwarded.emplace_back(agent_id, command);
    return 1000 + forwarded.size();
  }
  Status ForwardDisconnect(std::string_view agent_id) override {
    if (fail) {
      return MakeError(ErrorCode::kUnavailable, "database unreachable");
    }
    disconnects.emplace_back(agent_id);
    return OkStatus();
  }

  std::set<std::string> elsewhere;
  bool fail = false;
  int lookups = 0;
  std::vector<std::pair<std::string, std::string>> forwarded;
  std::vector<std::string> disconnects;
};

dozor::v1::Command CollectNow() {
  dozor::v1::Command command;
  command.mutable_collect_inventory();
  return command;
}

TEST_CASE("replicated agent control: a local stream is used without asking the other replicas") {
  FakeLocalControl local;
  FakeRemoteAgents remote;
  ReplicatedAgentControl control(local, &remote);
  local.connected.insert("here");
  remote.elsewhere.insert("here");  // a stale row elsewhere does not matter
  CHECK(control.IsConnected("here"));
  CHECK(remote.lookups == 0);
  auto sent = control.SendCommand("here", CollectNow());
  REQUIRE(sent.ok());
  CHECK(*sent == 1);
  REQUIRE(local.sent.size() == 1);
  CHECK(local.sent[0].second.has_collect_inventory());
  CHECK(remote.forwarded.empty());
}

TEST_CASE("replicated agent control: an agent on another replica gets its command forwarded") {
  FakeLocalControl local;
  FakeRemoteAgents remote;
  ReplicatedAgentControl control(local, &remote);
  remote.elsewhere.insert("there");
  CHECK(control.IsConnected("there"));
  dozor::v1::Command command;
  command.mutable_set_intervals()->set_health_interval_seconds(120);
  auto sent = control.SendCommand("there", command);
  REQUIRE(sent.ok());
  CHECK(*sent == 1001);
  CHECK(local.sent.empty());
  REQUIRE(remote.forwarded.size() == 1);
  CHECK(remote.forwarded[0].first == "there");
  dozor::v1::Command parsed;
  REQUIRE(parsed.ParseFromString(remote.forwarded[0].second));
  CHECK(parsed.set_intervals().health_interval_seconds() == 120);

  // A local stream that closed between the check and the send: the other replicas are asked.
  local.connected.insert("there");
  local.drop_next_send = true;
  REQUIRE(control.SendCommand("there", CollectNow()).ok());
  CHECK(remote.forwarded.size() == 2);
}

TEST_CASE("replicated agent control: an agent nowhere is not connected, as with one replica") {
  FakeLocalControl local;
  FakeRemoteAgents remote;
  ReplicatedAgentControl control(local, &remote);
  CHECK_FALSE(control.IsConnected("nowhere"));
  auto sent = control.SendCommand("nowhere", CollectNow());
  REQUIRE_FALSE(sent.ok());
  CHECK(sent.error().code == ErrorCode::kUnavailable);
  CHECK(sent.error().message == "agent nowhere is not connected");

  // A registry that cannot answer: not connected, and the send fails as unavailable.
  remote.fail = true;
  remote.elsewhere.insert("nowhere");
  CHECK_FALSE(control.IsConnected("nowhere"));
  auto failed = control.SendCommand("nowhere", CollectNow());
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("replicated agent control: without other replicas it is the local control") {
  FakeLocalControl local;
  ReplicatedAgentControl control(local, nullptr);
  CHECK_FALSE(control.IsConnected("a"));
  CHECK_FALSE(control.SendCommand("a", CollectNow()).ok());
  local.connected.insert("a");
  CHECK(control.IsConnected("a"));
  CHECK(control.SendCommand("a", CollectNow()).ok());
  control.Disconnect("a");
  CHECK(local.disconnected == std::vector<std::string>{"a"});
}

TEST_CASE("replicated agent control: a disconnect closes the local stream and asks the others") {
  FakeLocalControl local;
  FakeRemoteAgents remote;
  ReplicatedAgentControl control(local, &remote);
  local.connected.insert("revoked");
  control.Disconnect("revoked");
  CHECK(local.disconnected == std::vector<std::string>{"revoked"});
  CHECK(remote.disconnects == std::vector<std::string>{"revoked"});
  remote.fail = true;  // logged, not thrown
  control.Disconnect("revoked");
  CHECK(local.disconnected.size() == 2);
}

TEST_CASE("replicated agent control: forwarded requests are applied to the local streams") {
  FakeLocalControl local;
  ReplicatedAgentControl control(local, nullptr);
  local.connected.insert("here");
  ForwardedRequest request;
  request.id = 7;
  request.agent_id = "here";
  request.kind = ForwardedRequest::Kind::kCommand;
  request.command = CollectNow().SerializeAsString();
  control.DeliverForwarded(request);
  REQUIRE(local.sent.size() == 1);
  CHECK(local.sent[0].first == "here");
  CHECK(local.sent[0].second.has_collect_inventory());

  request.command = "\xff\xff not a command";
  control.DeliverForwarded(request);  // dropped
  request.agent_id = "gone";
  request.command = CollectNow().SerializeAsString();
  control.DeliverForwarded(request);  // its stream closed meanwhile: dropped
  CHECK(local.sent.size() == 1);

  ForwardedRequest disconnect;
  disconnect.agent_id = "here";
  disconnect.kind = ForwardedRequest::Kind::kDisconnect;
  control.DeliverForwarded(disconnect);
  CHECK(local.disconnected == std::vector<std::string>{"here"});
  CHECK_FALSE(local.IsConnected("here"));
}

}  // namespace
}  // namespace dozor::server
