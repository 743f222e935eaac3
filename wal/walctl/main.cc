// walctl: read-only inspection of a log directory; see walctl/walctl.h and
// docs/WALCTL.md. Exit status: 0 ok; 1 damage found or the log could not be read;
// 2 bad command line, missing or non-log directory, unknown partition.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "walctl/walctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return tp::walctl::Run(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "walctl: " << e.what() << '\n';
    return tp::walctl::kExitFailed;
  }
}
