#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/network_parsers.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace collector_test;

CollectContext NetFixture(const std::string& host) { return FixtureContext(host); }

const dozor::v1::NetworkInterface* FindNic(const dozor::v1::Network& net, const std::string& name) {
  return FindNamed(net.interfaces(), name);
}

const dozor::v1::ListeningSocket* FindListener(const dozor::v1::Network& net,
                                               const std::string& protocol, uint32_t family,
                                               uint32_t port) {
  return FindIf(net.listening(), [&](const dozor::v1::ListeningSocket& socket) {
    return socket.protocol() == protocol && socket.family() == family && socket.port() == port;
  });
}

constexpr const char* kTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout "
    "inode\n";

}  // namespace

TEST_CASE(
    "proc net tcp parser decodes IPv4 address, port, LISTEN state, uid "
    "and inode") {
  std::string text = std::string(kTcpHeader) +
                     "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 "
                     "00:00000000 00000000  "
                     " 113        0 4242 1 0000000000000000 100 0 0 10 0\n"
                     "   1: 0500000A:0016 0900000A:C802 01 00000000:00000000 "
                     "00:00000000 00000000  "
                     "   0        0 4243 1 0000000000000000 100 0 0 10 0\n";
  auto sockets = ParseProcNetSockets(text, "tcp");
  REQUIRE(sockets.ok());
  REQUIRE(sockets->size() == 2);
  CHECK((*sockets)[0].local_address == "127.0.0.1");
  CHECK((*sockets)[0].local_port == 5432);
  CHECK((*sockets)[0].listening);
  CHECK((*sockets)[0].uid == 113);
  CHECK((*sockets)[0].inode == 4242);
  CHECK((*sockets)[0].family == 4);
  CHECK((*sockets)[1].remote_address == "10.0.0.9");
  CHECK((*sockets)[1].remote_port == 51202);
  CHECK_FALSE((*sockets)[1].listening);
}

TEST_CASE("proc net tcp6 parser decodes IPv6 words in host byte order") {
  std::string text =
      "  sl  local_address                         remote_address              "
      "          st\n"
      "   0: B80D0120000000000000000010000000:20FB "
      "00000000000000000000000000000000:0000 0A "
      "00000000:00000000 00:00000000 00000000    33        0 77 1\n"
      "   1: 0000000000000000FFFF00000100007F:0016 "
      "00000000000000000000000000000000:0000 0A "
      "00000000:00000000 00:00000000 00000000     0        0 78 1\n";
  auto sockets = ParseProcNetSockets(text, "tcp");
  REQUIRE(sockets.ok());
  REQUIRE(sockets->size() == 2);
  CHECK((*sockets)[0].local_address == "2001:db8::10");
  CHECK((*sockets)[0].family == 6);
  CHECK((*sockets)[0].local_port == 8443);
  CHECK((*sockets)[1].local_address == "::ffff:127.0.0.1");

  // The same words printed by a big-endian kernel are already in network order.
  std::string big_endian =
      "  sl  local_address                         remote_address              "
      "          st\n"
      "   0: 20010DB8000000000000000000000010:20FB "
      "00000000000000000000000000000000:0000 0A "
      "00000000:00000000 00:00000000 00000000    33        0 77 1\n";
  auto be = ParseProcNetSockets(big_endian, "tcp", /*host_little_endian=*/false);
  REQUIRE(be.ok());
  REQUIRE(be->size() == 1);
  CHECK((*be)[0].local_address == "2001:db8::10");
}

TEST_CASE("udp socket is listening only when unconnected with remote 0:0") {
  std::string text =
      "   sl  local_address rem_address   st tx_queue rx_queue "
      "tr tm->when retrnsmt   uid  timeout "
      "inode ref pointer drops\n"
      "  1: 00000000:006F 00000000:0000 07 00000000:00000000 "
      "00:00000000 00000000     0        0 5 "
      "2 0000000000000000 0\n"
      "  2: 0500000A:D6F2 0100000A:0035 01 00000000:00000000 "
      "00:00000000 00000000   100        0 6 "
      "2 0000000000000000 0\n"
      "  3: 0500000A:D6F3 0100000A:0035 07 00000000:00000000 "
      "00:00000000 00000000   100        0 7 "
      "2 0000000000000000 0\n";
  auto sockets = ParseProcNetSockets(text, "udp");
  REQUIRE(sockets.ok());
  REQUIRE(sockets->size() == 3);
  CHECK((*sockets)[0].listening);
  CHECK((*sockets)[0].local_port == 111);
  CHECK_FALSE((*sockets)[1].listening);
  CHECK_FALSE((*sockets)[2].listening);  // state 07 but with a remote peer set
}

TEST_CASE(
    "proc net socket parser skips malformed rows and rejects text "
    "without header") {
  std::string text = std::string(kTcpHeader) +
                     "   0: ZZZZZZZZ:0016 00000000:0000 0A 0:0 0:0 0 0 0 1\n"
                     "   1: 0100007F:99999 00000000:0000 0A 0:0 0:0 0 0 0 1\n"
                     "   2: 0100007F 00000000:0000 0A\n"
                     "   3: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 -5\n"
                     "   4: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 9\r\n";
  auto sockets = ParseProcNetSockets(text, "tcp");
  REQUIRE(sockets.ok());
  REQUIRE(sockets->size() == 1);
  CHECK((*sockets)[0].inode == 9);
  CHECK_FALSE(ParseProcNetSockets("garbage without header\n", "tcp").ok());
  CHECK_FALSE(ParseProcNetSockets(kTcpHeader, "sctp").ok());
  auto empty = ParseProcNetSockets("", "udp");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("proc net route parser returns only default IPv4 gateways") {
  std::string text =
      "Iface\tDestination\tGateway "
      "\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
      "eth1\t00000000\t0101A8C0\t0001\t0\t0\t200\t00000000\t0\t0\t0\n"  // no
                                                                        // GATEWAY
                                                                        // flag
      "wg0\t00000000\t0102A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n"
      "broken\tnothex\n";
  auto gateways = ParseProcNetRoute(text);
  REQUIRE(gateways.ok());
  REQUIRE(gateways->size() == 2);
  CHECK((*gateways)[0].address == "10.0.0.1");
  CHECK((*gateways)[0].interface == "eth0");
  CHECK((*gateways)[0].metric == 100);
  CHECK((*gateways)[1].address == "192.168.2.1");
  CHECK_FALSE(ParseProcNetRoute("eth0 00000000 0100000A 0003\n").ok());
}

TEST_CASE(
    "ipv6 route parser keeps default routes with a next hop and drops "
    "reject routes") {
  std::string text =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fe800000000000000000000000000001 00000400 00000001 00000000 00000003    "
      " eth0\n"
      "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001    "
      " eth0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200    "
      "   lo\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fe800000000000000000000000000009 00000400 00000001 00000000 00000203    "
      " eth1\n"
      "short line\n";
  auto routes = ParseIpv6Route(text);
  REQUIRE(routes.ok());
  REQUIRE(routes->size() == 1);
  CHECK((*routes)[0].address == "fe80::1");
  CHECK((*routes)[0].interface == "eth0");
  CHECK((*routes)[0].family == 6);
  CHECK((*routes)[0].metric == 0x400);
}

TEST_CASE("if_inet6 parser gives address, prefix and scope per interface") {
  std::string text =
      "00000000000000000000000000000001 01 80 10 80       lo\n"
      "fe80000000000000505400fffe123456 02 40 20 80     eth0\n"
      "20010db8000000000000000000000010 02 40 00 80 eth0\n"
      "20010db80000000000000000000000 02 40 00 80 bad\n"      // 30 hex digits
      "20010db8000000000000000000000011 02 ff 00 80 bad2\n";  // prefix 255
  auto addresses = ParseIfInet6(text);
  REQUIRE(addresses.ok());
  REQUIRE(addresses->size() == 3);
  CHECK((*addresses)[0].address == "::1");
  CHECK((*addresses)[0].prefix == 128);
  CHECK((*addresses)[1].interface == "eth0");
  CHECK((*addresses)[1].address == "fe80::5054:ff:fe12:3456");
  CHECK((*addresses)[1].scope == 0x20);
  CHECK((*addresses)[2].address == "2001:db8::10");
  CHECK((*addresses)[2].prefix == 64);
}

TEST_CASE("ipv4 address list fixture format is validated") {
  auto ok = ParseIpv4AddressList("# comment\nlo 127.0.0.1/8\n\neth0 10.0.0.5/24 # trailing\n");
  REQUIRE(ok.ok());
  REQUIRE(ok->size() == 2);
  CHECK((*ok)[1].address == "10.0.0.5");
  CHECK((*ok)[1].prefix == 24);
  CHECK_FALSE(ParseIpv4AddressList("eth0 10.0.0.5\n").ok());
  CHECK_FALSE(ParseIpv4AddressList("eth0 10.0.0.500/24\n").ok());
  CHECK_FALSE(ParseIpv4AddressList("eth0 10.0.0.5/33\n").ok());
}

TEST_CASE(
    "resolv.conf parser reads nameservers, last search or domain wins, "
    "skips comments") {
  auto conf = ParseResolvConf(
      "# comment\n; other comment\nnameserver "
      "10.0.0.1\nnameserver  10.0.0.2 # inline\r\n"
      "search a.example b.example\ndomain "
      "c.example\nnameserver\noptions ndots:2\n");
  CHECK(conf.nameservers == std::vector<std::string>{"10.0.0.1", "10.0.0.2"});
  CHECK(conf.search_domains == std::vector<std::string>{"c.example"});
  CHECK_FALSE(UsesResolvedStub(conf));
  auto stub = ParseResolvConf("nameserver 127.0.0.53\nsearch x.example y.example");
  CHECK(UsesResolvedStub(stub));
  CHECK(stub.search_domains == std::vector<std::string>{"x.example", "y.example"});
  CHECK(ParseResolvConf("").nameservers.empty());
}

TEST_CASE(
    "network collector on debian fixture finds interfaces, gateways, dns "
    "and listeners") {
  dozor::v1::Network net;
  Status status = CollectNetwork(NetFixture("debian-server"), &net);
  CHECK_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  REQUIRE(net.interfaces_size() == 3);
  const auto* eth0 = FindNic(net, "eth0");
  REQUIRE(eth0 != nullptr);
  CHECK(eth0->mac() == "52:54:00:12:34:56");
  CHECK(eth0->mtu() == 1500);
  CHECK(eth0->state() == "up");
  CHECK(eth0->speed_mbps() == 1000);
  CHECK(eth0->duplex() == "full");
  CHECK_FALSE(eth0->loopback());
  CHECK_FALSE(eth0->virtual_());
  REQUIRE(eth0->addresses_size() == 3);
  CHECK(eth0->addresses(0).address() == "10.0.0.5");
  CHECK(eth0->addresses(0).prefix() == 24);
  CHECK(eth0->addresses(0).family() == 4);
  CHECK(eth0->addresses(1).address() == "2001:db8::10");
  CHECK(eth0->addresses(1).family() == 6);
  const auto* lo = FindNic(net, "lo");
  REQUIRE(lo != nullptr);
  CHECK(lo->loopback());
  CHECK(lo->virtual_());
  CHECK(lo->speed_mbps() == -1);
  const auto* docker = FindNic(net, "docker0");
  REQUIRE(docker != nullptr);
  CHECK(docker->virtual_());
  CHECK(docker->speed_mbps() == -1);
  CHECK(docker->state() == "down");

  REQUIRE(net.gateways_size() == 2);
  CHECK(net.gateways(0).address() == "10.0.0.1");
  CHECK(net.gateways(0).family() == 4);
  CHECK(net.gateways(1).address() == "fe80::1");
  CHECK(net.gateways(1).interface() == "eth0");
  REQUIRE(net.dns_servers_size() == 1);
  CHECK(net.dns_servers(0) == "10.0.0.1");
  REQUIRE(net.search_domains_size() == 1);

  CHECK(net.listening_size() == 7);
  const auto* ssh = FindListener(net, "tcp", 4, 22);
  REQUIRE(ssh != nullptr);
  CHECK(ssh->address() == "0.0.0.0");
  CHECK(ssh->pid() == 101);
  CHECK(ssh->process() == "sshd");
  const auto* smb = FindListener(net, "tcp", 4, 445);
  REQUIRE(smb != nullptr);
  CHECK(smb->process() == "smbd");
  const auto* pg = FindListener(net, "tcp", 4, 5432);
  REQUIRE(pg != nullptr);
  CHECK(pg->address() == "127.0.0.1");
  CHECK(pg->process() == "postgres");
  CHECK(pg->uid() == 113);
  const auto* telnet = FindListener(net, "tcp", 6, 23);
  REQUIRE(telnet != nullptr);
  CHECK(telnet->address() == "::");
  CHECK(telnet->process() == "inetd");
  const auto* nginx = FindListener(net, "tcp", 6, 8443);
  REQUIRE(nginx != nullptr);
  CHECK(nginx->address() == "2001:db8::10");
  CHECK(nginx->pid() == 106);
  CHECK(FindListener(net, "tcp", 4, 8443) == nullptr);  // IPv6 only
  const auto* rpc4 = FindListener(net, "udp", 4, 111);
  const auto* rpc6 = FindListener(net, "udp", 6, 111);
  REQUIRE(rpc4 != nullptr);
  REQUIRE(rpc6 != nullptr);
  CHECK(rpc4->process() == "rpcbind");
  CHECK(rpc6->pid() == 105);
  // Established tcp and connected udp sockets are not listeners.
  CHECK(FindListener(net, "udp", 4, 0xD6F2) == nullptr);
}

TEST_CASE(
    "network collector on rpm fixture reads two nameservers and search "
    "domains") {
  dozor::v1::Network net;
  Status status = CollectNetwork(NetFixture("rpm-server"), &net);
  CHECK(status.ok());
  CHECK(net.dns_servers_size() == 2);
  CHECK(net.dns_servers(1) == "192.168.10.2");
  REQUIRE(net.search_domains_size() == 2);
  CHECK(net.search_domains(0) == "corp.example");
  REQUIRE(net.gateways_size() == 1);
  CHECK(net.gateways(0).address() == "192.168.10.1");
  const auto* eth0 = FindNic(net, "eth0");
  REQUIRE(eth0 != nullptr);
  CHECK(eth0->mtu() == 9000);
  CHECK(eth0->speed_mbps() == 10000);
  const auto* chrony = FindListener(net, "udp", 6, 323);
  REQUIRE(chrony != nullptr);
  CHECK(chrony->address() == "::1");
  CHECK(chrony->process() == "chronyd");
  CHECK(chrony->uid() == 997);
  // sshd listens on both families from one process.
  REQUIRE(FindListener(net, "tcp", 4, 22) != nullptr);
  REQUIRE(FindListener(net, "tcp", 6, 22) != nullptr);
  CHECK(FindListener(net, "tcp", 6, 22)->pid() == 150);
}

TEST_CASE("network collector on minimal vm handles IPv6-only NIC and resolved stub") {
  dozor::v1::Network net;
  Status status = CollectNetwork(NetFixture("minimal-vm"), &net);
  CHECK(status.ok());
  const auto* ens3 = FindNic(net, "ens3");
  REQUIRE(ens3 != nullptr);
  CHECK(ens3->speed_mbps() == -1);
  CHECK(ens3->duplex().empty());
  REQUIRE(ens3->addresses_size() == 2);
  for (const auto& address : ens3->addresses()) {
    CHECK(address.family() == 6);
  }
  CHECK(ens3->addresses(0).address() == "2001:db8:1::5");
  // The stub 127.0.0.53 is replaced by systemd-resolved's real upstreams.
  REQUIRE(net.dns_servers_size() == 2);
  CHECK(net.dns_servers(0) == "2001:db8:1::53");
  CHECK(net.dns_servers(1) == "192.0.2.53");
  CHECK(net.search_domains_size() == 1);
  REQUIRE(net.gateways_size() == 1);
  CHECK(net.gateways(0).family() == 6);
  REQUIRE(net.listening_size() == 1);
  CHECK(net.listening(0).process() == "sshd");
}

TEST_CASE("network collector on an empty root reports errors without crashing") {
  testing::TempDir dir;
  CollectContext ctx = RootContext(dir.path());
  dozor::v1::Network net;
  Status status = CollectNetwork(ctx, &net);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("interfaces") != std::string::npos);
  CHECK(net.interfaces_size() == 0);
}

TEST_CASE("network collector on the real machine finds loopback with sane values") {
  CollectContext ctx;
  dozor::v1::Network net;
  Status status = CollectNetwork(ctx, &net);
  if (!status.ok()) MESSAGE(status.error().ToString());
  bool found_loopback = false;
  for (const auto& nic : net.interfaces()) {
    CHECK(!nic.name().empty());
    CHECK(nic.mtu() <= 1u << 20);
    CHECK(nic.speed_mbps() >= -1);
    if (nic.loopback()) {
      found_loopback = true;
      bool has_127 = std::any_of(nic.addresses().begin(), nic.addresses().end(),
                                 [](const auto& a) { return a.address() == "127.0.0.1"; });
      CHECK(has_127);
    }
  }
  CHECK(found_loopback);
  for (const auto& socket : net.listening()) {
    CHECK(socket.port() <= 65535);
    CHECK((socket.family() == 4 || socket.family() == 6));
  }
}

}  // namespace dozor::agent
