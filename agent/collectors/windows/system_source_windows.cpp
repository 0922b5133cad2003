#include "collectors/windows/system_source_windows.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "dozor/common/text.hpp"
#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h>'s macros break the generated agent.pb.h.
#include "platform/windows/win32_handles.hpp"

#include <lm.h>
#include <wuapi.h>

// ------------------------------------------------------------------------------------------------
// What MinGW-w64's <wuapi.h> lacks, declared from the Windows SDK's wuapi.h with their documented
// IIDs ([MS-UAMG]): IAutomaticUpdates2 and IAutomaticUpdatesResults (the last successful install),
// and ISearchCompletedCallback, the completion callback of IUpdateSearcher::BeginSearch. At global
// scope because __CRT_UUID_DECL specialises a global template (what __uuidof reads).
#ifndef __IAutomaticUpdatesResults_INTERFACE_DEFINED__
#define __IAutomaticUpdatesResults_INTERFACE_DEFINED__
MIDL_INTERFACE("e7a4d634-7942-4dd9-a111-82228ba33901")
IAutomaticUpdatesResults : public IDispatch {
 public:
  virtual HRESULT STDMETHODCALLTYPE get_LastSearchSuccessDate(VARIANT * retval) = 0;
  virtual HRESULT STDMETHODCALLTYPE get_LastInstallationSuccessDate(VARIANT * retval) = 0;
};
__CRT_UUID_DECL(IAutomaticUpdatesResults, 0xe7a4d634, 0x7942, 0x4dd9, 0xa1, 0x11, 0x82, 0x22, 0x8b,
                0xa3, 0x39, 0x01)
#endif

#ifndef __IAutomaticUpdates2_INTERFACE_DEFINED__
#define __IAutomaticUpdates2_INTERFACE_DEFINED__
MIDL_INTERFACE("4a2f5c31-cfd9-410e-b7fb-29a653973a0f")
IAutomaticUpdates2 : public IAutomaticUpdates {
 public:
  virtual HRESULT STDMETHODCALLTYPE get_Results(IAutomaticUpdatesResults * *retval) = 0;
};
__CRT_UUID_DECL(IAutomaticUpdates2, 0x4a2f5c31, 0xcfd9, 0x410e, 0xb7, 0xfb, 0x29, 0xa6, 0x53, 0x97,
                0x3a, 0x0f)
#endif

#ifndef __ISearchCompletedCallback_INTERFACE_DEFINED__
#define __ISearchCompletedCallback_INTERFACE_DEFINED__
struct ISearchCompletedCallbackArgs;  // never called here: only passed to Invoke
MIDL_INTERFACE("88aee058-d4b0-4725-a2f1-814a67ae964c")
ISearchCompletedCallback : public IUnknown {
 public:
  virtual HRESULT STDMETHODCALLTYPE Invoke(ISearchJob * search_job,
                                           ISearchCompletedCallbackArgs * callback_args) = 0;
};
__CRT_UUID_DECL(ISearchCompletedCallback, 0x88aee058, 0xd4b0, 0x4725, 0xa2, 0xf1, 0x81, 0x4a, 0x67,
                0xae, 0x96, 0x4c)
#endif
// ------------------------------------------------------------------------------------------------

namespace dozor::agent::windows {
namespace {

using platform::ComApartment;
using platform::ComPtr;
using platform::HresultText;
using platform::Narrow;
using platform::UniqueBstr;
using platform::UniqueHandle;
using platform::UniqueVariant;
using platform::WindowsErrorMessage;

// The coclasses ("Microsoft.Update.Session", "Microsoft.Update.AutoUpdate"): MinGW's wuapi.h
// declares them but no MinGW import library defines them.
constexpr CLSID kUpdateSessionClsid = {
    0x4cb43d7f, 0x7eee, 0x4906, {0x86, 0x98, 0x60, 0xda, 0x1c, 0x38, 0xf2, 0xfe}};
constexpr CLSID kAutomaticUpdatesClsid = {
    0xbfe18e9c, 0x6d87, 0x4450, {0xb3, 0x7c, 0xe0, 0x2f, 0x0b, 0x37, 0x38, 0x03}};

// The "Security Updates" update classification; its name is translated, its id is not.
constexpr std::string_view kSecurityUpdatesCategory = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
constexpr wchar_t kSearchCriteria[] = L"IsInstalled=0 and IsHidden=0 and Type='Software'";

constexpr DWORD kCheckEveryMs = 15 * 60 * 1000;            // how often the history count is read
constexpr ULONGLONG kRefreshEveryMs = 6ULL * 3600 * 1000;  // a search at least this often
constexpr ULONGLONG kRetryFailedAfterMs = 3600 * 1000;     // after a failed search
constexpr DWORD kSearchTimeoutMs = 60 * 60 * 1000;         // a search longer than this is aborted
constexpr auto kStopWait = std::chrono::seconds(10);       // at exit, for the worker to end
constexpr long kMaxPendingUpdates = 10000;
constexpr double kUnixEpochAsDate = 25569.0;  // 1970-01-01 as an OLE DATE (days since 1899-12-30)

// "The service cannot be started ... (error 1058) (0x80070422)" for a Win32 code in an HRESULT
// (a disabled Windows Update service), the bare number for the update agent's own (0x8024xxxx).
std::string DescribeHresult(HRESULT result) {
  if (HRESULT_FACILITY(result) == FACILITY_WIN32) {
    return WindowsErrorMessage(static_cast<DWORD>(HRESULT_CODE(result))) + " (" +
           HresultText(result) + ")";
  }
  return HresultText(result);
}

std::string Text(const UniqueBstr& text) { return Narrow(text.view()); }

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The completion callback BeginSearch requires: it only signals an event. Reference-counted and
// thread-safe, as WUA calls it on a thread of its own.
class SearchCompleted final : public ISearchCompletedCallback {
 public:
  SearchCompleted() : done_(::CreateEventW(nullptr, TRUE, FALSE, nullptr)) {}
  SearchCompleted(const SearchCompleted&) = delete;
  SearchCompleted& operator=(const SearchCompleted&) = delete;

  [[nodiscard]] HANDLE done() const { return done_.get(); }

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void** object) override {
    if (object == nullptr) {
      return E_POINTER;
    }
    if (iid == __uuidof(IUnknown) || iid == __uuidof(ISearchCompletedCallback)) {
      *object = static_cast<ISearchCompletedCallback*>(this);
      AddRef();
      return S_OK;
    }
    *object = nullptr;
    return E_NOINTERFACE;
  }
  ULONG STDMETHODCALLTYPE AddRef() override { return ++references_; }
  ULONG STDMETHODCALLTYPE Release() override {
    const ULONG left = --references_;
    if (left == 0) {
      delete this;
    }
    return left;
  }
  HRESULT STDMETHODCALLTYPE Invoke(ISearchJob*, ISearchCompletedCallbackArgs*) override {
    ::SetEvent(done_.get());
    return S_OK;
  }

 private:
  ~SearchCompleted() = default;  // only Release deletes

  std::atomic<ULONG> references_{1};
  UniqueHandle done_;
};

struct SearchOutcome {
  std::vector<PendingUpdate> pending;
  LONG history_count = -1;
  std::string error;  // "" when the search worked
};

bool IsSecurityUpdate(IUpdate* update) {
  UniqueBstr severity;
  if (SUCCEEDED(update->get_MsrcSeverity(severity.Put())) && !severity.view().empty()) {
    return true;  // Critical / Important / Moderate / Low: rated by the security response centre
  }
  ComPtr<ICategoryCollection> categories;
  LONG count = 0;
  if (FAILED(update->get_Categories(categories.Put())) || !categories ||
      FAILED(categories->get_Count(&count))) {
    return false;
  }
  for (LONG i = 0; i < count; ++i) {
    ComPtr<ICategory> category;
    UniqueBstr id;
    UniqueBstr name;
    if (FAILED(categories->get_Item(i, category.Put())) || !category) {
      continue;
    }
    if ((SUCCEEDED(category->get_CategoryID(id.Put())) &&
         Lower(Text(id)) == kSecurityUpdatesCategory) ||
        (SUCCEEDED(category->get_Name(name.Put())) && Text(name) == "Security Updates")) {
      return true;
    }
  }
  return false;
}

PendingUpdate Describe(IUpdate* update) {
  PendingUpdate pending;
  UniqueBstr title;
  if (SUCCEEDED(update->get_Title(title.Put()))) {
    pending.title = Text(title);
  }
  ComPtr<IStringCollection> articles;
  LONG count = 0;
  if (SUCCEEDED(update->get_KBArticleIDs(articles.Put())) && articles &&
      SUCCEEDED(articles->get_Count(&count)) && count > 0) {
    UniqueBstr article;
    if (SUCCEEDED(articles->get_Item(0, article.Put())) && !article.view().empty()) {
      pending.kb = "KB" + Text(article);
    }
  }
  pending.security = IsSecurityUpdate(update);
  return pending;
}

// One search, abortable: BeginSearch, then wait for its callback or for `stop`.
SearchOutcome Search(HANDLE stop) {
  SearchOutcome outcome;
  const auto failed = [&outcome](const char* step, HRESULT result) {
    outcome.error = std::string("Windows Update ") + step + " failed: " + DescribeHresult(result);
    return outcome;
  };
  ComPtr<IUpdateSession> session;
  HRESULT result = ::CoCreateInstance(kUpdateSessionClsid, nullptr, CLSCTX_INPROC_SERVER,
                                      __uuidof(IUpdateSession), session.PutVoid());
  if (FAILED(result)) {
    return failed("session", result);
  }
  const UniqueBstr application(L"dozor-agent");
  session->put_ClientApplicationID(application.get());  // shown in WindowsUpdate.log
  ComPtr<IUpdateSearcher> searcher;
  result = session->CreateUpdateSearcher(searcher.Put());
  if (FAILED(result)) {
    return failed("searcher", result);
  }
  searcher->GetTotalHistoryCount(&outcome.history_count);

  ComPtr<SearchCompleted> callback = ComPtr<SearchCompleted>::Adopt(new SearchCompleted());
  const UniqueBstr criteria(kSearchCriteria);
  if (callback->done() == nullptr || criteria.get() == nullptr) {
    return failed("search", E_OUTOFMEMORY);
  }
  const UniqueVariant no_state;
  ComPtr<ISearchJob> job;
  result = searcher->BeginSearch(criteria.get(), callback.get(), no_state.get(), job.Put());
  if (FAILED(result)) {
    return failed("search", result);
  }
  const HANDLE events[] = {stop, callback->done()};
  const DWORD woke = ::WaitForMultipleObjects(2, events, FALSE, kSearchTimeoutMs);
  if (woke != WAIT_OBJECT_0 + 1) {
    // Stopping, or a search past an hour: abort it. CleanUp waits for the abort to take effect.
    job->RequestAbort();
    job->CleanUp();
    outcome.error = woke == WAIT_OBJECT_0 ? "Windows Update search aborted: the agent is stopping"
                                          : "Windows Update search took longer than an hour";
    return outcome;
  }
  ComPtr<ISearchResult> found;
  result = searcher->EndSearch(job.get(), found.Put());
  job->CleanUp();
  if (FAILED(result)) {
    return failed("search", result);
  }
  OperationResultCode code = orcNotStarted;
  found->get_ResultCode(&code);
  if (code != orcSucceeded && code != orcSucceededWithErrors) {
    outcome.error =
        "Windows Update search ended with result code " + std::to_string(static_cast<int>(code));
    return outcome;
  }
  ComPtr<IUpdateCollection> updates;
  LONG count = 0;
  if (FAILED(found->get_Updates(updates.Put())) || !updates || FAILED(updates->get_Count(&count))) {
    outcome.error = "Windows Update search returned no update list";
    return outcome;
  }
  count = std::min(count, kMaxPendingUpdates);
  outcome.pending.reserve(static_cast<size_t>(std::max<LONG>(count, 0)));
  for (LONG i = 0; i < count; ++i) {
    ComPtr<IUpdate> update;
    if (SUCCEEDED(updates->get_Item(i, update.Put())) && update) {
      outcome.pending.push_back(Describe(update.get()));
    }
  }
  return outcome;
}

// The last successful installation (Automatic Updates' own record), Unix seconds; 0 unknown.
int64_t LastInstallSuccess() {
  ComPtr<IAutomaticUpdates2> automatic;
  ComPtr<IAutomaticUpdatesResults> results;
  UniqueVariant date;
  if (FAILED(::CoCreateInstance(kAutomaticUpdatesClsid, nullptr, CLSCTX_ALL,
                                __uuidof(IAutomaticUpdates2), automatic.PutVoid())) ||
      FAILED(automatic->get_Results(results.Put())) || !results ||
      FAILED(results->get_LastInstallationSuccessDate(date.Put()))) {
    return 0;
  }
  // VT_EMPTY when no installation ever succeeded; the DATE is in UTC.
  if (date.get().vt != VT_DATE || date.get().date <= kUnixEpochAsDate) {
    return 0;
  }
  return static_cast<int64_t>(std::llround((date.get().date - kUnixEpochAsDate) * 86400.0));
}

LONG HistoryCount() {
  ComPtr<IUpdateSession> session;
  ComPtr<IUpdateSearcher> searcher;
  LONG count = -1;
  if (SUCCEEDED(::CoCreateInstance(kUpdateSessionClsid, nullptr, CLSCTX_INPROC_SERVER,
                                   __uuidof(IUpdateSession), session.PutVoid())) &&
      SUCCEEDED(session->CreateUpdateSearcher(searcher.Put())) && searcher) {
    searcher->GetTotalHistoryCount(&count);
  }
  return count;
}

// What the worker and the readers share. Owned jointly (shared_ptr) by the monitor and the
// worker thread, so a worker abandoned at exit still has valid memory until the process ends.
struct UpdateCache {
  std::mutex mutex;
  std::condition_variable worker_ended;
  UpdateState state;
  bool searched = false;  // the first search has ended (well or not)
  bool ended = false;     // the worker has returned
  UniqueHandle stop;      // manual-reset: asks the worker to end
};

void Publish(UpdateCache& cache, SearchOutcome outcome, int64_t last_install) {
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (outcome.error.empty()) {
    cache.state.pending = std::move(outcome.pending);
    cache.state.last_search_success = UnixNow();
  }
  // A failed search keeps the previous pending list (and its time); the error says it is stale.
  cache.state.error = std::move(outcome.error);
  if (last_install > 0) {
    cache.state.last_install_success = last_install;
  }
  cache.searched = true;
}

void RunWorker(const std::shared_ptr<UpdateCache>& cache) {
  const ComApartment apartment;
  if (!apartment.usable()) {
    SearchOutcome outcome;
    outcome.error = "COM could not be initialised (" + HresultText(apartment.result()) + ")";
    Publish(*cache, std::move(outcome), 0);
    return;
  }
  platform::EnsureComSecurity();
  LONG searched_history = -1;
  ULONGLONG last_search = 0;
  bool first = true;
  bool last_failed = false;
  while (true) {
    const ULONGLONG now = ::GetTickCount64();
    bool due = first || now - last_search >= (last_failed ? kRetryFailedAfterMs : kRefreshEveryMs);
    if (!due) {
      const LONG history = HistoryCount();
      due = history >= 0 && history != searched_history;
    }
    if (due) {
      SearchOutcome outcome = Search(cache->stop.get());
      const LONG history = outcome.history_count;
      last_failed = !outcome.error.empty();
      Publish(*cache, std::move(outcome), LastInstallSuccess());
      searched_history = history;
      last_search = ::GetTickCount64();
      first = false;
      // The update agent's in-process objects are large and idle for hours: let COM unload them.
      ::CoFreeUnusedLibrariesEx(0, 0);
    }
    if (::WaitForSingleObject(cache->stop.get(), kCheckEveryMs) != WAIT_TIMEOUT) {
      break;
    }
  }
}

// The process-wide cache and its worker thread. A function-local static: destroyed at exit,
// which stops the worker (aborting a running search) and joins it. If the worker does not end
// within kStopWait (an update agent call that ignores the abort), it is detached rather than
// holding the exit: it owns its share of the cache, and the process's end stops it.
class UpdateMonitor {
 public:
  static UpdateMonitor& Instance() {
    static UpdateMonitor monitor;
    return monitor;
  }

  ~UpdateMonitor() {
    if (!worker_.joinable()) {
      return;
    }
    ::SetEvent(cache_->stop.get());
    std::unique_lock<std::mutex> lock(cache_->mutex);
    const bool ended =
        cache_->worker_ended.wait_for(lock, kStopWait, [this] { return cache_->ended; });
    lock.unlock();
    if (ended) {
      worker_.join();
    } else {
      worker_.detach();
    }
  }
  UpdateMonitor(const UpdateMonitor&) = delete;
  UpdateMonitor& operator=(const UpdateMonitor&) = delete;

  Result<UpdateState> Read() {
    if (Status started = EnsureStarted(); !started.ok()) {
      return started.error();
    }
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (!cache_->searched) {
      return MakeError(ErrorCode::kUnavailable, "the first Windows Update search has not finished");
    }
    return cache_->state;
  }

  void Compact() {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    for (PendingUpdate& update : cache_->state.pending) {
      std::string().swap(update.title);
      std::string().swap(update.kb);
    }
  }

 private:
  UpdateMonitor() : cache_(std::make_shared<UpdateCache>()) {}

  Status EnsureStarted() {
    std::lock_guard<std::mutex> lock(start_mutex_);
    if (worker_.joinable()) {
      return OkStatus();
    }
    if (!cache_->stop.valid()) {
      cache_->stop.Reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
      if (!cache_->stop.valid()) {
        return MakeError(ErrorCode::kUnavailable, "Windows Update: cannot create an event: " +
                                                      WindowsErrorMessage(::GetLastError()));
      }
    }
    try {
      worker_ = std::thread([cache = cache_] {
        // Nothing may leave a thread's function (std::terminate): a failure becomes the error
        // the readers see.
        try {
          RunWorker(cache);
        } catch (const std::exception& e) {
          try {
            SearchOutcome outcome;
            outcome.error = std::string("Windows Update worker failed: ") + e.what();
            Publish(*cache, std::move(outcome), 0);
          } catch (...) {
          }
        } catch (...) {
        }
        std::lock_guard<std::mutex> lock(cache->mutex);
        cache->ended = true;
        cache->worker_ended.notify_all();
      });
    } catch (const std::system_error& e) {
      return MakeError(ErrorCode::kUnavailable,
                       std::string("Windows Update: cannot start its thread: ") + e.what());
    }
    return OkStatus();
  }

  std::mutex start_mutex_;
  std::shared_ptr<UpdateCache> cache_;
  std::thread worker_;
};

// NetApiBufferFree on scope exit.
template <typename T>
class NetBuffer {
 public:
  NetBuffer() = default;
  ~NetBuffer() {
    if (buffer_ != nullptr) {
      ::NetApiBufferFree(buffer_);
    }
  }
  NetBuffer(const NetBuffer&) = delete;
  NetBuffer& operator=(const NetBuffer&) = delete;
  [[nodiscard]] LPBYTE* Put() { return reinterpret_cast<LPBYTE*>(&buffer_); }
  T* operator->() const { return buffer_; }

 private:
  T* buffer_ = nullptr;
};

// NERR_* codes (2100-2999) live in netmsg.dll, which FormatMessage does not search by itself:
// name the code and how to read it instead of "Windows error".
std::string NetApiMessage(NET_API_STATUS status) {
  if (status >= NERR_BASE && status <= MAX_NERR) {
    return "network management error " + std::to_string(status) + " (`net helpmsg " +
           std::to_string(status) + "` explains it)";
  }
  return WindowsErrorMessage(status);
}

int32_t ClampToInt32(DWORD value) {
  return static_cast<int32_t>(std::min<DWORD>(value, std::numeric_limits<int32_t>::max()));
}

}  // namespace

Result<AccountPolicy> Win32System::ReadAccountPolicy() {
  NetBuffer<USER_MODALS_INFO_0> passwords;
  const NET_API_STATUS status = ::NetUserModalsGet(nullptr, 0, passwords.Put());
  if (status != NERR_Success) {
    return MakeError(
        status == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
        "account policy (NetUserModalsGet): " + NetApiMessage(status));
  }
  AccountPolicy policy;
  policy.min_password_length = ClampToInt32(passwords->usrmod0_min_passwd_len);
  constexpr DWORD kSecondsPerDay = 86400;
  policy.max_password_age_days =
      passwords->usrmod0_max_passwd_age == TIMEQ_FOREVER
          ? 0
          : ClampToInt32(passwords->usrmod0_max_passwd_age / kSecondsPerDay);
  NetBuffer<USER_MODALS_INFO_3> lockout;
  if (::NetUserModalsGet(nullptr, 3, lockout.Put()) == NERR_Success) {
    policy.lockout_threshold = ClampToInt32(lockout->usrmod3_lockout_threshold);
  }
  // password_complexity stays -1: NetUserModalsGet does not expose it. It is a flag of the SAM
  // domain's password properties (DOMAIN_PASSWORD_COMPLEX), readable only through the
  // undocumented SAM API or `secedit /export`, which a capture records instead.
  return policy;
}

Result<UpdateState> Win32System::ReadUpdateState() {
  try {
    return UpdateMonitor::Instance().Read();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("Windows Update: ") + e.what());
  }
}

void CompactWindowsUpdateCache() { UpdateMonitor::Instance().Compact(); }

}  // namespace dozor::agent::windows
