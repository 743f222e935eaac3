#include "tp/testing/postgres_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <grp.h>
#include <pqxx/nontransaction>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tp/pg/connection.h"
#include "tp/pg/error.h"

namespace tp::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kPort = 5432;  // only names the socket file; each server has its own dir

Result<fs::path> FindBinDir() {
  if (const char* env = std::getenv("TP_PG_BIN_DIR"); env != nullptr && *env != '\0') {
    if (fs::exists(fs::path(env) / "initdb"))
      return fs::path(env);
    return Status::Unavailable(std::string("TP_PG_BIN_DIR has no initdb: ") + env);
  }
  // Debian installs versioned trees; take the newest.
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb"))
      continue;
    found.emplace_back(std::atoi(entry.path().filename().c_str()), bin);
  }
  if (!found.empty())
    return std::max_element(found.begin(), found.end())->second;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (!d.empty() && fs::exists(fs::path(d) / "initdb"))
      return fs::path(d);
  }
  return Status::Unavailable(
      "PostgreSQL binaries not found (install postgresql or set TP_PG_BIN_DIR)");
}

std::string Tail(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars)
    return text;
  return "..." + text.substr(text.size() - max_chars);
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 63)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

// Percent-encodes a URI host component ("/tmp/x" -> "%2Ftmp%2Fx").
std::string UriEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    PostgresServerOptions options) {
  if (!IsIdentifier(options.database)) {
    return Status::InvalidArgument("bad database name: " + options.database);
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(options)));
  Status s = server->Init();
  if (!s.ok())
    return s;
  return server;
}

Status PostgresServer::Init() {
  TP_ASSIGN_OR_RETURN(bin_dir_, FindBinDir());
  // Under /tmp, not $TMPDIR: a unix socket path must stay under ~107 bytes.
  std::array<char, 32> tmpl{};
  std::string pattern = "/tmp/tp-pg-XXXXXX";
  std::copy(pattern.begin(), pattern.end(), tmpl.begin());
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::Unavailable("mkdtemp /tmp/tp-pg-XXXXXX failed");
  }
  dir_ = tmpl.data();
  if (::geteuid() == 0) {
    // initdb refuses root; run the server as `postgres` and give it the directory.
    struct passwd pwd {};
    struct passwd* found = nullptr;
    std::array<char, 4096> buf{};
    if (::getpwnam_r("postgres", &pwd, buf.data(), buf.size(), &found) != 0 ||
        found == nullptr) {
      return Status::Unavailable("running as root and there is no `postgres` user");
    }
    as_postgres_user_ = true;
    uid_ = pwd.pw_uid;
    gid_ = pwd.pw_gid;
    if (::chown(dir_.c_str(), uid_, gid_) != 0) {
      return Status::Unavailable("chown " + dir_.string() + " failed");
    }
  }
  TP_RETURN_IF_ERROR(RunTool({"initdb",
                              "-D",
                              data_dir().string(),
                              "--no-sync",
                              "-A",
                              "trust",
                              "-U",
                              "postgres",
                              "-E",
                              "UTF8",
                              "--locale=C",
                              "--no-instructions"},
                             "initdb"));
  {
    std::ofstream conf(data_dir() / "postgresql.conf", std::ios::app);
    conf << "\n# tp::testing::PostgresServer\n"
         << "listen_addresses = ''\n"
         << "unix_socket_directories = '" << dir_.string() << "'\n"
         << "port = " << kPort << "\n"
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "full_page_writes = off\n"
         << "shared_buffers = 32MB\n"
         << "max_connections = 100\n";
    for (const std::string& line : options_.settings)
      conf << line << "\n";
    if (!conf)
      return Status::Unavailable("cannot append to postgresql.conf");
  }
  TP_RETURN_IF_ERROR(Restart());
  auto created = CreateDatabase(options_.database);
  return created.ok() ? Status::Ok() : created.status();
}

PostgresServer::~PostgresServer() {
  if (running_)
    Stop(StopMode::kImmediate).IgnoreError();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status PostgresServer::RunTool(const std::vector<std::string>& args,
                               std::string_view what) const {
  // Everything the child needs is prepared before fork(): the test binary may have
  // threads, and only async-signal-safe calls are allowed between fork and exec.
  std::string tool = (bin_dir_ / args.front()).string();
  std::vector<char*> argv;
  argv.push_back(tool.data());
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (std::string& a : rest)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string cwd = dir_.string();

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return Status::Unavailable("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0)
    return Status::Unavailable("fork failed");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    if (::chdir(cwd.c_str()) != 0)
      ::_exit(126);
    if (as_postgres_user_) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) {
        ::_exit(126);
      }
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string output;
  std::array<char, 4096> buf{};
  for (;;) {
    ssize_t n = ::read(out[0], buf.data(), buf.size());
    if (n <= 0)
      break;
    output.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return Status::Ok();
  return Status::Unavailable(std::string(what) + " failed (status " +
                             std::to_string(status) + "): " + Tail(output, 2000) +
                             " | server log: " + Tail(Log(), 2000));
}

std::string PostgresServer::ConnectionString(std::string_view database) const {
  return "host=" + dir_.string() + " port=" + std::to_string(kPort) +
         " user=postgres dbname=" + std::string(database);
}

std::string PostgresServer::ConnectionUri() const {
  return "postgresql://postgres@" + UriEncode(dir_.string()) + ":" +
         std::to_string(kPort) + "/" + options_.database;
}

Result<std::string> PostgresServer::CreateDatabase(std::string_view name) {
  if (!IsIdentifier(name)) {
    return Status::InvalidArgument("bad database name: " + std::string(name));
  }
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(ConnectionString("postgres")));
  TP_RETURN_IF_ERROR(pg::Call("create database", [&] {
    pqxx::nontransaction tx(*conn);
    tx.exec("CREATE DATABASE " + std::string(name));
  }));
  return ConnectionString(name);
}

Status PostgresServer::Stop(StopMode mode) {
  if (!running_)
    return Status::Ok();
  TP_RETURN_IF_ERROR(RunTool({"pg_ctl",
                              "-D",
                              data_dir().string(),
                              "-m",
                              mode == StopMode::kFast ? "fast" : "immediate",
                              "-w",
                              "-t",
                              "30",
                              "stop"},
                             "pg_ctl stop"));
  running_ = false;
  return Status::Ok();
}

Status PostgresServer::Restart() {
  if (running_)
    return Status::Ok();
  TP_RETURN_IF_ERROR(RunTool({"pg_ctl",
                              "-D",
                              data_dir().string(),
                              "-l",
                              (dir_ / "server.log").string(),
                              "-w",
                              "-t",
                              "30",
                              "start"},
                             "pg_ctl start"));
  running_ = true;
  return Status::Ok();
}

std::string PostgresServer::Log() const {
  std::ifstream in(dir_ / "server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<PostgresServer*> SharedPostgresServer() {
  // Destroyed by static destruction at exit, which stops the server and removes its dir.
  static std::mutex mu;
  static std::unique_ptr<PostgresServer> server;
  static Status failure;
  std::lock_guard lock(mu);
  if (server != nullptr)
    return server.get();
  if (!failure.ok())
    return failure;
  auto started = PostgresServer::Start();
  if (!started.ok()) {
    failure = started.status();
    return failure;
  }
  server = std::move(started).value();
  return server.get();
}

void PostgresTest::SetUp() {
  auto server = SharedPostgresServer();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = *server;
  // Unique per test even with --gtest_repeat; lowercase because CREATE DATABASE folds.
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "t" + std::to_string(counter++) + "_";
  for (char c : std::string(info->test_suite_name()) + "_" + info->name()) {
    name += std::isalnum(static_cast<unsigned char>(c)) != 0
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  name = name.substr(0, 63);
  auto conninfo = server_->CreateDatabase(name);
  ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
  database_ = name;
  conninfo_ = *conninfo;
}

}  // namespace tp::testing
