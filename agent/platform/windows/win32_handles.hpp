// Owners for the Win32 and COM resources the Windows layer holds: kernel handles, COM interface
// pointers, BSTRs, VARIANTs and a thread's membership of a COM apartment. MinGW has neither WRL
// nor ATL, hence these; each releases exactly what it owns, once, so no early return leaks.
//
// This header includes <windows.h> and the COM headers: include it after the project headers
// (their macros `interface` and `DUPLICATE` break the generated dozor/v1/agent.pb.h).
// None of these is thread-safe; each is owned by one scope.
#pragma once

#include <windows.h>

#include <objbase.h>
#include <oleauto.h>

#include <mutex>
#include <string_view>
#include <utility>

namespace dozor::agent::platform {

// A kernel handle (file, process, thread, event, job, pipe), closed by the destructor. Win32
// returns "no handle" as null from some functions and INVALID_HANDLE_VALUE from others: both
// count as empty.
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(HANDLE handle) : handle_(handle) {}
  ~UniqueHandle() { Reset(); }
  UniqueHandle(UniqueHandle&& other) noexcept : handle_(other.Release()) {}
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) {
      Reset(other.Release());
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;

  [[nodiscard]] bool valid() const { return handle_ != nullptr && handle_ != INVALID_HANDLE_VALUE; }
  [[nodiscard]] HANDLE get() const { return handle_; }
  // For a function that returns a handle through a pointer: closes the current one first.
  [[nodiscard]] HANDLE* Put() {
    Reset();
    return &handle_;
  }
  [[nodiscard]] HANDLE Release() { return std::exchange(handle_, nullptr); }
  void Reset(HANDLE handle = nullptr) {
    if (valid()) {
      ::CloseHandle(handle_);
    }
    handle_ = handle;
  }

 private:
  HANDLE handle_ = nullptr;
};

// A handle of the service control manager or of one service (OpenSCManagerW, OpenServiceW,
// CreateServiceW), closed with CloseServiceHandle.
class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE handle) : handle_(handle) {}
  ~ScHandle() {
    if (handle_ != nullptr) {
      ::CloseServiceHandle(handle_);
    }
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;

  [[nodiscard]] bool valid() const { return handle_ != nullptr; }
  [[nodiscard]] SC_HANDLE get() const { return handle_; }

 private:
  SC_HANDLE handle_ = nullptr;
};

// A counted reference to a COM interface: AddRef on copy, Release on destruction.
template <typename T>
class ComPtr {
 public:
  ComPtr() = default;
  ~ComPtr() { Reset(); }
  ComPtr(const ComPtr& other) : pointer_(other.pointer_) {
    if (pointer_ != nullptr) {
      pointer_->AddRef();
    }
  }
  ComPtr(ComPtr&& other) noexcept : pointer_(std::exchange(other.pointer_, nullptr)) {}
  ComPtr& operator=(ComPtr other) noexcept {
    std::swap(pointer_, other.pointer_);
    return *this;
  }

  // Takes over a reference the caller owns (an object it just created with a count of one).
  [[nodiscard]] static ComPtr Adopt(T* pointer) {
    ComPtr owned;
    owned.pointer_ = pointer;
    return owned;
  }

  [[nodiscard]] T* get() const { return pointer_; }
  T* operator->() const { return pointer_; }
  explicit operator bool() const { return pointer_ != nullptr; }

  // For an out-parameter (CoCreateInstance, a getter): releases what it holds first.
  [[nodiscard]] T** Put() {
    Reset();
    return &pointer_;
  }
  [[nodiscard]] void** PutVoid() {
    Reset();
    return reinterpret_cast<void**>(&pointer_);
  }
  void Reset() {
    if (pointer_ != nullptr) {
      std::exchange(pointer_, nullptr)->Release();
    }
  }

  // QueryInterface for U (its IID from MinGW's __uuidof); an HRESULT like QueryInterface's.
  template <typename U>
  [[nodiscard]] HRESULT As(ComPtr<U>* out) const {
    if (pointer_ == nullptr) {
      return E_POINTER;
    }
    return pointer_->QueryInterface(__uuidof(U), out->PutVoid());
  }

 private:
  T* pointer_ = nullptr;
};

// A BSTR, freed with SysFreeString. A null BSTR is the empty string, as COM defines it.
class UniqueBstr {
 public:
  UniqueBstr() = default;
  // SysAllocString; get() is null when memory ran out (callers check before passing it on).
  explicit UniqueBstr(const wchar_t* text) : bstr_(::SysAllocString(text)) {}
  ~UniqueBstr() { ::SysFreeString(bstr_); }
  UniqueBstr(const UniqueBstr&) = delete;
  UniqueBstr& operator=(const UniqueBstr&) = delete;

  [[nodiscard]] BSTR get() const { return bstr_; }
  [[nodiscard]] BSTR* Put() {
    ::SysFreeString(bstr_);
    bstr_ = nullptr;
    return &bstr_;
  }
  [[nodiscard]] std::wstring_view view() const {
    return bstr_ == nullptr ? std::wstring_view() : std::wstring_view(bstr_, ::SysStringLen(bstr_));
  }

 private:
  BSTR bstr_ = nullptr;
};

// A VARIANT, cleared with VariantClear (which frees its BSTR, array or interface).
class UniqueVariant {
 public:
  UniqueVariant() { ::VariantInit(&value_); }
  ~UniqueVariant() { ::VariantClear(&value_); }
  UniqueVariant(const UniqueVariant&) = delete;
  UniqueVariant& operator=(const UniqueVariant&) = delete;

  [[nodiscard]] const VARIANT& get() const { return value_; }
  [[nodiscard]] VARIANT* Put() {
    ::VariantClear(&value_);
    return &value_;
  }

 private:
  VARIANT value_;
};

// The calling thread's membership of COM's multithreaded apartment for this object's lifetime
// (CoInitializeEx / CoUninitialize, balanced). Construct and destroy it on the same thread, and
// release every COM object obtained meanwhile before it goes. A thread already in a
// single-threaded apartment stays there (RPC_E_CHANGED_MODE): COM works there as well, and that
// apartment belongs to whoever entered it.
class ComApartment {
 public:
  ComApartment() : result_(::CoInitializeEx(nullptr, COINIT_MULTITHREADED)) {}
  ~ComApartment() {
    if (SUCCEEDED(result_)) {
      ::CoUninitialize();
    }
  }
  ComApartment(const ComApartment&) = delete;
  ComApartment& operator=(const ComApartment&) = delete;

  [[nodiscard]] bool usable() const { return SUCCEEDED(result_) || result_ == RPC_E_CHANGED_MODE; }
  [[nodiscard]] HRESULT result() const { return result_; }

 private:
  HRESULT result_;
};

// The process's COM security, set once by whichever COM user comes first (WMI, the update agent),
// on a thread that has joined an apartment. WMI providers refuse callers that do not allow
// impersonation (COM's default is identify-only). RPC_E_TOO_LATE when something else set it
// first: each WMI proxy then still gets its blanket (CoSetProxyBlanket).
inline void EnsureComSecurity() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::CoInitializeSecurity(nullptr, -1, nullptr, nullptr, RPC_C_AUTHN_LEVEL_DEFAULT,
                           RPC_C_IMP_LEVEL_IMPERSONATE, nullptr, EOAC_NONE, nullptr);
  });
}

}  // namespace dozor::agent::platform
