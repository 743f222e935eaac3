#include "streamer/csv_reader.h"

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <zlib.h>

namespace tp::streamer {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;

// gzread reads files that are not gzip unchanged ("transparent" mode), so one source
// serves both plain and compressed exports.
class GzFileSource final : public ByteSource {
 public:
  // `path` only serves to recognise zlib's message prefix.
  GzFileSource(gzFile file, std::string path) : file_(file), path_(std::move(path)) {}
  ~GzFileSource() override { gzclose(file_); }
  GzFileSource(const GzFileSource&) = delete;
  GzFileSource& operator=(const GzFileSource&) = delete;

  Result<size_t> Read(char* buffer, size_t size) override {
    const int n = gzread(file_, buffer, static_cast<unsigned>(size));
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    // A truncated gzip stream returns what it has, then Z_BUF_ERROR.
    if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
      std::string_view why = errnum == Z_ERRNO ? std::strerror(errno) : msg;
      // zlib prefixes its messages with the path; callers add the path themselves.
      const std::string prefix = path_ + ": ";
      if (why.starts_with(prefix))
        why.remove_prefix(prefix.size());
      return Status::IOError("read: " + std::string(why));
    }
    return static_cast<size_t>(n);
  }

 private:
  gzFile file_;
  std::string path_;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    const size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::filesystem::path& path,
                                                   const CsvOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("open " + path.string() + ": no such file");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("open " + path.string() + ": is a directory");
  }
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::IOError("open " + path.string() + ": " +
                           (errno != 0 ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(file, 128 * 1024);
  return FromSource(std::make_unique<GzFileSource>(file, path.string()), options);
}

std::unique_ptr<CsvReader> CsvReader::FromString(std::string data,
                                                 const CsvOptions& options) {
  return FromSource(std::make_unique<StringSource>(std::move(data)), options);
}

std::unique_ptr<CsvReader> CsvReader::FromSource(std::unique_ptr<ByteSource> source,
                                                 const CsvOptions& options) {
  return std::make_unique<CsvReader>(std::move(source), options);
}

CsvReader::CsvReader(std::unique_ptr<ByteSource> source, const CsvOptions& options)
    : source_(std::move(source)), options_(options), buf_(kBufferBytes) {}

CsvReader::~CsvReader() = default;

bool CsvReader::Fill() {
  if (eof_)
    return false;
  if (pos_ == end_) {
    pos_ = 0;
    end_ = 0;
  } else if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  auto n = source_->Read(buf_.data() + end_, buf_.size() - end_);
  if (!n.ok()) {
    io_status_ = n.status();
    eof_ = true;
    return false;
  }
  if (*n == 0) {
    eof_ = true;
    return false;
  }
  end_ += *n;
  return true;
}

int CsvReader::Get() {
  if (pos_ == end_ && !Fill())
    return -1;
  return static_cast<unsigned char>(buf_[pos_++]);
}

int CsvReader::Peek() {
  if (pos_ == end_ && !Fill())
    return -1;
  return static_cast<unsigned char>(buf_[pos_]);
}

void CsvReader::SkipRestOfLine() {
  for (;;) {
    const int c = Get();
    if (c == -1)
      return;
    if (c == '\n') {
      ++line_;
      return;
    }
    if (c == '\r') {
      if (Peek() == '\n')
        Get();
      ++line_;
      return;
    }
  }
}

Result<bool> CsvReader::Next(CsvRecord* record) {
  if (failed_)
    return false;
  auto fail = [&](Status s) -> Result<bool> {
    failed_ = true;
    return s;
  };
  auto at = [&](int64_t line) {
    return "line " + std::to_string(line) + ": ";
  };

  if (!started_) {
    started_ = true;
    while (end_ - pos_ < 3 && Fill()) {
    }
    if (end_ - pos_ >= 3 && std::memcmp(buf_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) {
      pos_ += 3;
    }
  }

  // Blank lines carry no record.
  for (;;) {
    const int c = Peek();
    if (c == '\n') {
      Get();
      ++line_;
    } else if (c == '\r') {
      Get();
      if (Peek() == '\n')
        Get();
      ++line_;
    } else if (c == -1) {
      if (!io_status_.ok())
        return fail(io_status_.WithContext("line " + std::to_string(line_)));
      return false;
    } else {
      break;
    }
  }

  record->line = line_;
  size_t nfields = 0;
  size_t bytes = 0;
  auto next_field = [&]() -> std::string* {
    if (nfields == record->fields.size()) {
      record->fields.emplace_back();
    } else {
      record->fields[nfields].clear();
    }
    return &record->fields[nfields++];
  };
  auto too_long = [&]() {
    return fail(Status::Corruption(at(record->line) + "record longer than " +
                                   std::to_string(options_.max_record_bytes) +
                                   " bytes (unbalanced quote?)"));
  };

  for (;;) {
    std::string* field = next_field();
    int c = Get();
    if (c == '"') {
      for (;;) {
        c = Get();
        if (c == -1) {
          if (!io_status_.ok())
            return fail(io_status_.WithContext("line " + std::to_string(line_)));
          return fail(Status::Corruption(at(record->line) +
                                         "quoted field not closed before end of input"));
        }
        if (c == '"') {
          if (Peek() != '"')
            break;
          Get();
        } else if (c == '\n') {
          ++line_;
        } else if (c == '\r' && Peek() != '\n') {
          ++line_;
        }
        field->push_back(static_cast<char>(c));
        if (++bytes > options_.max_record_bytes)
          return too_long();
      }
      c = Get();
      if (c != ',' && c != '\n' && c != '\r' && c != -1) {
        SkipRestOfLine();
        record->fields.resize(nfields);
        return Status::InvalidArgument(
            "unexpected character after the closing quote of "
            "field " +
            std::to_string(nfields));
      }
    } else {
      while (c != ',' && c != '\n' && c != '\r' && c != -1) {
        field->push_back(static_cast<char>(c));
        if (++bytes > options_.max_record_bytes)
          return too_long();
        c = Get();
      }
    }
    if (c == ',')
      continue;
    if (c == '\r' && Peek() == '\n')
      Get();
    if (c != -1)
      ++line_;
    if (c == -1 && !io_status_.ok())
      return fail(io_status_.WithContext("line " + std::to_string(line_)));
    break;
  }
  record->fields.resize(nfields);
  return true;
}

}  // namespace tp::streamer
