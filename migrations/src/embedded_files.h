// The SQL files of migrations/, compiled in by embed_sql.cmake (build tree:
// embedded_migrations.cc), so that `migrate` works from any directory and in images that
// ship only the binary.
#pragma once

#include <cstddef>

namespace tp::migrate::internal {

struct EmbeddedFile {
  const char* name;  // "0001_create_telemetry.up.sql"
  const unsigned char* data;
  std::size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;

}  // namespace tp::migrate::internal
