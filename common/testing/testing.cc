#include "tp/testing/testing.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tp::testing {

TempDir MakeTempDir(const std::string& prefix) {
  auto dir = TempDir::Make(prefix);
  if (!dir.ok())
    throw std::runtime_error(dir.status().ToString());
  return std::move(dir).value();
}

std::filesystem::path BinDir() {
  if (const char* env = std::getenv("TP_BIN_DIR"); env && *env) {  // NOLINT
    return env;
  }
  return std::filesystem::read_symlink("/proc/self/exe").parent_path();
}

namespace {
std::string Drain(int fd) {
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0)
      break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}
}  // namespace

ProcessOutput RunProcess(const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ProcessOutput result;
  std::thread err_reader([&] { result.err = Drain(err_pipe[0]); });
  result.out = Drain(out_pipe[0]);
  err_reader.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind to a loopback port failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string TestLabel(std::string_view text) {
  if (text.empty())
    return "empty";
  std::string out;
  for (const char c : text.substr(0, 48)) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                      c == '+' || c == '.' || c == ':' || c == '/' || c == '=' ||
                      c == ',' || c == '_';
    out.push_back(keep ? c : '_');
  }
  return out;
}

}  // namespace tp::testing
