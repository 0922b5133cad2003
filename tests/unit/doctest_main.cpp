// The doctest main of every unit-test binary. CTest runs one TEST_CASE per entry with
// --test-case=<name>; a name the filter cannot match (doctest_discover_tests splits names at ';',
// for one) would run nothing and still pass. Here a run filtered by test case that runs none
// fails, so a test that silently stopped running shows up as a failure.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {

int g_test_cases_started = 0;

struct CountingListener : public doctest::IReporter {
  explicit CountingListener(const doctest::ContextOptions& /*options*/) {}
  void report_query(const doctest::QueryData& /*data*/) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& /*stats*/) override {}
  void test_case_start(const doctest::TestCaseData& /*data*/) override { ++g_test_cases_started; }
  void test_case_reenter(const doctest::TestCaseData& /*data*/) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& /*stats*/) override {}
  void test_case_exception(const doctest::TestCaseException& /*exception*/) override {}
  void subcase_start(const doctest::SubcaseSignature& /*signature*/) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& /*data*/) override {}
  void log_message(const doctest::MessageData& /*data*/) override {}
  void test_case_skipped(const doctest::TestCaseData& /*data*/) override {}
};

REGISTER_LISTENER("dozor-count", 1, CountingListener);

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

int main(int argc, char** argv) {
  bool filtered = false;
  bool query = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    filtered = filtered || StartsWith(arg, "--test-case=") || StartsWith(arg, "-tc=");
    query = query || StartsWith(arg, "--list") || StartsWith(arg, "-l") ||
            StartsWith(arg, "--count") || StartsWith(arg, "-c") || StartsWith(arg, "--help") ||
            StartsWith(arg, "-h") || StartsWith(arg, "--version") || StartsWith(arg, "-v");
  }
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit() || result != 0) {
    return result;
  }
  if (filtered && !query && g_test_cases_started == 0) {
    std::fprintf(stderr,
                 "doctest_main: the --test-case filter matched no test case (a ';' in a "
                 "TEST_CASE name splits it in CTest: use ',' or ':' instead)\n");
    return 1;
  }
  return result;
}
