// `notes`: the client notes of an organisation, what every engineer must know before talking to
// the client ("the director decides; call before 10:00"). Each save is a new version; the history
// keeps who wrote what, when.
#include <istream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "dozor/common/files.hpp"

namespace dozor::ctl {
namespace {

// The server takes request bodies up to 128 KiB; JSON escaping grows the text a little.
constexpr size_t kMaxNotesBytes = 96 * 1024;

struct NotesOptions {
  std::string org;
  bool history = false;
  std::optional<std::string> text;
  std::optional<std::string> file;
  std::string source;  // "-": standard input
};
using NotesState = std::shared_ptr<NotesOptions>;

Result<std::string> ReadAtMost(std::istream& in, size_t limit) {
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > limit) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "notes longer than " + std::to_string(limit / 1024) + " KiB");
    }
  }
  return text;
}

// The new text from --text, --file or standard input.
Result<std::string> NewText(Context& context, const NotesOptions& notes) {
  if (notes.text.has_value()) {
    return *notes.text;
  }
  if (notes.file.has_value()) {
    auto text = ReadFile(*notes.file, kMaxNotesBytes, ReadFrom::kAnyStream);
    if (!text.ok()) {
      return text.error().Wrap("reading " + *notes.file);
    }
    return text;
  }
  return ReadAtMost(context.in, kMaxNotesBytes);
}

int RunSet(Context& context, const NotesOptions& notes) {
  auto text = NewText(context, notes);
  if (!text.ok()) {
    context.err << "dozorctl: " << text.error().message << "\n";
    return kExitUsage;
  }
  return Emit(context, context.client.Put(OrgPath(notes.org, "/notes"), {{"text", *text}}),
              [&](const nlohmann::json& reply) {
                return Sentence("Saved the notes of {} (version {}).", context.lang,
                                {notes.org,
                                 std::to_string(JsonI64(reply.value("id", nlohmann::json(0))))}) +
                       "\n";
              });
}

}  // namespace

void AddNotesCommands(CLI::App& app, Action& action) {
  auto* notes_command =
      app.add_subcommand("notes", "client notes every engineer must read (staff only)")
          ->require_subcommand(1);
  auto notes = std::make_shared<NotesOptions>();

  auto* show = notes_command->add_subcommand("show", "the organisation's current notes");
  show->add_option("ORG", notes->org, "organisation id or name")->required();
  show->add_flag("--history", notes->history, "also every earlier version, newest first");
  show->callback([notes, &action] {
    action = [notes](Context& context) {
      return Emit(context, context.client.Get(OrgPath(notes->org, "/notes")),
                  [&](const nlohmann::json& reply) {
                    return RenderNotes(reply, notes->history, context.lang);
                  });
    };
  });

  auto* set = notes_command->add_subcommand(
      "set", "replace the notes (the old text stays in the history): --text, --file or - (stdin)");
  set->add_option("ORG", notes->org, "organisation id or name")->required();
  auto* source = set->add_option("SOURCE", notes->source, "- to read the text from standard input")
                     ->check(CLI::IsMember({"-"}));
  auto* text = set->add_option("--text", notes->text, "the new text");
  auto* file = set->add_option("--file", notes->file, "file holding the new text (UTF-8)");
  text->excludes(file)->excludes(source);
  file->excludes(source);
  set->callback([notes, &action] {
    if (!notes->text && !notes->file && notes->source.empty()) {
      throw CLI::ValidationError("notes set", "give the text: --text T, --file F, or - for stdin");
    }
    action = [notes](Context& context) { return RunSet(context, *notes); };
  });
}

}  // namespace dozor::ctl
