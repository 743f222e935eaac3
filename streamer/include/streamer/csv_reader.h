// A streaming RFC 4180 CSV reader for DCGM exports (plain or gzip-compressed).
//
// Input is read in fixed-size chunks, never whole, so a multi-gigabyte export streams in
// constant memory (bounded by CsvOptions::max_record_bytes per record). Accepted beyond
// RFC 4180, because real exports have them: unquoted fields, LF or CRLF (or a lone CR)
// line ends, a UTF-8 byte-order mark at the start, a missing final line end. Blank lines
// are skipped (they are never meaningful in a DCGM export). A quote inside an unquoted
// field is kept literally; a character other than ',' or a line end right after a
// closing quote is a malformed record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tp/status.h"

namespace tp::streamer {

struct CsvOptions {
  // A record longer than this is Corruption: it almost always means an unbalanced quote,
  // and the bound keeps memory constant however the file is broken.
  size_t max_record_bytes = 1 << 20;
};

struct CsvRecord {
  std::vector<std::string> fields;
  // 1-based physical line on which the record starts (a record with newlines inside
  // quotes spans several lines; the next record's number accounts for them).
  int64_t line = 0;
};

// Where bytes come from; implemented for files (zlib) and strings.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes; 0 means end of input. IOError on a read failure (including
  // a truncated or corrupt gzip stream).
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

class CsvReader {
 public:
  // Opens `path` for streaming. Files whose content is gzip (any name, usually .csv.gz)
  // are decompressed on the fly; others are read as they are. NotFound if the file does
  // not exist, IOError if it cannot be opened.
  static Result<std::unique_ptr<CsvReader>> Open(const std::filesystem::path& path,
                                                 const CsvOptions& options = {});
  // Reads from memory (tests, text received over HTTP).
  static std::unique_ptr<CsvReader> FromString(std::string data,
                                               const CsvOptions& options = {});
  static std::unique_ptr<CsvReader> FromSource(std::unique_ptr<ByteSource> source,
                                               const CsvOptions& options = {});

  CsvReader(std::unique_ptr<ByteSource> source, const CsvOptions& options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into *record (its fields vector is reused). Returns true with
  // a record, false at the end of input.
  // Errors: InvalidArgument for a malformed record (junk after a closing quote), with
  // record->line set to where it starts; the rest of that line is skipped and the next
  // call continues with the following line. Corruption for an unterminated quote at end
  // of input or a record over max_record_bytes, and IOError from the source, are final
  // (later calls return false); their messages start with "line N: ".
  // Not thread-safe.
  Result<bool> Next(CsvRecord* record);

  // The line number the next record will start on (for messages after the last record).
  int64_t line() const { return line_; }

 private:
  // Refills buf_; false at end of input. Sets status_ on an I/O error.
  bool Fill();
  // The next byte, or -1 at end of input / error.
  int Get();
  int Peek();
  void SkipRestOfLine();

  std::unique_ptr<ByteSource> source_;
  CsvOptions options_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool started_ = false;  // BOM check done
  bool failed_ = false;   // a final error was returned
  Status io_status_;
  int64_t line_ = 1;
};

}  // namespace tp::streamer
