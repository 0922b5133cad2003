#include <doctest/doctest.h>

#include <string>

#include "collector_test_util.hpp"
#include "collectors/collector.hpp"
#include "collectors/parsers/pci_parsers.hpp"

namespace dozor::agent {
namespace pci_test {

using collector_test::FixtureContext;

constexpr const char* kPciIds =
    "# comment\n"
    "1af4  Red Hat, Inc.\n"
    "\t1000  Virtio network device\n"
    "\t\t1af4 1000  Virtio network device (subsystem)\n"
    "8086  Intel Corporation\n"
    "\t2922  SATA Controller [AHCI mode]\n"
    "\t1237  440FX\n"
    "C 01  Mass storage controller\n"
    "\t06  SATA controller\n"
    "8086  Not a vendor line: inside the class section\n";

TEST_CASE("sysfs PCI ids are normalised to fixed-width lowercase hex") {
  CHECK(NormalizePciId("0x8086\n", 4) == "8086");
  CHECK(NormalizePciId("0x1AF4", 4) == "1af4");
  CHECK(NormalizePciId("0x10601", 6) == "010601");
  CHECK(NormalizePciId("0x010601\n", 6) == "010601");
  CHECK(NormalizePciId("", 4).empty());
  CHECK(NormalizePciId("0x", 4).empty());
  CHECK(NormalizePciId("0x123456", 4).empty());  // too wide
  CHECK(NormalizePciId("0xzz", 4).empty());
}

TEST_CASE("PCI class names tell storage network display USB and bridges apart") {
  CHECK(PciClassName("010601") == "SATA controller");
  CHECK(PciClassName("010802") == "Non-Volatile memory controller");
  CHECK(PciClassName("010400") == "RAID bus controller");
  CHECK(PciClassName("010500") == "Mass storage controller");  // ATA: the base class's name
  CHECK(PciClassName("020000") == "Ethernet controller");
  CHECK(PciClassName("030000") == "VGA compatible controller");
  CHECK(PciClassName("038000") == "Display controller");
  CHECK(PciClassName("0c0330") == "USB controller");
  CHECK(PciClassName("060400") == "PCI bridge");
  CHECK(PciClassName("068000") == "Bridge");
  CHECK(PciClassName("ff0000").empty());
  CHECK(PciClassName("0106").empty());
  CHECK(PciClassName("zz0000").empty());
}

TEST_CASE("pci.ids lookup keeps only the wanted names whatever the chunking") {
  for (size_t chunk_size : {size_t{1}, size_t{7}, size_t{4096}}) {
    PciIdsLookup lookup(
        PciIdsLookup::Wanted{{"8086", {"2922"}}, {"1af4", {"1000", "1001"}}, {"dead", {"beef"}}});
    std::string_view text = kPciIds;
    for (size_t at = 0; at < text.size(); at += chunk_size) {
      lookup.Feed(text.substr(at, chunk_size));
    }
    lookup.Finish();
    CHECK(lookup.VendorName("8086") == "Intel Corporation");
    CHECK(lookup.DeviceName("8086", "2922") == "SATA Controller [AHCI mode]");
    CHECK(lookup.DeviceName("8086", "1237").empty());  // listed, but not asked for
    CHECK(lookup.VendorName("1af4") == "Red Hat, Inc.");
    CHECK(lookup.DeviceName("1af4", "1000") == "Virtio network device");  // not the subsystem
    CHECK(lookup.DeviceName("1af4", "1001").empty());
    CHECK(lookup.VendorName("dead").empty());
  }
}

TEST_CASE("pci.ids lookup skips overlong and malformed lines") {
  PciIdsLookup lookup(PciIdsLookup::Wanted{{"8086", {"2922"}}});
  lookup.Feed(std::string(5000, 'x') + "\n");
  lookup.Feed("8086Intel without blanks\n\t2922  orphan device\n80  short\n\t\n\t\t\n");
  lookup.Feed("8086  Intel\r\n\t2922  AHCI\r\n");
  lookup.Feed("8086  Intel again but last line without newline");
  lookup.Finish();
  CHECK(lookup.VendorName("8086") == "Intel again but last line without newline");
  CHECK(lookup.DeviceName("8086", "2922") == "AHCI");
}

TEST_CASE("hardware collector lists the PCI devices of the debian fixture with drivers and names") {
  CollectContext ctx = FixtureContext("debian-server");
  ctx.collect_smart = false;
  dozor::v1::Hardware hw;
  Status status = CollectHardware(ctx, &hw);
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
  REQUIRE(hw.pci_devices_size() == 6);
  const dozor::v1::PciDevice& host_bridge = hw.pci_devices(0);
  CHECK(host_bridge.address() == "0000:00:00.0");
  CHECK(host_bridge.class_name() == "Host bridge");
  CHECK(host_bridge.driver().empty());
  CHECK(host_bridge.device_name() == "440FX - 82441FX PMC [Natoma]");
  const dozor::v1::PciDevice& sata = hw.pci_devices(4);
  CHECK(sata.address() == "0000:00:1f.2");
  CHECK(sata.vendor_id() == "8086");
  CHECK(sata.device_id() == "2922");
  CHECK(sata.class_code() == "010601");
  CHECK(sata.class_name() == "SATA controller");
  CHECK(sata.subsystem_vendor_id() == "8086");
  CHECK(sata.subsystem_device_id() == "2922");
  CHECK(sata.driver() == "ahci");
  CHECK(sata.vendor_name() == "Intel Corporation");
  CHECK(sata.device_name() == "82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]");
  const dozor::v1::PciDevice& nic = hw.pci_devices(3);
  CHECK(nic.class_name() == "Ethernet controller");
  CHECK(nic.driver() == "virtio-pci");
  CHECK(nic.device_name() == "Virtio network device");
  const dozor::v1::PciDevice& gpu = hw.pci_devices(5);
  CHECK(gpu.vendor_name() == "NVIDIA Corporation");
  CHECK(gpu.device_name().empty());  // the id is not in this pci.ids
  CHECK(gpu.driver().empty());
}

TEST_CASE("hardware collector without sysfs PCI reports no devices and no error") {
  CollectContext ctx = FixtureContext("minimal-vm");
  dozor::v1::Hardware hw;
  (void)CollectHardware(ctx, &hw);
  CHECK(hw.pci_devices_size() == 0);
}

}  // namespace pci_test
}  // namespace dozor::agent
