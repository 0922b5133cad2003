// dozorctl: operator CLI for the Dozor management API. All logic lives in the dozor_ctl library.
#include <iostream>

#include "ctl/cli.hpp"

int main(int argc, char** argv) { return dozor::ctl::RunCli(argc, argv, std::cout, std::cerr); }
