// walctl: read-only inspection of a log directory (tp::wal::Store).
//
//   walctl partitions DIR                      topics and partitions with their offsets
//   walctl dump DIR --topic T --partition P    records, optionally --from O --limit N
//   walctl offsets DIR                         first/next offsets and committed offsets
//   walctl verify DIR                          checks every record and the offsets
//   walctl stats DIR                           records, bytes and backlog, with totals
//
// Every subcommand takes --json. The log is opened as a RocksDB secondary instance, so
// walctl works on the directory of a running broker and never writes to it; it sees
// the log as it was when walctl opened it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tp::walctl {

inline constexpr int kExitOk = 0;
// The command ran but found damage (verify reported corruption or structural problems,
// dump stopped at a corrupt record) or the log could not be read.
inline constexpr int kExitFailed = 1;
// Bad command line, missing directory, not a log directory, unknown partition.
inline constexpr int kExitUsage = 2;

// Runs walctl with `args` (without the program name). Results go to `out`, errors and
// diagnostics to `err`; returns the process exit code. Thread-compatible: it installs
// the process-wide logging options, so concurrent calls should use the same flags.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tp::walctl
