#include "tp/temp_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace tp {

Result<TempDir> TempDir::Make(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  return TempDir(std::filesystem::path(tmpl));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty())
    return;
  std::error_code ec;  // best effort: a leftover temp dir is not worth a crash
  std::filesystem::remove_all(path_, ec);
}

}  // namespace tp
