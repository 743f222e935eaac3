// Units of DCGM fields, for API answers and dashboards. DCGM itself does not put units
// in its export, so this table follows the DCGM field documentation (dcgm_fields.h).
#pragma once

#include <string_view>

namespace tp::telemetry {

// The unit of a DCGM metric ("C", "W", "MiB", "MHz", "%", "mJ", "B/s", ...), or an empty
// view when the field is unknown or a plain count. Names not in the table fall back to
// their suffix (*_CLOCK -> MHz, *_UTIL -> %, *_TEMP -> C). Thread-safe; the returned
// view points to static storage.
std::string_view MetricUnit(std::string_view metric_name);

}  // namespace tp::telemetry
