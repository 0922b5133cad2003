#include "collectors/windows/wmi_source_windows.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <utility>

#include "dozor/common/text.hpp"
#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h>'s macros break the generated agent.pb.h.
#include "platform/windows/win32_handles.hpp"

#include <wbemidl.h>

namespace dozor::agent::windows {
namespace {

using platform::ComApartment;
using platform::ComPtr;
using platform::HresultText;
using platform::Narrow;
using platform::UniqueBstr;
using platform::UniqueVariant;
using platform::Widen;

// Instances asked of the enumerator at a time: fewer round trips than one by one.
constexpr ULONG kBatch = 32;

bool IsWmiName(std::string_view name, bool allow_separators) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || (allow_separators && (c == '/' || c == '\\'));
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool Is(HRESULT result, long wbem_status) { return result == static_cast<HRESULT>(wbem_status); }

Error WmiError(std::string_view wmi_namespace, std::string_view class_name, const char* step,
               HRESULT result) {
  const std::string what = std::string(wmi_namespace) + ":" + std::string(class_name);
  if (Is(result, WBEM_E_INVALID_NAMESPACE) || Is(result, WBEM_E_INVALID_CLASS) ||
      Is(result, WBEM_E_NOT_FOUND)) {
    return MakeError(ErrorCode::kNotFound, what + " does not exist (" + HresultText(result) + ")");
  }
  if (Is(result, WBEM_E_ACCESS_DENIED) || result == E_ACCESSDENIED) {
    return MakeError(ErrorCode::kPermissionDenied,
                     what + ": access denied (" + HresultText(result) + ")");
  }
  return MakeError(ErrorCode::kUnavailable,
                   what + ": WMI " + step + " failed (" + HresultText(result) + ")");
}

// CIM_UINT32 travels as VT_I4 (and CIM_UINT64 as a BSTR): the CIM type says how to read it.
nlohmann::json SignedOrUnsigned(int64_t value, CIMTYPE cim_type) {
  if (cim_type == CIM_UINT32) {
    return static_cast<uint32_t>(value);
  }
  if (cim_type == CIM_UINT16 || cim_type == CIM_CHAR16) {
    return static_cast<uint16_t>(value);
  }
  return value;
}

nlohmann::json ScalarToJson(VARTYPE type, const void* data, CIMTYPE cim_type);

nlohmann::json VariantToJson(const VARIANT& value, CIMTYPE cim_type);

template <typename T>
nlohmann::json ArrayElements(const void* data, LONG count, VARTYPE type, CIMTYPE cim_type) {
  nlohmann::json items = nlohmann::json::array();
  const T* elements = static_cast<const T*>(data);
  for (LONG i = 0; i < count; ++i) {
    items.push_back(ScalarToJson(type, &elements[i], cim_type));
  }
  return items;
}

// A one-dimensional SAFEARRAY (uint8[] VendorSpecific, string[] IPAddress, uint16[] ...).
nlohmann::json ArrayToJson(SAFEARRAY* array, VARTYPE type, CIMTYPE cim_type) {
  if (array == nullptr || ::SafeArrayGetDim(array) != 1) {
    return nullptr;
  }
  LONG lower = 0;
  LONG upper = -1;
  if (FAILED(::SafeArrayGetLBound(array, 1, &lower)) ||
      FAILED(::SafeArrayGetUBound(array, 1, &upper))) {
    return nullptr;
  }
  const LONG count = upper >= lower ? upper - lower + 1 : 0;
  void* data = nullptr;
  if (FAILED(::SafeArrayAccessData(array, &data))) {
    return nullptr;
  }
  nlohmann::json items;
  try {
    switch (type) {
      case VT_BSTR:
        items = ArrayElements<BSTR>(data, count, type, cim_type);
        break;
      case VT_BOOL:
        items = ArrayElements<VARIANT_BOOL>(data, count, type, cim_type);
        break;
      case VT_I1:
        items = ArrayElements<CHAR>(data, count, type, cim_type);
        break;
      case VT_UI1:
        items = ArrayElements<BYTE>(data, count, type, cim_type);
        break;
      case VT_I2:
        items = ArrayElements<SHORT>(data, count, type, cim_type);
        break;
      case VT_UI2:
        items = ArrayElements<USHORT>(data, count, type, cim_type);
        break;
      case VT_I4:
        items = ArrayElements<LONG>(data, count, type, cim_type);
        break;
      case VT_UI4:
        items = ArrayElements<ULONG>(data, count, type, cim_type);
        break;
      case VT_INT:
        items = ArrayElements<INT>(data, count, type, cim_type);
        break;
      case VT_UINT:
        items = ArrayElements<UINT>(data, count, type, cim_type);
        break;
      case VT_I8:
        items = ArrayElements<LONGLONG>(data, count, type, cim_type);
        break;
      case VT_UI8:
        items = ArrayElements<ULONGLONG>(data, count, type, cim_type);
        break;
      case VT_R4:
        items = ArrayElements<FLOAT>(data, count, type, cim_type);
        break;
      case VT_R8:
        items = ArrayElements<DOUBLE>(data, count, type, cim_type);
        break;
      case VT_VARIANT: {
        items = nlohmann::json::array();
        const auto* elements = static_cast<const VARIANT*>(data);
        for (LONG i = 0; i < count; ++i) {
          items.push_back(VariantToJson(elements[i], cim_type));
        }
        break;
      }
      default:
        items = nullptr;  // arrays of embedded objects: no builder reads them
        break;
    }
  } catch (...) {
    ::SafeArrayUnaccessData(array);
    throw;
  }
  ::SafeArrayUnaccessData(array);
  return items;
}

// One value of VARIANT type `type` stored at `data` (a VARIANT's union or an array element).
nlohmann::json ScalarToJson(VARTYPE type, const void* data, CIMTYPE cim_type) {
  switch (type) {
    case VT_BSTR: {
      const BSTR text = *static_cast<const BSTR*>(data);
      return text == nullptr ? std::string()
                             : Narrow(std::wstring_view(text, ::SysStringLen(text)));
    }
    case VT_BOOL:
      return *static_cast<const VARIANT_BOOL*>(data) != VARIANT_FALSE;
    case VT_I1:
      return static_cast<int64_t>(*static_cast<const CHAR*>(data));
    case VT_UI1:
      return static_cast<uint64_t>(*static_cast<const BYTE*>(data));
    case VT_I2:
      return SignedOrUnsigned(*static_cast<const SHORT*>(data), cim_type);
    case VT_UI2:
      return static_cast<uint64_t>(*static_cast<const USHORT*>(data));
    case VT_I4:
      return SignedOrUnsigned(*static_cast<const LONG*>(data), cim_type);
    case VT_UI4:
      return static_cast<uint64_t>(*static_cast<const ULONG*>(data));
    case VT_INT:
      return SignedOrUnsigned(*static_cast<const INT*>(data), cim_type);
    case VT_UINT:
      return static_cast<uint64_t>(*static_cast<const UINT*>(data));
    case VT_I8:
      return static_cast<int64_t>(*static_cast<const LONGLONG*>(data));
    case VT_UI8:
      return static_cast<uint64_t>(*static_cast<const ULONGLONG*>(data));
    case VT_R4:
      return static_cast<double>(*static_cast<const FLOAT*>(data));
    case VT_R8:
      return *static_cast<const DOUBLE*>(data);
    default:
      return nullptr;  // VT_UNKNOWN (embedded objects), VT_DATE: not used by WMI's classes here
  }
}

nlohmann::json VariantToJson(const VARIANT& value, CIMTYPE cim_type) {
  const CIMTYPE element_type = cim_type & ~CIM_FLAG_ARRAY;
  if ((value.vt & VT_ARRAY) != 0) {
    const SAFEARRAY* array = (value.vt & VT_BYREF) != 0 ? *value.pparray : value.parray;
    return ArrayToJson(const_cast<SAFEARRAY*>(array), value.vt & VT_TYPEMASK, element_type);
  }
  switch (value.vt) {
    case VT_EMPTY:
    case VT_NULL:
      return nullptr;
    case VT_BSTR:
      return ScalarToJson(VT_BSTR, &value.bstrVal, element_type);
    case VT_BOOL:
      return ScalarToJson(VT_BOOL, &value.boolVal, element_type);
    case VT_I1:
      return ScalarToJson(VT_I1, &value.cVal, element_type);
    case VT_UI1:
      return ScalarToJson(VT_UI1, &value.bVal, element_type);
    case VT_I2:
      return ScalarToJson(VT_I2, &value.iVal, element_type);
    case VT_UI2:
      return ScalarToJson(VT_UI2, &value.uiVal, element_type);
    case VT_I4:
      return ScalarToJson(VT_I4, &value.lVal, element_type);
    case VT_UI4:
      return ScalarToJson(VT_UI4, &value.ulVal, element_type);
    case VT_INT:
      return ScalarToJson(VT_INT, &value.intVal, element_type);
    case VT_UINT:
      return ScalarToJson(VT_UINT, &value.uintVal, element_type);
    case VT_I8:
      return ScalarToJson(VT_I8, &value.llVal, element_type);
    case VT_UI8:
      return ScalarToJson(VT_UI8, &value.ullVal, element_type);
    case VT_R4:
      return ScalarToJson(VT_R4, &value.fltVal, element_type);
    case VT_R8:
      return ScalarToJson(VT_R8, &value.dblVal, element_type);
    default:
      return nullptr;
  }
}

struct Property {
  std::string name;
  std::wstring wide_name;
};

CimInstance ToInstance(IWbemClassObject* object, const std::vector<Property>& properties) {
  CimInstance instance = nlohmann::json::object();
  for (const Property& property : properties) {
    UniqueVariant value;
    CIMTYPE cim_type = CIM_EMPTY;
    // WBEM_E_NOT_FOUND: this class (on this Windows version) has no such property; the builders
    // treat it as absent, as in a capture that lacks it.
    if (SUCCEEDED(object->Get(property.wide_name.c_str(), 0, value.Put(), &cim_type, nullptr))) {
      instance[property.name] = VariantToJson(value.get(), cim_type);
    }
  }
  return instance;
}

}  // namespace

struct WmiCimSource::Com {
  // Declared first, so destroyed last: every COM object below is released inside the apartment.
  ComApartment apartment;
  ComPtr<IWbemLocator> locator;
  std::map<std::string, ComPtr<IWbemServices>> services;  // by lower-cased namespace
};

WmiCimSource::WmiCimSource() : WmiCimSource(Limits{}) {}

WmiCimSource::WmiCimSource(Limits limits) : limits_(limits), com_(std::make_unique<Com>()) {
  if (com_->apartment.usable()) {
    platform::EnsureComSecurity();
  }
}

WmiCimSource::~WmiCimSource() = default;

Result<std::vector<CimInstance>> WmiCimSource::Instances(
    std::string_view wmi_namespace, std::string_view class_name,
    const std::vector<std::string>& properties, const std::vector<CimCondition>& conditions) {
  if (!IsWmiName(wmi_namespace, /*allow_separators=*/true) ||
      !IsWmiName(class_name, /*allow_separators=*/false)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a WMI namespace and class: " + std::string(wmi_namespace) + ":" +
                         std::string(class_name));
  }
  // WHERE a = TRUE AND b = "text": names checked like the class's, strings quoted with \ and "
  // escaped, so no value can change the query.
  std::wstring where;
  for (const CimCondition& condition : conditions) {
    if (!IsWmiName(condition.property, /*allow_separators=*/false)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "not a WMI property name: " + condition.property);
    }
    where += where.empty() ? L" WHERE " : L" AND ";
    where += Widen(condition.property) + L" = ";
    if (const bool* flag = std::get_if<bool>(&condition.value)) {
      where += *flag ? L"TRUE" : L"FALSE";
    } else {
      where += L'"';
      for (wchar_t c : Widen(std::get<std::string>(condition.value))) {
        if (c == L'"' || c == L'\\') where += L'\\';
        where += c;
      }
      where += L'"';
    }
  }
  if (!com_->apartment.usable()) {
    return MakeError(ErrorCode::kUnavailable, "COM could not be initialised (" +
                                                  HresultText(com_->apartment.result()) + ")");
  }
  try {
    // A connection per namespace, kept for the source's lifetime (a collector run).
    const std::string key = Lower(wmi_namespace);
    auto cached = com_->services.find(key);
    if (cached == com_->services.end()) {
      if (!com_->locator) {
        const HRESULT created = ::CoCreateInstance(CLSID_WbemLocator, nullptr, CLSCTX_INPROC_SERVER,
                                                   IID_IWbemLocator, com_->locator.PutVoid());
        if (FAILED(created)) {
          return WmiError(wmi_namespace, class_name, "locator", created);
        }
      }
      std::wstring path = Widen(wmi_namespace);
      for (wchar_t& c : path) {
        c = c == L'/' ? L'\\' : c;
      }
      const UniqueBstr resource(path.c_str());
      if (resource.get() == nullptr) {
        return MakeError(ErrorCode::kResourceExhausted, "out of memory");
      }
      ComPtr<IWbemServices> services;
      // WBEM_FLAG_CONNECT_USE_MAX_WAIT: ConnectServer gives up after two minutes instead of
      // waiting forever on a stuck WMI service.
      HRESULT result = com_->locator->ConnectServer(resource.get(), nullptr, nullptr, nullptr,
                                                    WBEM_FLAG_CONNECT_USE_MAX_WAIT, nullptr,
                                                    nullptr, services.Put());
      if (FAILED(result)) {
        return WmiError(wmi_namespace, class_name, "connect", result);
      }
      result = ::CoSetProxyBlanket(services.get(), RPC_C_AUTHN_WINNT, RPC_C_AUTHZ_NONE, nullptr,
                                   RPC_C_AUTHN_LEVEL_CALL, RPC_C_IMP_LEVEL_IMPERSONATE, nullptr,
                                   EOAC_NONE);
      if (FAILED(result)) {
        return WmiError(wmi_namespace, class_name, "proxy security", result);
      }
      cached = com_->services.emplace(key, std::move(services)).first;
    }
    IWbemServices* services = cached->second.get();

    const std::wstring query = L"SELECT * FROM " + Widen(class_name) + where;
    const UniqueBstr language(L"WQL");
    const UniqueBstr query_text(query.c_str());
    if (language.get() == nullptr || query_text.get() == nullptr) {
      return MakeError(ErrorCode::kResourceExhausted, "out of memory");
    }
    ComPtr<IEnumWbemClassObject> enumerator;
    HRESULT result = services->ExecQuery(language.get(), query_text.get(),
                                         WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY,
                                         nullptr, enumerator.Put());
    if (FAILED(result)) {
      Error error = WmiError(wmi_namespace, class_name, "query", result);
      if (error.code == ErrorCode::kUnavailable) {
        com_->services.erase(cached);  // a restarted WMI service: reconnect next time
      }
      return error;
    }
    // The enumerator is a proxy of its own when WMI runs out of process; without the blanket
    // some providers refuse Next. In-process it is not a proxy (E_NOINTERFACE): fine.
    ::CoSetProxyBlanket(enumerator.get(), RPC_C_AUTHN_WINNT, RPC_C_AUTHZ_NONE, nullptr,
                        RPC_C_AUTHN_LEVEL_CALL, RPC_C_IMP_LEVEL_IMPERSONATE, nullptr, EOAC_NONE);

    std::vector<Property> wanted;
    wanted.reserve(properties.size());
    for (const std::string& name : properties) {
      wanted.push_back({name, Widen(name)});
    }
    std::vector<CimInstance> instances;
    const ULONGLONG deadline =
        ::GetTickCount64() + static_cast<ULONGLONG>(limits_.query_timeout_ms);
    while (true) {
      const ULONGLONG now = ::GetTickCount64();
      if (now >= deadline) {
        return MakeError(ErrorCode::kUnavailable,
                         std::string(wmi_namespace) + ":" + std::string(class_name) +
                             ": WMI did not finish within " +
                             std::to_string(limits_.query_timeout_ms) + " ms");
      }
      const long timeout = static_cast<long>(
          std::min<ULONGLONG>(static_cast<ULONGLONG>(limits_.next_timeout_ms), deadline - now));
      std::array<IWbemClassObject*, kBatch> batch = {};
      ULONG returned = 0;
      result = enumerator->Next(timeout, kBatch, batch.data(), &returned);
      // Owned at once, so every return below releases them.
      std::array<ComPtr<IWbemClassObject>, kBatch> owned;
      for (ULONG i = 0; i < returned && i < kBatch; ++i) {
        owned[i] = ComPtr<IWbemClassObject>::Adopt(batch[i]);
      }
      if (FAILED(result)) {
        return WmiError(wmi_namespace, class_name, "enumeration", result);
      }
      for (ULONG i = 0; i < returned && i < kBatch; ++i) {
        if (instances.size() >= limits_.max_instances) {
          return MakeError(ErrorCode::kResourceExhausted,
                           std::string(wmi_namespace) + ":" + std::string(class_name) +
                               ": more than " + std::to_string(limits_.max_instances) +
                               " instances");
        }
        instances.push_back(ToInstance(owned[i].get(), wanted));
      }
      if (Is(result, WBEM_S_FALSE)) {
        break;  // fewer than asked for: the end of the enumeration
      }
      if (Is(result, WBEM_S_TIMEDOUT) && returned == 0) {
        return MakeError(ErrorCode::kUnavailable,
                         std::string(wmi_namespace) + ":" + std::string(class_name) +
                             ": WMI gave nothing for " + std::to_string(timeout) + " ms");
      }
    }
    return instances;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     std::string(wmi_namespace) + ":" + std::string(class_name) + ": " + e.what());
  }
}

}  // namespace dozor::agent::windows
