// A directory under $TMPDIR (or /tmp) removed with everything in it when the object dies.
#pragma once

#include <filesystem>
#include <string_view>

#include "tp/status.h"

namespace tp {

class TempDir {
 public:
  // Creates "<tmp>/<prefix>XXXXXX".
  static Result<TempDir> Make(std::string_view prefix);

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace tp
