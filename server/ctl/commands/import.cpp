// `import`: loads a one-shot audit file (`dozor-agent collect -o FILE`) as a host of an
// organisation.
#include <cstddef>
#include <memory>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "dozor/common/files.hpp"

namespace dozor::ctl {
namespace {

// The snapshot format's limit (dozor::kMaxSnapshotFileBytes in dozor/contract/snapshot_file.hpp;
// dozorctl does not link the protobuf contract, so the number is repeated here).
constexpr size_t kMaxSnapshotFileBytes = 32 * 1024 * 1024;

struct ImportOptions {
  std::string file;
  std::string org;
};

int RunImport(Context& context, const ImportOptions& import) {
  auto text = ReadFile(import.file, kMaxSnapshotFileBytes, ReadFrom::kAnyStream);
  if (!text.ok()) {
    context.err << "dozorctl: reading " << import.file << ": " << text.error().message << "\n";
    return kExitApiError;
  }
  return Emit(context, context.client.CallWithText("POST", OrgPath(import.org, "/imports"), *text),
              RenderImport);
}

}  // namespace

void AddImportCommand(CLI::App& app, Action& action) {
  auto* import_command = app.add_subcommand(
      "import", "load a one-shot audit file (dozor-agent collect) as a host of an organisation");
  auto import = std::make_shared<ImportOptions>();
  import_command
      ->add_option("FILE", import->file, "snapshot file written by dozor-agent collect -o")
      ->required();
  import_command->add_option("--org", import->org, "organisation id or name")->required();
  import_command->callback([import, &action] {
    action = [import](Context& context) { return RunImport(context, *import); };
  });
}

}  // namespace dozor::ctl
