// The facts only Win32 APIs and the Windows Update Agent give, as a SystemSource
// (collectors/windows_model/sources.hpp): the local account policy (NetUserModalsGet) and the
// update state.
//
// The update agent's search takes seconds to many minutes (it may go to Microsoft Update or the
// WSUS server), far longer than an inventory may. So one process-wide background thread, started
// by the first ReadUpdateState, searches and keeps the answer; readers get a copy at once. The
// search is repeated when the update history grows (an installation happened) and every six
// hours, and is aborted at process exit.
#pragma once

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

// Holds nothing itself (the update cache is process-wide); safe to use from several threads.
class Win32System final : public SystemSource {
 public:
  // The local SAM's policy. On a domain member, domain accounts follow the domain's policy
  // instead, which only a domain controller answers for.
  [[nodiscard]] Result<AccountPolicy> ReadAccountPolicy() override;
  // kUnavailable "the first Windows Update search has not finished" until it has; afterwards the
  // last search's answer, with UpdateState::error set when the latest one failed.
  [[nodiscard]] Result<UpdateState> ReadUpdateState() override;
};

// Frees the titles and KB numbers the update cache holds (the self-limits' cache shedding,
// collectors/caches.hpp). The counts the inventory reports stay right; titles come back with the
// next search. Never waits for a running search.
void CompactWindowsUpdateCache();

}  // namespace dozor::agent::windows
