// Database servers: the postgresql.conf and pg_hba.conf parsers, and the Linux collector over the
// pg-backup-server fixture (Debian's layout, a conf.d override, ALTER SYSTEM's file).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/parsers/database_parsers.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

TEST_CASE("ParsePostgresConf: quoting, comments, optional '=' and includes") {
  auto settings = ParsePostgresConf(
      "# comment\n"
      "listen_addresses = '*'\t\t# what IP address(es) to listen on\n"
      "Port 5433\n"
      "log_line_prefix = '%m [%p] it''s \\'quoted\\''\n"
      "autovacuum=off\n"
      "include_dir = 'conf.d'\n"
      "=novalue\n");
  REQUIRE(settings.size() == 5);
  CHECK(settings[0] == std::pair<std::string, std::string>{"listen_addresses", "*"});
  CHECK(settings[1] == std::pair<std::string, std::string>{"port", "5433"});
  CHECK(settings[2].second == "%m [%p] it's 'quoted'");
  CHECK(settings[3] == std::pair<std::string, std::string>{"autovacuum", "off"});
  CHECK(settings[4] == std::pair<std::string, std::string>{"include_dir", "conf.d"});
  CHECK(ParsePostgresConf("x = 'unterminated").at(0).second == "unterminated");
}

TEST_CASE("ParsePgHba: local and host rules, masks, quotes, continuations") {
  auto rules = ParsePgHba(
      "# TYPE DATABASE USER ADDRESS METHOD\n"
      "local   all  postgres  peer\n"
      "host    all  all  127.0.0.1/32  scram-sha-256\n"
      "host    buh  admin  192.168.1.0  255.255.255.0  trust\n"
      "hostssl \"my db\" all 0.0.0.0/0 MD5 # open\n"
      "host all all \\\n  10.0.0.0/8 reject\n"
      "host all all\n"
      "include_dir conf.d\n");
  REQUIRE(rules.size() == 5);
  CHECK(rules[0].type == "local");
  CHECK(rules[0].address.empty());
  CHECK(rules[0].method == "peer");
  CHECK(rules[2].address == "192.168.1.0/24");
  CHECK(rules[2].method == "trust");
  CHECK(rules[2].line == 4);
  CHECK(rules[3].database == "my db");
  CHECK(rules[3].method == "md5");
  CHECK(rules[4].line == 6);
  CHECK(rules[4].address == "10.0.0.0/8");
  CHECK(rules[4].method == "reject");
  CHECK(Ipv4MaskPrefix("255.255.0.0") == 16);
  CHECK(Ipv4MaskPrefix("0.0.0.0") == 0);
  CHECK(Ipv4MaskPrefix("255.0.255.0") == -1);
  CHECK(Ipv4MaskPrefix("md5") == -1);
}

TEST_CASE(
    "software collector on pg-backup-server: the PostgreSQL instance, its overrides and pg_hba") {
  dozor::v1::Software software;
  CollectContext ctx = FixtureContext("pg-backup-server");
  (void)CollectSoftware(ctx, &software);
  INFO(software.DebugString());
  REQUIRE(software.database_servers_size() == 1);
  const dozor::v1::DatabaseServer& db = software.database_servers(0);
  CHECK(db.kind() == "postgresql");
  CHECK(db.version() == "15");
  CHECK(db.config_path() == "/etc/postgresql/15/main/postgresql.conf");
  CHECK(db.data_directory() == "/var/lib/postgresql/15/main");
  CHECK(db.listen_addresses() == "*");  // conf.d overrides the file
  CHECK(db.port() == 5433);             // postgresql.auto.conf overrides both
  CHECK_FALSE(db.autovacuum());
  CHECK(db.running());  // the postmaster of the fixture's process list
  CHECK(db.onec_build() == false);
  CHECK(db.hba_path() == "/etc/postgresql/15/main/pg_hba.conf");
  REQUIRE(db.hba_rules_size() == 7);
  CHECK(db.hba_rules(4).address() == "10.0.0.20/32");
  CHECK(db.hba_rules(6).address() == "192.168.1.0/24");
  CHECK(db.hba_rules(6).method() == "trust");
}

TEST_CASE("software collector on a host without PostgreSQL reports no database server") {
  dozor::v1::Software software;
  (void)CollectSoftware(FixtureContext("minimal-vm"), &software);
  CHECK(software.database_servers_size() == 0);
}

}  // namespace
}  // namespace dozor::agent
