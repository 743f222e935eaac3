// Which partitions this reader owns: its ordinal among the current number of readers,
// from a static flag pair, a JSON file (re-read on change) or the DNS records of a
// headless Service. The Reader polls Membership::Current() from its own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tp/status.h"

namespace tp::broker {

struct Assignment {
  uint32_t ordinal = 0;
  uint32_t replicas = 1;
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// Half-open partition range [begin, end).
struct PartitionRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool Contains(uint32_t p) const { return p >= begin && p < end; }
  uint32_t size() const { return end - begin; }
  friend bool operator==(const PartitionRange&, const PartitionRange&) = default;
};

// The range of ordinal i of M over P partitions: [floor(P*i/M), floor(P*(i+1)/M)).
// Over i = 0..M-1 the ranges cover every partition exactly once. Requires i < M, M > 0.
PartitionRange RangeFor(const Assignment& assignment, uint32_t partitions);

// InvalidArgument unless replicas >= 1 and ordinal < replicas.
Status ValidateAssignment(const Assignment& assignment);

// "broker-reader-3" -> 3. InvalidArgument when the name has no "-N" suffix.
Result<uint32_t> OrdinalFromHostname(std::string_view hostname);

// Parses {"ordinal":N,"replicas":M}; InvalidArgument naming the field otherwise.
Result<Assignment> ParseAssignmentJson(std::string_view text);

// Thread-safety: Current() is called from one thread at a time (the Reader's membership
// thread); it may block briefly (file read, DNS lookup).
class Membership {
 public:
  virtual ~Membership() = default;
  // The assignment now. An error means "unknown right now": the Reader keeps the last
  // good assignment (and logs).
  virtual Result<Assignment> Current() = 0;
  // For logs: "static 0/1", "file /etc/reader/membership.json", "dns readers.ns.svc".
  virtual std::string Describe() const = 0;
};

// --ordinal N --replicas M.
std::unique_ptr<Membership> StaticMembership(Assignment assignment);

// A JSON file {"ordinal":N,"replicas":M}, re-read when its modification time or size
// changes. Missing or invalid content: the last good assignment is returned (the error
// is logged once per change); before any good content, the error.
std::unique_ptr<Membership> FileMembership(std::filesystem::path path);

// Resolves to the addresses of every ready pod of a headless Service.
using Resolver = std::function<Result<std::vector<std::string>>(const std::string& name)>;
// getaddrinfo(name), distinct addresses as text. Blocking.
Result<std::vector<std::string>> ResolveAll(const std::string& name);

// The writers behind `--writers dns:NAME:PORT`: every address of NAME (a headless
// Service has one per ready pod), each reached on PORT.
struct DnsWriters {
  std::string name;
  uint16_t port = 0;
};

// "dns:NAME:PORT" -> {NAME, PORT}. InvalidArgument naming the expected form otherwise.
Result<DnsWriters> ParseDnsWriters(std::string_view spec);

// Base URLs "http://ADDR:PORT" (IPv6 addresses in brackets) of every distinct address
// `resolver` (default ResolveAll) gives for `writers.name`, sorted. A lookup error is
// returned as is; an answer with no address is Unavailable. Blocking.
Result<std::vector<std::string>> ResolveWriterUrls(const DnsWriters& writers,
                                                   const Resolver& resolver = {});

// DNS of a headless Service: replicas = number of distinct records of `name`, ordinal =
// the "-N" suffix of `hostname` (gethostname() when empty). An ordinal >= replicas (DNS
// not caught up yet) or a failed lookup returns the last good assignment; before any,
// the error. `resolver` defaults to ResolveAll.
std::unique_ptr<Membership> DnsMembership(std::string name,
                                          std::string hostname = {},
                                          Resolver resolver = {});

}  // namespace tp::broker
