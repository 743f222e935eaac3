// DCGM/Prometheus label strings: the labels_raw column of a DCGM export, e.g.
//   DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="host-1",UUID="GPU-...",gpu="0"
// (as it reads after CSV unquoting; inside the CSV file every quote is doubled).
// Values use the Prometheus text-format escapes \\, \" and \n.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::telemetry {

// Key -> value, ordered by key. DCGM writes labels_raw sorted by key, so formatting a
// Labels reproduces the exporter's own spelling.
using Labels = std::map<std::string, std::string>;

// Parses `key="value"` pairs separated by commas. Spaces around pairs and one trailing
// comma are accepted (Prometheus allows both); an empty or all-space string is an empty
// Labels. Keys follow the Prometheus grammar [a-zA-Z_][a-zA-Z0-9_]*.
// Returns InvalidArgument giving the byte position for a malformed string (missing '=',
// unquoted or unterminated value, unknown escape, duplicate key). Never crashes on any
// input. Thread-safe.
Result<Labels> ParseLabels(std::string_view raw);

// The grammar of ParseLabels without building a map: calls `label` with each key (a
// view into `raw`) and its unescaped value (valid during the call), in the order of
// `raw`. Returns ParseLabels' error for a malformed string, or the first non-OK status
// `label` returns. A duplicate key is reported after every label was handed on, so on
// any error the caller discards what it built.
Status ForEachLabel(
    std::string_view raw,
    const std::function<Status(std::string_view key, std::string_view value)>& label);

// The inverse of ParseLabels: key="value" pairs in key order, values escaped.
std::string FormatLabels(const Labels& labels);

// Escapes a label value for the Prometheus text format (\\, \", \n).
std::string EscapeLabelValue(std::string_view value);

}  // namespace tp::telemetry
