#include "collectors/windows_model/fixture_machine.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "collectors/parsers/text.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"

namespace dozor::agent::windows {
namespace {

namespace fs = std::filesystem;

// A WMI class is a few hundred instances at most; a registry capture a few megabytes.
constexpr size_t kMaxClassFileBytes = 32 * 1024 * 1024;
constexpr size_t kMaxRegExportBytes = 64 * 1024 * 1024;
constexpr size_t kMaxWin32FileBytes = 1024 * 1024;

// "HKEY_LOCAL_MACHINE\SOFTWARE\X" and "HKLM\Software\X" -> "hklm\software\x".
std::string RegistryKeyId(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kHives[] = {
      {"hkey_local_machine", "hklm"},
      {"hkey_users", "hku"},
      {"hkey_current_user", "hkcu"},
      {"hkey_classes_root", "hkcr"}};
  std::string id = Lower(Trim(path, "\\ "));
  for (const auto& [long_name, short_name] : kHives) {
    if (id.starts_with(long_name) &&
        (id.size() == long_name.size() || id[long_name.size()] == '\\')) {
      id = std::string(short_name) + id.substr(long_name.size());
      break;
    }
  }
  return id;
}

std::vector<std::string> WindowsPathComponents(std::string_view windows_path) {
  std::vector<std::string> components;
  for (std::string_view piece : Split(windows_path, '\\')) {
    for (std::string_view part : Split(piece, '/')) {
      if (part.empty()) continue;
      if (part.size() == 2 && part[1] == ':') part = part.substr(0, 1);  // "C:" -> "C"
      components.emplace_back(part);
    }
  }
  return components;
}

class FixtureCim final : public CimSource {
 public:
  explicit FixtureCim(fs::path root) : root_(std::move(root)) {}

  // A capture holds every instance of a class (deploy/windows/capture-fixture.ps1 asks with the
  // same conditions where the class could enumerate a domain); the conditions are applied here.
  Result<std::vector<CimInstance>> Instances(std::string_view wmi_namespace,
                                             std::string_view class_name,
                                             const std::vector<std::string>&,
                                             const std::vector<CimCondition>& conditions) override {
    std::vector<std::string> components = {"wmi"};
    for (auto& part : WindowsPathComponents(wmi_namespace)) components.push_back(Lower(part));
    components.push_back(std::string(class_name) + ".json");
    const fs::path file = ResolveNoCase(root_, components);
    auto text = ReadFile(file, kMaxClassFileBytes);
    if (!text.ok()) {
      if (text.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, std::string(wmi_namespace) + ":" +
                                                   std::string(class_name) + " does not exist");
      }
      return text.error();
    }
    auto parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return MakeError(ErrorCode::kDataLoss, PathToUtf8(file) + ": not JSON");
    }
    std::vector<CimInstance> instances;
    if (parsed.is_object()) {
      // ConvertTo-Json writes one instance bare.
      if (MeetsConditions(parsed, conditions)) instances.push_back(std::move(parsed));
    } else if (parsed.is_array()) {
      for (auto& item : parsed) {
        if (item.is_object() && MeetsConditions(item, conditions)) {
          instances.push_back(std::move(item));
        }
      }
    } else if (!parsed.is_null()) {
      return MakeError(ErrorCode::kDataLoss, PathToUtf8(file) + ": not a list of instances");
    }
    return instances;
  }

 private:
  fs::path root_;
};

class FixtureRegistry final : public RegistrySource {
 public:
  Status Load(const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return OkStatus();  // a capture without registry exports
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (Lower(PathToUtf8(entry.path().extension())) == ".reg") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      DOZOR_ASSIGN_OR_RETURN(auto bytes, ReadFile(file, kMaxRegExportBytes));
      auto keys = ParseRegExport(bytes);
      if (!keys.ok()) {
        return MakeError(ErrorCode::kDataLoss, PathToUtf8(file) + ": " + keys.error().message);
      }
      for (auto& key : *keys) Add(std::move(key));
    }
    return OkStatus();
  }

  Result<std::vector<std::string>> Subkeys(std::string_view key, RegistryView view) override {
    const auto it = children_.find(Redirect(RegistryKeyId(key), view));
    if (it == children_.end()) {
      if (values_.contains(Redirect(RegistryKeyId(key), view))) return std::vector<std::string>();
      return MakeError(ErrorCode::kNotFound, "registry key " + std::string(key) + " not found");
    }
    std::vector<std::string> names;
    for (const auto& [id, name] : it->second) {
      // The 64-bit view of SOFTWARE does not list the 32-bit programs' node as a program.
      names.push_back(name);
    }
    return names;
  }

  Result<RegistryValues> Values(std::string_view key, RegistryView view) override {
    const std::string id = Redirect(RegistryKeyId(key), view);
    const auto it = values_.find(id);
    if (it != values_.end()) return it->second;
    if (children_.contains(id)) return RegistryValues();  // a key that holds only keys
    return MakeError(ErrorCode::kNotFound, "registry key " + std::string(key) + " not found");
  }

 private:
  // What a 32-bit program sees: HKLM\SOFTWARE\X is HKLM\SOFTWARE\WOW6432Node\X.
  static std::string Redirect(const std::string& id, RegistryView view) {
    constexpr std::string_view kSoftware = "hklm\\software";
    if (view != RegistryView::kWow32 || !id.starts_with(kSoftware) ||
        (id.size() > kSoftware.size() && id[kSoftware.size()] != '\\') ||
        id.starts_with("hklm\\software\\wow6432node")) {
      return id;
    }
    return std::string(kSoftware) + "\\wow6432node" + id.substr(kSoftware.size());
  }

  void Add(RegExportKey key) {
    const std::string id = RegistryKeyId(key.path);
    // Every key on the way is a key, whether or not the export lists it.
    std::string_view path = Trim(key.path, "\\ ");
    std::string parent_id;
    size_t start = 0;
    while (start <= path.size()) {
      const size_t end = std::min(path.find('\\', start), path.size());
      const std::string_view name = path.substr(start, end - start);
      const std::string child_id = RegistryKeyId(path.substr(0, end));
      if (!parent_id.empty() && !name.empty()) {
        children_[parent_id].emplace(Lower(name), std::string(name));
      }
      parent_id = child_id;
      start = end + 1;
    }
    RegistryValues& values = values_[id];
    for (auto& [name, value] : key.values) {
      values.values.emplace_back(std::move(name), std::move(value));
    }
  }

  std::map<std::string, RegistryValues> values_;
  std::map<std::string, std::map<std::string, std::string>> children_;
};

class FixtureFiles final : public FileSource {
 public:
  explicit FixtureFiles(fs::path root) : root_(std::move(root)) {}

  Result<std::string> Read(std::string_view windows_path, size_t max_bytes) override {
    return ReadFile(Resolve(windows_path), max_bytes);
  }

  Result<std::vector<std::string>> List(std::string_view windows_folder) override {
    const fs::path folder = Resolve(windows_folder);
    std::error_code ec;
    std::vector<std::string> names;
    fs::directory_iterator it(folder, ec);
    if (ec) {
      return MakeError(ErrorCode::kNotFound, std::string(windows_folder) + " not found");
    }
    for (const auto& entry : it) names.push_back(PathToUtf8(entry.path().filename()));
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path Resolve(std::string_view windows_path) const {
    std::vector<std::string> components = {"fs"};
    for (auto& part : WindowsPathComponents(windows_path)) components.push_back(std::move(part));
    return ResolveNoCase(root_, components);
  }

  fs::path root_;
};

// "2026-11-30T08:12:00Z" -> Unix seconds; 0 for null or anything else.
int64_t JsonTime(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return 0;
  auto seconds = ParseIso8601Utc(it->get<std::string>());
  return seconds.ok() ? *seconds : 0;
}

// A string member; "" when absent, null or not a string (a capture may hold any of these).
std::string JsonText(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int32_t JsonInt(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return -1;
  if (it->is_boolean()) return it->get<bool>() ? 1 : 0;
  if (it->is_number_integer()) {
    return static_cast<int32_t>(std::clamp<int64_t>(it->get<int64_t>(), -1, INT32_MAX));
  }
  return -1;
}

class FixtureSystem final : public SystemSource {
 public:
  explicit FixtureSystem(fs::path root) : root_(std::move(root)) {}

  Result<AccountPolicy> ReadAccountPolicy() override {
    DOZOR_ASSIGN_OR_RETURN(auto json, ReadJson("account_policy.json"));
    AccountPolicy policy;
    policy.min_password_length = JsonInt(json, "min_password_length");
    policy.max_password_age_days = JsonInt(json, "max_password_age_days");
    policy.lockout_threshold = JsonInt(json, "lockout_threshold");
    policy.password_complexity = JsonInt(json, "password_complexity");
    return policy;
  }

  Result<UpdateState> ReadUpdateState() override {
    DOZOR_ASSIGN_OR_RETURN(auto json, ReadJson("windows_update.json"));
    UpdateState state;
    state.last_search_success = JsonTime(json, "last_search_success");
    state.last_install_success = JsonTime(json, "last_install_success");
    state.error = JsonText(json, "error");
    if (auto it = json.find("pending"); it != json.end() && it->is_array()) {
      for (const auto& item : *it) {
        if (!item.is_object()) continue;
        PendingUpdate update;
        update.title = JsonText(item, "title");
        update.kb = JsonText(item, "kb");
        update.security = JsonInt(item, "security") == 1;
        state.pending.push_back(std::move(update));
      }
    }
    return state;
  }

 private:
  Result<nlohmann::json> ReadJson(const std::string& name) const {
    const fs::path file = ResolveNoCase(root_, {"win32", name});
    DOZOR_ASSIGN_OR_RETURN(auto text, ReadFile(file, kMaxWin32FileBytes));
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
      return MakeError(ErrorCode::kDataLoss, PathToUtf8(file) + ": not a JSON object");
    }
    return json;
  }

  fs::path root_;
};

}  // namespace

fs::path ResolveNoCase(const fs::path& root, const std::vector<std::string>& components) {
  fs::path path = root;
  for (const auto& component : components) {
    std::error_code ec;
    fs::path exact = path / component;
    if (fs::exists(exact, ec)) {
      path = std::move(exact);
      continue;
    }
    const std::string wanted = Lower(component);
    fs::path found;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (Lower(PathToUtf8(entry.path().filename())) == wanted) {
        found = entry.path();
        break;
      }
    }
    path = found.empty() ? std::move(exact) : std::move(found);
  }
  return path;
}

struct FixtureMachine::Sources {
  explicit Sources(const fs::path& root) : cim(root), files(root), system(root) {}
  FixtureCim cim;
  FixtureRegistry registry;
  FixtureFiles files;
  FixtureSystem system;
};

FixtureMachine::FixtureMachine() = default;
FixtureMachine::~FixtureMachine() = default;

Result<std::unique_ptr<FixtureMachine>> FixtureMachine::Open(const fs::path& root, int64_t now_s) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return MakeError(ErrorCode::kNotFound, PathToUtf8(root) + " is not a folder");
  }
  std::unique_ptr<FixtureMachine> machine(new FixtureMachine());
  machine->sources_ = std::make_unique<Sources>(root);
  DOZOR_RETURN_IF_ERROR(machine->sources_->registry.Load(ResolveNoCase(root, {"registry"})));
  machine->machine_ = {.cim = &machine->sources_->cim,
                       .registry = &machine->sources_->registry,
                       .files = &machine->sources_->files,
                       .system = &machine->sources_->system,
                       .now_s = now_s};
  return machine;
}

}  // namespace dozor::agent::windows
