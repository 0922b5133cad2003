// The WAL write-combining VFS (dozor/common/sqlite.hpp, WalWriteCombiningVfs) on real database
// files: fewer writes, every commit visible and intact for other connections at once, and a
// failed write reported by the commit instead of lost.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <string>
#include <thread>

#include "dozor/common/sqlite.hpp"
#include "test_util.hpp"

namespace dozor::sqlite {
namespace {

OpenOptions Combining(const char* synchronous = "FULL") {
  OpenOptions options;
  options.combine_wal_writes = true;
  options.synchronous = synchronous;
  return options;
}

Status InsertRows(Database& db, int first, int count, size_t bytes) {
  DOZOR_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  DOZOR_ASSIGN_OR_RETURN(Statement insert, db.Prepare("INSERT INTO t(id, body) VALUES (?, ?)"));
  for (int i = first; i < first + count; ++i) {
    insert.Reset();
    insert.Bind(1, i).BindBlob(2, std::string(bytes, static_cast<char>('a' + i % 26)));
    DOZOR_RETURN_IF_ERROR(insert.Run());
  }
  DOZOR_ASSIGN_OR_RETURN(Statement counter, db.Prepare("UPDATE counter SET n = n + ?"));
  counter.Bind(1, count);
  DOZOR_RETURN_IF_ERROR(counter.Run());
  return db.Exec("COMMIT");
}

Result<int64_t> Scalar(Database& db, const char* sql) {
  DOZOR_ASSIGN_OR_RETURN(Statement statement, db.Prepare(sql));
  DOZOR_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return Error{ErrorCode::kNotFound, sql};
  return statement.Int(0);
}

Status CreateSchema(Database& db) {
  DOZOR_RETURN_IF_ERROR(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));
  DOZOR_RETURN_IF_ERROR(db.Exec("CREATE TABLE counter(n INTEGER NOT NULL)"));
  return db.Exec("INSERT INTO counter VALUES (0)");
}

TEST_CASE("WAL write combining: a large commit takes a few writes and reads back everywhere") {
  dozor::testing::TempDir dir;
  const auto path = dir / "combined.db";
  auto writer = Database::Open(path, Combining());
  REQUIRE(writer.ok());
  REQUIRE(CreateSchema(*writer).ok());

  const WalWriteCounts before = WalWriteCombinerCounts();
  // 2,000 rows of 1 KiB: ~600 pages, so ~1,200 frame writes from SQLite.
  REQUIRE(InsertRows(*writer, 0, 2000, 1024).ok());
  const WalWriteCounts after = WalWriteCombinerCounts();
  const uint64_t received = after.writes_received - before.writes_received;
  const uint64_t issued = after.writes_issued - before.writes_issued;
  CHECK(received > 1000);
  // ~2.5 MB in 124 KiB chunks: about 20 writes, not 1,200.
  CHECK(issued * 20 < received);
  MESSAGE("SQLite asked for ", received, " writes; ", issued, " reached the file");

  // Another connection, on the default VFS, sees the whole commit at once.
  OpenOptions plain;
  plain.create = false;
  auto reader = Database::Open(path, plain);
  REQUIRE(reader.ok());
  CHECK(Scalar(*reader, "SELECT count(*) FROM t").value() == 2000);
  CHECK(Scalar(*reader, "SELECT sum(length(body)) FROM t").value() == 2000 * 1024);
  CHECK(reader->QuickCheck().ok());

  // And so does a fresh open after both are closed (recovery reads the WAL from the file).
  *writer = Database();
  *reader = Database();
  auto reopened = Database::Open(path, plain);
  REQUIRE(reopened.ok());
  CHECK(Scalar(*reopened, "SELECT n FROM counter").value() == 2000);
  CHECK(reopened->QuickCheck().ok());
}

TEST_CASE("WAL write combining: a reader polling during commits only ever sees whole commits") {
  // If a commit became visible before its frames reached the file, the reader would read stale
  // or zero pages: a count that disagrees with the counter, or a corrupt-database error.
  // synchronous=NORMAL too: then no sync follows the commit frame to write what is held.
  const char* synchronous = "FULL";
  SUBCASE("synchronous=NORMAL") { synchronous = "NORMAL"; }
  SUBCASE("synchronous=FULL") { synchronous = "FULL"; }
  dozor::testing::TempDir dir;
  const auto path = dir / "polled.db";
  auto writer = Database::Open(path, Combining(synchronous));
  REQUIRE(writer.ok());
  REQUIRE(CreateSchema(*writer).ok());

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::string reader_failure;
  std::thread reader_thread([&] {
    OpenOptions plain;
    plain.create = false;
    auto reader = Database::Open(path, plain);
    if (!reader.ok()) {
      reader_failure = reader.error().ToString();
      return;
    }
    while (!done.load() && reader_failure.empty()) {
      auto begin = reader->Exec("BEGIN");
      auto rows = Scalar(*reader, "SELECT count(*) FROM t");
      auto counter = Scalar(*reader, "SELECT n FROM counter");
      auto bytes = Scalar(*reader, "SELECT coalesce(sum(length(body)), 0) FROM t");
      auto end = reader->Exec("COMMIT");
      if (!begin.ok() || !rows.ok() || !counter.ok() || !bytes.ok() || !end.ok()) {
        reader_failure = !rows.ok()      ? rows.error().ToString()
                         : !counter.ok() ? counter.error().ToString()
                         : !bytes.ok()   ? bytes.error().ToString()
                                         : "BEGIN/COMMIT failed";
      } else if (*rows != *counter || *bytes != *rows * 700) {
        reader_failure = "saw " + std::to_string(*rows) + " rows, counter " +
                         std::to_string(*counter) + ", " + std::to_string(*bytes) + " bytes";
      }
      reads.fetch_add(1);
    }
  });
  Status written = OkStatus();
  for (int batch = 0; batch < 150 && written.ok(); ++batch) {
    written = InsertRows(*writer, batch * 40, 40, 700);
    if (batch % 50 == 49 && written.ok()) {
      // Checkpoint and restart the log now and then, so frames are also written over old ones.
      written = writer->Exec("PRAGMA wal_checkpoint(RESTART)");
    }
  }
  done = true;
  reader_thread.join();
  REQUIRE(written.ok());
  INFO(reader_failure);
  CHECK(reader_failure.empty());
  CHECK(reads.load() > 0);
  CHECK(Scalar(*writer, "SELECT count(*) FROM t").value() == 150 * 40);
  CHECK(writer->QuickCheck().ok());
}

TEST_CASE("WAL write combining: a write the disk refuses fails that commit and keeps the rest") {
  dozor::testing::TempDir dir;
  const auto path = dir / "full.db";
  {
    auto db = Database::Open(path, Combining());
    REQUIRE(db.ok());
    REQUIRE(CreateSchema(*db).ok());
    REQUIRE(InsertRows(*db, 0, 100, 1000).ok());
  }
  // In a child process, so the file-size limit (the "disk" that fills up) binds only there.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // an over-limit write then fails with EFBIG instead
    auto db = Database::Open(path, Combining());
    if (!db.ok()) ::_exit(10);
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = 600 * 1024;  // the WAL may not grow past 600 KiB
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(11);
    int committed_batches = 0;
    for (int batch = 1; batch < 100; ++batch) {
      if (!InsertRows(*db, batch * 100, 100, 1000).ok()) break;
      ++committed_batches;
    }
    // Exit status: how many 100-row batches committed before the refusal (0..99); 99 = never
    // refused, which the parent counts as a failure of the test.
    ::_exit(committed_batches);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  const int committed_batches = WEXITSTATUS(status);
  REQUIRE(committed_batches < 99);
  MESSAGE("the child committed ", committed_batches, " batches before the disk refused one");

  // Every commit the child saw succeed is there; the refused one left nothing behind.
  OpenOptions plain;
  plain.create = false;
  auto db = Database::Open(path, plain);
  REQUIRE(db.ok());
  CHECK(db->QuickCheck().ok());
  CHECK(Scalar(*db, "SELECT count(*) FROM t").value() == 100 * (1 + committed_batches));
  CHECK(Scalar(*db, "SELECT n FROM counter").value() == 100 * (1 + committed_batches));
  // And the database takes writes again once there is room.
  REQUIRE(InsertRows(*db, 100000, 10, 10).ok());
  CHECK(Scalar(*db, "SELECT n FROM counter").value() == 100 * (1 + committed_batches) + 10);
}

}  // namespace
}  // namespace dozor::sqlite
