// Finding migrations: file-name parsing shared by the embedded copy and --migrations-dir.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "embedded_files.h"
#include "tp/migrate/migrate.h"

namespace tp::migrate {
namespace {

struct ParsedName {
  Version version;
  std::string name;
  bool up = false;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "0001_create_telemetry.up.sql" -> {1, "create_telemetry", up}. golang-migrate's pattern
// is ^([0-9]+)_(.*)\.(down|up)\.(.*)$; we also require the .sql extension and a name.
Result<ParsedName> ParseName(std::string_view file) {
  ParsedName parsed;
  std::string_view rest = file;
  if (EndsWith(rest, ".up.sql")) {
    parsed.up = true;
    rest.remove_suffix(7);
  } else if (EndsWith(rest, ".down.sql")) {
    rest.remove_suffix(9);
  } else {
    return Status::InvalidArgument(
        "migration file name must end in .up.sql or .down.sql: " + std::string(file));
  }
  std::size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 18 || digits + 1 >= rest.size() || rest[digits] != '_') {
    return Status::InvalidArgument(
        "migration file name must look like NNNN_name.up.sql: " + std::string(file));
  }
  parsed.version =
      Version(std::strtoll(std::string(rest.substr(0, digits)).c_str(), nullptr, 10));
  parsed.name = std::string(rest.substr(digits + 1));
  return parsed;
}

}  // namespace

Result<std::vector<Migration>> ParseMigrations(
    const std::vector<std::pair<std::string, std::string>>& files) {
  struct Halves {
    std::string name;
    std::optional<std::string> up;
    std::optional<std::string> down;
  };
  std::map<Version, Halves> by_version;
  for (const auto& [file, contents] : files) {
    TP_ASSIGN_OR_RETURN(ParsedName parsed, ParseName(file));
    Halves& h = by_version[parsed.version];
    if (!h.name.empty() && h.name != parsed.name) {
      return Status::InvalidArgument("two names for migration version " +
                                     std::to_string(parsed.version.value()) + ": " +
                                     h.name + " and " + parsed.name);
    }
    h.name = parsed.name;
    std::optional<std::string>& slot = parsed.up ? h.up : h.down;
    if (slot.has_value()) {
      return Status::InvalidArgument("duplicate migration file " + file);
    }
    slot = contents;
  }
  std::vector<Migration> out;
  for (auto& [version, h] : by_version) {
    if (!h.up.has_value() || !h.down.has_value()) {
      return Status::InvalidArgument("migration " + std::to_string(version.value()) +
                                     "_" + h.name + " needs both .up.sql and .down.sql");
    }
    out.push_back(Migration{version, h.name, std::move(*h.up), std::move(*h.down)});
  }
  return out;  // std::map iterates in version order
}

Result<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound("migrations directory not found: " + dir.string());
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!EndsWith(name, ".sql"))
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in)
      return Status::IOError("cannot read " + entry.path().string());
    files.emplace_back(name, contents.str());
  }
  if (ec)
    return Status::IOError("cannot list " + dir.string() + ": " + ec.message());
  return ParseMigrations(files);
}

const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration> migrations = [] {
    std::vector<std::pair<std::string, std::string>> files;
    for (std::size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
      const internal::EmbeddedFile& f = internal::kEmbeddedFiles[i];
      files.emplace_back(f.name,
                         std::string(reinterpret_cast<const char*>(f.data), f.size));
    }
    auto parsed = ParseMigrations(files);
    if (!parsed.ok()) {
      // The build embedded a broken set; migrations_test catches this before release.
      std::fprintf(stderr,
                   "embedded migrations are invalid: %s\n",
                   parsed.status().ToString().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return migrations;
}

}  // namespace tp::migrate
