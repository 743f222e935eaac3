// Text helpers of walctl: aligned tables, RFC 3339 times, and byte strings shown as text
// when they are text and as base64 otherwise.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "wal/types.h"

namespace tp::walctl {

// Columns separated by two spaces, padded to the widest cell seen so far; numbers are
// right-aligned. Widths only grow, so a table printed in pages stays aligned as long as
// later pages are not wider.
class Table {
 public:
  struct Column {
    std::string title;
    bool right_align = false;
  };
  explicit Table(std::vector<Column> columns);

  void AddRow(std::vector<std::string> row);
  // Prints the pending rows (and the header if `with_header`), then forgets the rows.
  void Flush(std::ostream& out, bool with_header);

 private:
  void PrintRow(std::ostream& out, const std::vector<std::string>& row) const;

  std::vector<Column> columns_;
  std::vector<size_t> widths_;
  std::vector<std::vector<std::string>> rows_;
};

// "2024-05-01T12:34:56.123456Z"
std::string FormatRfc3339Micros(wal::PublishTime time);

// True if `bytes` is valid UTF-8 without control characters other than tab, CR and LF.
bool IsText(std::string_view bytes);

std::string Base64Encode(std::string_view bytes);

// For table cells: text with \t \r \n \\ escaped, "base64:..." for other bytes, and
// "" for no bytes.
std::string CellForBytes(std::string_view bytes);

}  // namespace tp::walctl
