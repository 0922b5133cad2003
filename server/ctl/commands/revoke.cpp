// `token revoke ID` and `apitoken revoke ID`: the same command over two collections.
#include <cstdint>
#include <memory>
#include <string>

#include "ctl/commands/commands.hpp"

namespace dozor::ctl {

void AddRevokeById(CLI::App* parent, const std::string& description, const std::string& collection,
                   const std::string& what, Action& action) {
  auto id = std::make_shared<int64_t>(0);
  auto* revoke = parent->add_subcommand("revoke", description);
  revoke->add_option("ID", *id, "token id")->required()->check(CLI::PositiveNumber);
  revoke->callback([id, collection, what, &action] {
    action = [id, collection, what](Context& context) {
      return Emit(context,
                  context.client.Post(collection + "/" + std::to_string(*id) + "/revoke",
                                      nlohmann::json::object()),
                  [&](const nlohmann::json&) {
                    return Message("Revoked " + what + " " + std::to_string(*id));
                  });
    };
  });
}

}  // namespace dozor::ctl
