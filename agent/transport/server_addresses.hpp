// A server address setting may name several replicas: "HOST:PORT[,HOST:PORT...]". The agent
// enrolls with and streams to the first that answers; when a session to one fails it moves on to
// the next (stream_client.cpp), so losing one replica costs a reconnect, not the host's reports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dozor::agent {

// The addresses of such a list in order, spaces around each trimmed, empty entries left out.
inline std::vector<std::string> SplitServerAddresses(std::string_view addresses) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= addresses.size()) {
    const size_t comma = addresses.find(',', start);
    std::string_view part = addresses.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) {
      out.emplace_back(part);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace dozor::agent
