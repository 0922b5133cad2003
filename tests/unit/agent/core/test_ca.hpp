// A throw-away self-signed CA (P-256, valid until 2126) for the installer's tests, and its
// fingerprint as the install command carries it: the SHA-256 of its DER encoding, computed with
// `openssl x509 -in ca.crt -outform DER | sha256sum` (not the hash of the PEM text).
#pragma once

namespace dozor::agent {

inline constexpr const char* kTestCaPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhzCCAS2gAwIBAgIUPudAWlmy/4n3YG6hX+ksxK4TXE4wCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNRG96b3IgdGVzdCBDQTAgFw0yNjEyMDQwMDE2MzdaGA8yMTI2\n"
    "MTExMDAwMTYzN1owGDEWMBQGA1UEAwwNRG96b3IgdGVzdCBDQTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABPeR9pZAGsLxRAPBRBtnGlx97AZ7l09PAYRSjMWUS/VL\n"
    "vFKaTS9dEjkJoc6eHctuaezm1jGm41dZmMnBr3afuhKjUzBRMB0GA1UdDgQWBBSZ\n"
    "14RCx4ewKancsOdFZA3Rd3as4TAfBgNVHSMEGDAWgBSZ14RCx4ewKancsOdFZA3R\n"
    "d3as4TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICnLNDGYJRSF\n"
    "YH1/PLluS7JLjUSekBT4l5bpfXbvoGN4AiEA36ojZVtxDRU+8CBcnxBu/R2xWkHa\n"
    "LIOfKME7skBU+xI=\n"
    "-----END CERTIFICATE-----\n";

inline constexpr const char* kTestCaFingerprint =
    "7bf5fac6e116b4e15e8bdd794e157a4cb50ed6816792372d5fdad4d2e2a16b3c";

}  // namespace dozor::agent
