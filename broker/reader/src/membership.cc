#include "broker/membership.h"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <arpa/inet.h>
#include <netdb.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include "tp/log.h"

namespace tp::broker {

PartitionRange RangeFor(const Assignment& assignment, uint32_t partitions) {
  const uint64_t p = partitions;
  const uint64_t m = assignment.replicas == 0 ? 1 : assignment.replicas;
  const uint64_t i = assignment.ordinal;
  if (i >= m) {
    return {partitions, partitions};
  }
  return {static_cast<uint32_t>(p * i / m), static_cast<uint32_t>(p * (i + 1) / m)};
}

Status ValidateAssignment(const Assignment& a) {
  if (a.replicas == 0) {
    return Status::InvalidArgument("replicas must be at least 1");
  }
  if (a.ordinal >= a.replicas) {
    return Status::InvalidArgument("ordinal " + std::to_string(a.ordinal) +
                                   " is not below replicas " +
                                   std::to_string(a.replicas));
  }
  return Status::Ok();
}

Result<uint32_t> OrdinalFromHostname(std::string_view hostname) {
  const auto dash = hostname.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= hostname.size()) {
    return Status::InvalidArgument("hostname '" + std::string(hostname) +
                                   "' has no -N ordinal suffix");
  }
  std::string_view digits = hostname.substr(dash + 1);
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return Status::InvalidArgument("hostname '" + std::string(hostname) +
                                   "' has no -N ordinal suffix");
  }
  return value;
}

Result<Assignment> ParseAssignmentJson(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("membership: not a JSON object");
  }
  Assignment out;
  for (const char* field : {"ordinal", "replicas"}) {
    auto it = doc.find(field);
    if (it == doc.end()) {
      return Status::InvalidArgument(std::string("membership: missing field ") + field);
    }
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 1000000) {
      return Status::InvalidArgument(std::string("membership: field ") + field +
                                     " must be a non-negative integer");
    }
    (std::string_view(field) == "ordinal" ? out.ordinal : out.replicas) =
        static_cast<uint32_t>(it->get<uint64_t>());
  }
  TP_RETURN_IF_ERROR(ValidateAssignment(out).WithContext("membership"));
  return out;
}

namespace {

class StaticMembershipImpl final : public Membership {
 public:
  explicit StaticMembershipImpl(Assignment a) : a_(a) {}
  Result<Assignment> Current() override {
    TP_RETURN_IF_ERROR(ValidateAssignment(a_));
    return a_;
  }
  std::string Describe() const override {
    return "static " + std::to_string(a_.ordinal) + "/" + std::to_string(a_.replicas);
  }

 private:
  Assignment a_;
};

class FileMembershipImpl final : public Membership {
 public:
  explicit FileMembershipImpl(std::filesystem::path path) : path_(std::move(path)) {}

  // The file is tiny: read it on every poll and parse only when the bytes changed (an
  // mtime can repeat within its granularity when a file is rewritten quickly).
  Result<Assignment> Current() override {
    std::ifstream in(path_);
    if (!in) {
      return Fallback(
          Status::NotFound("membership file " + path_.string() + " cannot be opened"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string content = buffer.str();
    if (seen_ && content == content_) {
      return last_good_ ? Result<Assignment>(*last_good_)
                        : Result<Assignment>(last_error_);
    }
    seen_ = true;
    content_ = std::move(content);
    auto parsed = ParseAssignmentJson(content_);
    if (!parsed.ok()) {
      Status error = parsed.status().WithContext(path_.string());
      SPDLOG_LOGGER_WARN(Logger("broker.reader"),
                         "invalid membership file, keeping the last good assignment: {}",
                         error.ToString());
      last_error_ = error;
      return last_good_ ? Result<Assignment>(*last_good_) : Result<Assignment>(error);
    }
    last_good_ = *parsed;
    return *parsed;
  }
  std::string Describe() const override { return "file " + path_.string(); }

 private:
  Result<Assignment> Fallback(Status error) {
    seen_ = false;
    if (last_good_) {
      return *last_good_;
    }
    return error;
  }

  std::filesystem::path path_;
  bool seen_ = false;
  std::string content_;
  std::optional<Assignment> last_good_;
  Status last_error_ = Status::Unavailable("membership file not read yet");
};

class DnsMembershipImpl final : public Membership {
 public:
  DnsMembershipImpl(std::string name, std::string hostname, Resolver resolver)
      : name_(std::move(name)),
        hostname_(std::move(hostname)),
        resolver_(std::move(resolver)) {
    if (!resolver_) {
      resolver_ = ResolveAll;
    }
    if (hostname_.empty()) {
      char buf[256] = {};
      if (gethostname(buf, sizeof(buf) - 1) == 0) {
        hostname_ = buf;
      }
    }
  }

  Result<Assignment> Current() override {
    auto ordinal = OrdinalFromHostname(hostname_);
    if (!ordinal.ok()) {
      return ordinal.status();
    }
    auto records = resolver_(name_);
    if (!records.ok()) {
      return Fallback(records.status().WithContext("membership dns " + name_));
    }
    std::set<std::string> distinct(records->begin(), records->end());
    Assignment a{*ordinal, static_cast<uint32_t>(distinct.size())};
    Status valid = ValidateAssignment(a);
    if (!valid.ok()) {
      return Fallback(valid.WithContext("membership dns " + name_));
    }
    last_good_ = a;
    return a;
  }
  std::string Describe() const override { return "dns " + name_ + " as " + hostname_; }

 private:
  Result<Assignment> Fallback(Status error) {
    if (last_good_) {
      return *last_good_;
    }
    return error;
  }

  std::string name_;
  std::string hostname_;
  Resolver resolver_;
  std::optional<Assignment> last_good_;
};

}  // namespace

Result<std::vector<std::string>> ResolveAll(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    return Status::Unavailable("resolve " + name + ": " + gai_strerror(rc));
  }
  std::set<std::string> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = nullptr;
    if (ai->ai_family == AF_INET) {
      addr = &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
      addr = &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    }
    if (addr != nullptr &&
        inet_ntop(ai->ai_family, addr, text, sizeof(text)) != nullptr) {
      out.insert(text);
    }
  }
  freeaddrinfo(res);
  return std::vector<std::string>(out.begin(), out.end());
}

Result<DnsWriters> ParseDnsWriters(std::string_view spec) {
  auto bad = [&] {
    return Status::InvalidArgument("--writers dns: form is dns:NAME:PORT, got '" +
                                   std::string(spec) + "'");
  };
  if (spec.rfind("dns:", 0) != 0) {
    return bad();
  }
  const std::string_view rest = spec.substr(4);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return bad();
  }
  const std::string_view digits = rest.substr(colon + 1);
  uint32_t port = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port == 0 ||
      port > 65535) {
    return bad();
  }
  return DnsWriters{std::string(rest.substr(0, colon)), static_cast<uint16_t>(port)};
}

Result<std::vector<std::string>> ResolveWriterUrls(const DnsWriters& writers,
                                                   const Resolver& resolver) {
  auto addresses = resolver ? resolver(writers.name) : ResolveAll(writers.name);
  if (!addresses.ok()) {
    return addresses.status();
  }
  std::set<std::string> urls;
  for (const std::string& a : *addresses) {
    const bool v6 = a.find(':') != std::string::npos;
    urls.insert("http://" + (v6 ? "[" + a + "]" : a) + ":" +
                std::to_string(writers.port));
  }
  if (urls.empty()) {
    return Status::Unavailable("resolve " + writers.name + ": no addresses");
  }
  return std::vector<std::string>(urls.begin(), urls.end());
}

std::unique_ptr<Membership> StaticMembership(Assignment assignment) {
  return std::make_unique<StaticMembershipImpl>(assignment);
}

std::unique_ptr<Membership> FileMembership(std::filesystem::path path) {
  return std::make_unique<FileMembershipImpl>(std::move(path));
}

std::unique_ptr<Membership> DnsMembership(std::string name,
                                          std::string hostname,
                                          Resolver resolver) {
  return std::make_unique<DnsMembershipImpl>(
      std::move(name), std::move(hostname), std::move(resolver));
}

}  // namespace tp::broker
