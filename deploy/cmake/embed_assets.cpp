// Build-time host tool (dashboard/CMakeLists.txt): turns every file of a built dashboard (Vite's
// dist/ directory) into one C++ source that defines DashboardAssets()
// (server/http/dashboard_assets.hpp). Per file: its URL path, its content type, an ETag (128 bits
// of the content's SHA-256), the bytes, and a gzip copy (zlib, level 9, made once here instead of
// on every request) when it saves at least a twentieth.
//
// Usage: dozor_embed_assets <dist-dir> <out.cpp>
// The bytes are written as integer arrays, not string literals: portable across compilers (MSVC
// caps a literal at 64 KiB) and quick for GCC (a few MB of JavaScript compile in seconds). The
// output is rewritten only when it changes, so an unchanged dashboard recompiles nothing.
// Fails (exit 1, a message naming the file) on a file of a type it does not know, a name that
// would need URL escaping, or a dist without index.html.
#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<unsigned char>;

struct Asset {
  std::string path;  // "/assets/index-AbC123.js"
  std::string content_type;
  std::string etag;
  Bytes body;
  Bytes gzip_body;  // empty: not worth it
};

// Every type a Vite build of the dashboard emits (its public/ folder included). A file of any
// other type stops the build: served as application/octet-stream with nosniff, a script or a
// font would silently fail to load in the browser.
const std::map<std::string, std::string, std::less<>>& ContentTypes() {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
  };
  return kTypes;
}

bool Fail(const std::string& message) {
  std::cerr << "dozor_embed_assets: " << message << "\n";
  return false;
}

// Letters, digits and "._-/" only: such a path is its own URL (no escaping to get wrong) and
// safe inside a C++ string literal.
bool IsPlainUrlPath(std::string_view path) {
  return std::all_of(path.begin(), path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/';
  });
}

bool ReadAll(const fs::path& file, Bytes& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// The first 16 bytes of the SHA-256 in hex: unique enough for a cache validator.
bool HashOf(const Bytes& data, std::string& out) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return false;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  out.clear();
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    out.push_back(kDigits[digest[i] >> 4]);
    out.push_back(kDigits[digest[i] & 0x0f]);
  }
  return true;
}

// gzip (RFC 1952) of `data` at the best compression. zlib writes no name and a zero time into
// the header, so the same input always gives the same bytes.
bool Gzip(const Bytes& data, Bytes& out) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;
  constexpr int kMemLevel = 9;
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  stream.next_in = const_cast<Bytes::value_type*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return result == Z_STREAM_END;
}

bool Collect(const fs::path& dist, std::vector<Asset>& assets) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dist, ec), end;
  if (ec) {
    return Fail("cannot read " + dist.string() + ": " + ec.message());
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      return Fail("reading " + dist.string() + ": " + ec.message());
    }
    const fs::path& file = it->path();
    const std::string name = file.filename().string();
    if (!name.empty() && name.front() == '.') {
      // Tool metadata (.vite/manifest.json) is not part of the site.
      if (it->is_directory()) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (it->is_directory()) {
      continue;
    }
    if (!it->is_regular_file()) {
      return Fail(file.string() + " is not a regular file");
    }
    Asset asset;
    asset.path = "/" + fs::relative(file, dist).generic_string();
    if (!IsPlainUrlPath(asset.path)) {
      return Fail(file.string() +
                  ": its name needs URL escaping; use only letters, digits and \"._-\"");
    }
    const auto type = ContentTypes().find(file.extension().string());
    if (type == ContentTypes().end()) {
      return Fail(file.string() + ": no content type known for '" + file.extension().string() +
                  "' (add it to deploy/cmake/embed_assets.cpp)");
    }
    asset.content_type = type->second;
    if (!ReadAll(file, asset.body)) {
      return Fail("cannot read " + file.string());
    }
    if (!HashOf(asset.body, asset.etag)) {
      return Fail("hashing " + file.string() + " failed");
    }
    Bytes gzipped;
    if (!asset.body.empty() && !Gzip(asset.body, gzipped)) {
      return Fail("gzip of " + file.string() + " failed");
    }
    // Worth the client's decompression only when it saves at least a twentieth (images and
    // fonts are compressed already and save nothing).
    if (!gzipped.empty() && gzipped.size() + asset.body.size() / 20 < asset.body.size()) {
      asset.gzip_body = std::move(gzipped);
    }
    assets.push_back(std::move(asset));
  }
  std::sort(assets.begin(), assets.end(),
            [](const Asset& a, const Asset& b) { return a.path < b.path; });
  const bool has_index = std::any_of(assets.begin(), assets.end(),
                                     [](const Asset& a) { return a.path == "/index.html"; });
  if (!has_index) {
    return Fail(dist.string() + " has no index.html: not a built dashboard");
  }
  return true;
}

void WriteArray(std::ostream& out, const std::string& name, const Bytes& bytes) {
  out << "constexpr unsigned char " << name << "[] = {";
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 24 == 0) {
      out << "\n";
    }
    out << static_cast<unsigned>(bytes[i]) << ',';
  }
  out << "\n};\n";
}

std::string Generate(const std::vector<Asset>& assets) {
  std::ostringstream out;
  out << "// Generated by deploy/cmake/embed_assets.cpp from the built dashboard. Do not edit.\n"
      << "#include \"http/dashboard_assets.hpp\"\n\n"
      << "namespace dozor::server::http {\nnamespace {\n\n";
  for (size_t i = 0; i < assets.size(); ++i) {
    out << "// " << assets[i].path << "\n";
    if (!assets[i].body.empty()) {
      WriteArray(out, "kBody" + std::to_string(i), assets[i].body);
    }
    if (!assets[i].gzip_body.empty()) {
      WriteArray(out, "kGzip" + std::to_string(i), assets[i].gzip_body);
    }
  }
  out << "\nconstexpr EmbeddedAsset kAssets[] = {\n";
  for (size_t i = 0; i < assets.size(); ++i) {
    const Asset& a = assets[i];
    const std::string index = std::to_string(i);
    out << "    {\"" << a.path << "\", \"" << a.content_type << "\", \"" << a.etag << "\", "
        << (a.body.empty() ? std::string("{}") : "kBody" + index) << ", "
        << (a.gzip_body.empty() ? std::string("{}") : "kGzip" + index) << "},\n";
  }
  out << "};\n\n}  // namespace\n\n"
      << "std::span<const EmbeddedAsset> DashboardAssets() { return kAssets; }\n\n"
      << "}  // namespace dozor::server::http\n";
  return out.str();
}

bool WriteIfChanged(const fs::path& path, const std::string& text) {
  Bytes old;
  if (ReadAll(path, old) && std::string(old.begin(), old.end()) == text) {
    return true;
  }
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return Fail("cannot write " + temporary.string());
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    return Fail("cannot rename " + temporary.string() + ": " + ec.message());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: dozor_embed_assets <dist-dir> <out.cpp>\n";
    return 2;
  }
  std::vector<Asset> assets;
  if (!Collect(argv[1], assets)) {
    return 1;
  }
  if (!WriteIfChanged(argv[2], Generate(assets))) {
    return 1;
  }
  size_t plain = 0;
  size_t gzipped = 0;
  for (const Asset& a : assets) {
    plain += a.body.size();
    gzipped += a.gzip_body.empty() ? a.body.size() : a.gzip_body.size();
  }
  std::printf("dozor_embed_assets: %zu files, %zu bytes (%zu with gzip where it helps)\n",
              assets.size(), plain, gzipped);
  return 0;
}
