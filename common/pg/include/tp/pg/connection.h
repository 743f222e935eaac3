// Opening PostgreSQL connections from a --database-url value.
//
// `--database-url` takes anything libpq takes: a key=value connection string
// ("host=/tmp/pg dbname=telemetry user=tp") or a URI
// ("postgresql://tp:secret@db:5432/telemetry?sslmode=disable"). We parse it with libpq
// itself (PQconninfoParse) so that validation and connection agree, then rebuild it as
// key=value pairs with our defaults (connect_timeout, application_name) added where the
// user gave none; appending " connect_timeout=5" to a URI would not work.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <pqxx/connection>

#include "tp/status.h"

namespace tp::pg {

struct ConnectOptions {
  // libpq's connect_timeout, used unless the connection string sets one. libpq's own
  // default is to wait forever on an unreachable host.
  std::chrono::seconds connect_timeout{5};
  // Shown in pg_stat_activity; used unless the connection string sets one. Empty: none.
  std::string application_name;
};

// Checks that `conninfo` is a connection string or URI libpq accepts, without connecting.
// Errors: kInvalidArgument naming the problem (empty string, unknown keyword, bad URI).
Status ValidateConnectionString(std::string_view conninfo);

// `conninfo` with the password replaced by "***", in key=value form, for logs and error
// messages. An unparsable string becomes "<invalid connection string>".
std::string RedactConnectionString(std::string_view conninfo);

// `conninfo` in key=value form with the defaults of `options` added (see file comment).
// Errors: as ValidateConnectionString.
Result<std::string> NormalizeConnectionString(std::string_view conninfo,
                                              const ConnectOptions& options = {});

// Opens a connection. Blocks up to connect_timeout per host.
// Errors: kInvalidArgument for a bad string; kUnavailable when the server cannot be
// reached or refuses us (the message is libpq's, which never contains the password).
// Thread-safety: the returned connection must be used by one thread at a time.
Result<std::unique_ptr<pqxx::connection>> Connect(std::string_view conninfo,
                                                  const ConnectOptions& options = {});

}  // namespace tp::pg
