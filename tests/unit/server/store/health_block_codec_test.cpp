#include "store/health_block_codec.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace dozor::server {
namespace {

uint64_t Bits(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

BlockSample MakeSample(uint64_t seq, int64_t at_ms, double cpu, int filesystems) {
  BlockSample item;
  item.seq = seq;
  item.collected_at_ms = at_ms;
  auto& s = item.sample;
  s.set_cpu_percent(cpu);
  s.set_load1(0.25 * static_cast<double>(seq));
  s.set_memory_total_bytes(16ull << 30);
  s.set_memory_available_bytes((8ull << 30) + seq * 4096);
  s.set_process_count(static_cast<uint32_t>(200 + seq));
  s.set_interval_seconds(60);
  for (int i = 0; i < filesystems; ++i) {
    auto* fs = s.add_filesystems();
    fs->set_mount_point("/mnt/" + std::to_string(i));
    fs->set_device("/dev/sda" + std::to_string(i));
    fs->set_fs_type("ext4");
    fs->set_total_bytes(1ull << 40);
    fs->set_free_bytes((1ull << 39) - seq);
  }
  return item;
}

// Field-by-field bit comparison for the doubles (so NaN and -0.0 count), bytes for the rest.
void CheckSame(const std::vector<BlockSample>& expected, const std::vector<BlockSample>& actual) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i].seq == expected[i].seq);
    CHECK(actual[i].collected_at_ms == expected[i].collected_at_ms);
    const auto& e = expected[i].sample;
    const auto& a = actual[i].sample;
    CHECK(Bits(a.cpu_percent()) == Bits(e.cpu_percent()));
    CHECK(Bits(a.cpu_iowait_percent()) == Bits(e.cpu_iowait_percent()));
    CHECK(Bits(a.load1()) == Bits(e.load1()));
    CHECK(Bits(a.load5()) == Bits(e.load5()));
    REQUIRE(a.temperatures_size() == e.temperatures_size());
    for (int t = 0; t < e.temperatures_size(); ++t) {
      CHECK(Bits(a.temperatures(t).celsius()) == Bits(e.temperatures(t).celsius()));
    }
    CHECK(a.SerializeAsString() == e.SerializeAsString());
  }
}

// The samples VisitHealthBlock hands over, copied.
std::vector<BlockSample> Visited(std::string_view block, Status* status) {
  std::vector<BlockSample> out;
  *status = VisitHealthBlock(block, [&out](const BlockSample& item) { out.push_back(item); });
  return out;
}

// Decodes both ways (a fresh message per sample, and one message rewritten in place): the two
// must agree bit for bit.
std::vector<BlockSample> RoundTrip(const std::vector<BlockSample>& samples) {
  auto encoded = EncodeHealthBlock(samples);
  REQUIRE(encoded.ok());
  std::vector<BlockSample> decoded;
  auto status = DecodeHealthBlock(*encoded, &decoded);
  REQUIRE(status.ok());
  Status visit_status;
  const std::vector<BlockSample> visited = Visited(*encoded, &visit_status);
  REQUIRE(visit_status.ok());
  CheckSame(decoded, visited);
  return decoded;
}

// A block with a hand-made payload, to reach decoder paths the encoder never produces.
std::string BlockWithPayload(const std::string& payload) {
  uLongf bound = compressBound(static_cast<uLong>(payload.size()));
  std::string out(5 + bound, '\0');
  out[0] = 1;
  auto size = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) {
    out[static_cast<size_t>(1 + i)] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data() + 5), &bound,
                    reinterpret_cast<const Bytef*>(payload.data()), payload.size(), 6) == Z_OK);
  out.resize(5 + bound);
  return out;
}

bool DecodesWithDataLoss(std::string_view block) {
  std::vector<BlockSample> out;
  auto status = DecodeHealthBlock(block, &out);
  return !status.ok() && status.error().code == ErrorCode::kDataLoss;
}

}  // namespace

TEST_CASE("health block codec round-trips special doubles bit for bit") {
  const double values[] = {std::numeric_limits<double>::quiet_NaN(),
                           -0.0,
                           0.0,
                           1e300,
                           -1e300,
                           1.0 / 3.0,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::denorm_min(),
                           12.5,
                           0.01,
                           99.99,
                           123456.789};
  std::vector<BlockSample> samples;
  uint64_t seq = 1;
  for (double value : values) {
    BlockSample item =
        MakeSample(seq, 1'700'000'000'000 + static_cast<int64_t>(seq) * 60'000, value, 1);
    item.sample.set_cpu_iowait_percent(-value);
    item.sample.set_load5(value * 0.5);
    auto* temp = item.sample.add_temperatures();
    temp->set_sensor("cpu");
    temp->set_celsius(value);
    samples.push_back(std::move(item));
    ++seq;
  }
  CheckSame(samples, RoundTrip(samples));
}

TEST_CASE("health block codec keeps samples when the shape changes inside a block") {
  std::vector<BlockSample> samples;
  const int filesystem_counts[] = {1, 1, 2, 2, 0, 1, 3, 1};
  uint64_t seq = 10;
  for (int count : filesystem_counts) {
    samples.push_back(MakeSample(seq, static_cast<int64_t>(seq) * 1000, 0.1 * count, count));
    ++seq;
  }
  samples[3].sample.mutable_filesystems(0)->set_mount_point("/renamed");
  auto* temp = samples[5].sample.add_temperatures();
  temp->set_sensor("nvme");
  temp->set_celsius(41.5);
  CheckSame(samples, RoundTrip(samples));
}

TEST_CASE("health block codec round-trips an empty block and extreme seq and time deltas") {
  CHECK(RoundTrip({}).empty());
  std::vector<BlockSample> samples = {
      MakeSample(std::numeric_limits<uint64_t>::max(), std::numeric_limits<int64_t>::min(), 1, 1),
      MakeSample(0, std::numeric_limits<int64_t>::max(), 2, 1),
      MakeSample(5, -1, 3, 0),
  };
  CheckSame(samples, RoundTrip(samples));
}

TEST_CASE("health block codec row describes its samples") {
  std::vector<BlockSample> samples = {MakeSample(7, 1000, 1, 1), MakeSample(3, 2000, 2, 1),
                                      MakeSample(9, 3000, 3, 1)};
  auto row = EncodeHealthBlockRow(samples);
  REQUIRE(row.ok());
  CHECK(row->start_at == 1000);
  CHECK(row->end_at == 3000);
  CHECK(row->count == 3);
  CHECK(row->first_seq == 3);
  CHECK(row->last_seq == 9);
  std::vector<BlockSample> decoded;
  REQUIRE(DecodeHealthBlock(row->data, &decoded).ok());
  CheckSame(samples, decoded);

  auto empty = EncodeHealthBlockRow({});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("health block codec reports every truncation of a block as data loss") {
  std::vector<BlockSample> samples;
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    samples.push_back(MakeSample(seq, static_cast<int64_t>(seq) * 60'000, 0.5 * seq, 2));
  }
  auto encoded = EncodeHealthBlock(samples);
  REQUIRE(encoded.ok());
  for (size_t length = 0; length < encoded->size(); ++length) {
    CAPTURE(length);
    CHECK(DecodesWithDataLoss(std::string_view(*encoded).substr(0, length)));
  }
}

TEST_CASE("health block codec never crashes on corrupted bytes") {
  std::vector<BlockSample> samples;
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    samples.push_back(MakeSample(seq, static_cast<int64_t>(seq) * 60'000, 0.5 * seq, 1));
  }
  auto encoded = EncodeHealthBlock(samples);
  REQUIRE(encoded.ok());
  int failures = 0;
  for (size_t i = 0; i < encoded->size(); ++i) {
    std::string damaged = *encoded;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    std::vector<BlockSample> out;
    auto status = DecodeHealthBlock(damaged, &out);
    if (!status.ok()) {
      CHECK(status.error().code == ErrorCode::kDataLoss);
      ++failures;
    }
  }
  // zlib's checksum catches nearly every flipped byte; the format byte and sizes are checked too.
  CHECK(failures > static_cast<int>(encoded->size()) / 2);
}

TEST_CASE("health block visitor rewrites only what changed and still matches every sample") {
  // Values that stay, move, change decimal mode (12.5 -> 1/3 -> 12.5), repeat a previous value
  // after a change, go to zero and back, and a shape change in the middle.
  std::vector<BlockSample> samples;
  const double cpu[] = {12.5, 12.5, 1.0 / 3.0, 12.5, 0.0, 0.0, 7.25, 7.25, 99.9, 12.5};
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    BlockSample item =
        MakeSample(seq, static_cast<int64_t>(seq) * 60'000, cpu[seq - 1], seq == 6 ? 3 : 2);
    item.sample.set_load5(seq % 3 == 0 ? 0.0 : 1.5);
    item.sample.set_swap_free_bytes(seq % 2 == 0 ? 0 : 1ull << 30);
    auto* disk = item.sample.add_disks();
    disk->set_device("sda");
    disk->set_read_bytes_per_s(seq < 5 ? 512.0 : 1.0 / 7.0);
    samples.push_back(std::move(item));
  }
  CheckSame(samples, RoundTrip(samples));
}

TEST_CASE("health block visitor never crashes on corrupted bytes either") {
  std::vector<BlockSample> samples;
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    samples.push_back(MakeSample(seq, static_cast<int64_t>(seq) * 60'000, 0.5 * seq, 1));
  }
  auto encoded = EncodeHealthBlock(samples);
  REQUIRE(encoded.ok());
  int failures = 0;
  for (size_t i = 0; i < encoded->size(); ++i) {
    std::string damaged = *encoded;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    Status status;
    (void)Visited(damaged, &status);
    if (!status.ok()) {
      CHECK(status.error().code == ErrorCode::kDataLoss);
      ++failures;
    }
  }
  CHECK(failures > static_cast<int>(encoded->size()) / 2);
}

TEST_CASE("health block codec rejects hand-made inconsistent payloads") {
  CHECK(DecodesWithDataLoss(""));
  CHECK(DecodesWithDataLoss(std::string("\x02\0\0\0\0", 5)));          // unknown format
  CHECK(DecodesWithDataLoss(std::string("\x01\xff\xff\xff\x7f", 5)));  // impossible size
  // count 1, seq +1, time +1, kind 2 (same shape) with no previous sample
  CHECK(DecodesWithDataLoss(BlockWithPayload(std::string("\x01\x02\x02\x02", 4))));
  // kind 3 does not exist
  CHECK(DecodesWithDataLoss(BlockWithPayload(std::string("\x01\x02\x02\x03", 4))));
  // count says 2 samples, payload holds none
  CHECK(DecodesWithDataLoss(BlockWithPayload(std::string("\x02", 1))));
  // a plain sample whose length runs past the end
  CHECK(DecodesWithDataLoss(BlockWithPayload(std::string("\x01\x02\x02\x00\x10\x08", 6))));
  // a new shape that does not fit the schema (a repeated count far too large)
  CHECK(DecodesWithDataLoss(
      BlockWithPayload(std::string("\x01\x02\x02\x01\x03\xff\xff\x7f\x00\x00", 10))));
  // zero samples but trailing bytes
  CHECK(DecodesWithDataLoss(BlockWithPayload(std::string("\x00\x00", 2))));

  // A valid block decodes; the same payload with one byte more is rejected.
  auto encoded = EncodeHealthBlock({MakeSample(1, 1000, 1, 1)});
  REQUIRE(encoded.ok());
  std::vector<BlockSample> out;
  CHECK(DecodeHealthBlock(*encoded, &out).ok());
  CHECK(out.size() == 1);
}

}  // namespace dozor::server
